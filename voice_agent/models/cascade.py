"""Understanding as a cascade: speech recognition, then a text model with tools.

The reply is asked for in the user's language: the recognizer's detected language for speech,
the script of the text otherwise (:mod:`voice_agent.models._language`). The instruction joins the
turn's ``system`` text, which the text model puts after its cached prefix (system text, tools,
shown exchange), so the prefix stays as it is, and an English turn's prompt is unchanged.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

from voice_agent.audio import Audio
from voice_agent.log import get_logger
from voice_agent.models._language import reply_language_instruction, text_language
from voice_agent.models.protocols import (
    AudioEvent,
    AudioEventDetector,
    ConversationalModel,
    EmotionEstimator,
    Perception,
    SpeechRecognizer,
    TextModel,
    TextModelCapabilities,
    Transcript,
    Understanding,
    UnderstandingCapabilities,
    UnderstandingRequest,
)

__all__ = ["CascadeUnderstanding", "ReadsTranscripts", "in_users_language"]

log = get_logger(__name__)


def in_users_language(request: UnderstandingRequest) -> UnderstandingRequest:
    """``request`` with the reply-language instruction added to its ``system`` text, when the
    user's language is known and not English (the same request otherwise)."""
    language = request.language
    if language is None:
        said = request.text or next(
            (m.content for m in reversed(request.history) if m.role == "user"), ""
        )
        language = text_language(said)
    instruction = reply_language_instruction(language)
    if not instruction:
        return request
    system = f"{request.system}\n\n{instruction}" if request.system else instruction
    return dataclasses.replace(request, system=system, language=language)


class CascadeUnderstanding:
    """ASR → text LLM (→ emotion), behind the same interface as a speech-native model.

    Args:
        asr: transcribes speech turns.
        llm: answers the transcript, with tools.
        emotion: optional estimator run on the audio and transcript.
        events: optional detector of the sounds in the audio (laughter, an alarm …), run
            beside the recognizer.
    """

    def __init__(
        self,
        asr: SpeechRecognizer,
        llm: TextModel,
        emotion: EmotionEstimator | None = None,
        events: AudioEventDetector | None = None,
    ) -> None:
        self.asr, self.llm, self.emotion, self.events = asr, llm, emotion, events
        self.name = f"{asr.name}+{llm.name}"
        self.capabilities = UnderstandingCapabilities(
            streaming=llm.capabilities.streaming, audio_in=False
        )
        """It streams as its text model does; its reply reads the transcript, not the audio."""

    async def warm_up(self, tools: Sequence[Mapping[str, Any]] = ()) -> None:
        """Warm the text model and the sound detector (the speech recognizer loads beside the
        first turn's hearing, which needs it first)."""
        if self.events is None:
            await self.llm.warm_up(tools)
        else:
            await asyncio.gather(self.llm.warm_up(tools), self.events.warm_up())

    async def _hear(
        self, audio: Audio, request: UnderstandingRequest, timings: dict[str, float]
    ) -> Transcript:
        start = time.perf_counter()
        heard = await self.asr.transcribe(audio, request.asr_hints)
        timings["asr"] = (time.perf_counter() - start) * 1000
        return heard

    @staticmethod
    async def _sounds(
        detector: AudioEventDetector, audio: Audio, timings: dict[str, float]
    ) -> tuple[AudioEvent, ...]:
        start = time.perf_counter()
        found = await detector.detect(audio)
        timings["audio_events"] = (time.perf_counter() - start) * 1000
        return found

    async def perceive(self, request: UnderstandingRequest) -> Perception:
        """What was said and how (transcript, emotion), before any reply is generated, so that
        a policy can choose the reply's style first."""
        timings: dict[str, float] = {}
        transcript, language = request.text or "", request.language
        sounds: tuple[AudioEvent, ...] | None = None
        if request.audio is not None:
            hearing = self._hear(request.audio, request, timings)
            if self.events is None:
                heard = await hearing
            else:  # beside the recognizer: the detector is small, and both wait on threads
                heard, sounds = await asyncio.gather(
                    hearing, self._sounds(self.events, request.audio, timings)
                )
            transcript, language = heard.text, heard.language or language
        emotion = None
        if self.emotion is not None and transcript.strip():
            start = time.perf_counter()
            speaker = str(request.metadata.get("session_id", "default"))
            emotion = await self.emotion.estimate(request.audio, transcript, speaker)
            timings["emotion"] = (time.perf_counter() - start) * 1000
        return Perception(
            transcript=transcript,
            emotion=emotion,
            timings_ms=timings,
            language=language,
            events=sounds,
        )

    async def respond(self, request: UnderstandingRequest) -> AsyncGenerator[str, None]:
        """The reply to a text turn (a transcript), as the text model streams it."""
        tokens = self.llm.stream(in_users_language(request))
        try:
            async for token in tokens:
                yield token
        finally:  # a consumer that stops early (barge-in) stops the generation now, not at GC
            await tokens.aclose()

    async def understand(self, request: UnderstandingRequest) -> Understanding:
        """Transcribe (for speech), then ask the LLM."""
        timings: dict[str, float] = {}
        transcript = None
        text, language = request.text, request.language
        if request.audio is not None:
            start = time.perf_counter()
            heard = await self.asr.transcribe(request.audio, request.asr_hints)
            transcript, language = heard.text, heard.language or language
            timings["asr"] = (time.perf_counter() - start) * 1000
            text = transcript
        if not text or not text.strip():
            log.info("understanding.nothing_said", backend=self.name)
            return Understanding(output="", transcript=transcript, timings_ms=timings)
        start = time.perf_counter()
        asked = in_users_language(dataclasses.replace(request, text=text, language=language))
        output = await self.llm.complete(asked)
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


class ReadsTranscripts:
    """A conversational model (Fun-Audio-Chat) as a cascade's text model: it reads what the
    recognizer heard instead of hearing the audio itself.

    The gpu profile with ``--sensevoice`` puts SenseVoice in front of Fun-Audio-Chat: one
    non-autoregressive pass gives the words, the emotion and the audio event, and the 8B model
    only answers the transcript, as the text LLM of any cascade would.
    """

    capabilities = TextModelCapabilities(streaming=True)

    def __init__(self, model: ConversationalModel) -> None:
        self.model = model
        self.name = model.name

    async def warm_up(self, tools: Sequence[Mapping[str, Any]] = ()) -> None:
        """Warm the model (weights, the tools' grammar)."""
        await self.model.warm_up(tools)

    async def stream(self, request: UnderstandingRequest) -> AsyncGenerator[str, None]:
        """The model's reply to the request's text and history, never to audio."""
        pieces = self.model.respond(dataclasses.replace(request, audio=None))
        try:
            async for piece in pieces:
                yield piece
        finally:
            await pieces.aclose()

    async def complete(self, request: UnderstandingRequest) -> str:
        """The whole reply."""
        return "".join([piece async for piece in self.stream(request)])
