"""Understanding as a cascade: speech recognition, then a text model with tools."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator

from voice_agent.log import get_logger
from voice_agent.models.protocols import (
    EmotionEstimator,
    Perception,
    SpeechRecognizer,
    TextModel,
    Understanding,
    UnderstandingRequest,
)

__all__ = ["CascadeUnderstanding"]

log = get_logger(__name__)


class CascadeUnderstanding:
    """ASR → text LLM (→ emotion), behind the same interface as a speech-native model.

    Args:
        asr: transcribes speech turns.
        llm: answers the transcript, with tools.
        emotion: optional estimator run on the audio and transcript.
    """

    def __init__(
        self, asr: SpeechRecognizer, llm: TextModel, emotion: EmotionEstimator | None = None
    ) -> None:
        self.asr, self.llm, self.emotion = asr, llm, emotion
        self.name = f"{asr.name}+{llm.name}"

    async def perceive(self, request: UnderstandingRequest) -> Perception:
        """What was said and how (transcript, emotion), before any reply is generated, so that
        a policy can choose the reply's style first."""
        timings: dict[str, float] = {}
        transcript = request.text or ""
        if request.audio is not None:
            start = time.perf_counter()
            transcript = (await self.asr.transcribe(request.audio, request.asr_hints)).text
            timings["asr"] = (time.perf_counter() - start) * 1000
        emotion = None
        if self.emotion is not None and transcript.strip():
            start = time.perf_counter()
            speaker = str(request.metadata.get("session_id", "default"))
            emotion = await self.emotion.estimate(request.audio, transcript, speaker)
            timings["emotion"] = (time.perf_counter() - start) * 1000
        return Perception(transcript=transcript, emotion=emotion, timings_ms=timings)

    async def respond(self, request: UnderstandingRequest) -> AsyncIterator[str]:
        """The reply to a text turn (a transcript), token by token."""
        stream = getattr(self.llm, "stream", None)
        if stream is None:
            yield await self.llm.complete(request)
            return
        tokens = stream(request)
        try:
            async for token in tokens:
                yield token
        finally:  # a consumer that stops early (barge-in) stops the generation now, not at GC
            close = getattr(tokens, "aclose", None)
            if close is not None:
                await close()

    async def understand(self, request: UnderstandingRequest) -> Understanding:
        """Transcribe (for speech), then ask the LLM."""
        timings: dict[str, float] = {}
        transcript = None
        text = request.text
        if request.audio is not None:
            start = time.perf_counter()
            transcript = (await self.asr.transcribe(request.audio, request.asr_hints)).text
            timings["asr"] = (time.perf_counter() - start) * 1000
            text = transcript
        if not text or not text.strip():
            log.info("understanding.nothing_said", backend=self.name)
            return Understanding(output="", transcript=transcript, timings_ms=timings)
        start = time.perf_counter()
        output = await self.llm.complete(dataclasses.replace(request, text=text))
        timings["llm"] = (time.perf_counter() - start) * 1000
        emotion = None
        if self.emotion is not None:
            start = time.perf_counter()
            speaker = str(request.metadata.get("session_id", "default"))
            emotion = await self.emotion.estimate(request.audio, text, speaker)
            timings["emotion"] = (time.perf_counter() - start) * 1000
        return Understanding(
            output=output, transcript=transcript, emotion=emotion, timings_ms=timings
        )
