"""Speaks the reply while it is still being written: sentences go to the voice as they end."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable

from voice_agent.agent._events import AudioChunkEvent, Event, ReplyTextEvent
from voice_agent.log import get_logger
from voice_agent.models import TextToSpeech, TTSInstruction

__all__ = ["Speaker"]

log = get_logger(__name__)
_SENTENCE_END = re.compile(r"[.!?](?=\s)|[。！？]|\n")
"""Where a sentence ends: Latin punctuation before a space, Chinese full-width punctuation
(written without a space after it), a line break."""


class Speaker:
    """Buffers reply text, cuts it into sentences and renders them in order in a task.

    Args:
        tts: the voice; None to emit text only.
        instruction: how to sound.
        emit: receives ReplyText and AudioChunk events.
        max_sentences: stop speaking after this many (a policy's length cap).
    """

    def __init__(
        self,
        tts: TextToSpeech | None,
        instruction: TTSInstruction,
        emit: Callable[[Event], None],
        max_sentences: int | None = None,
    ) -> None:
        self.tts, self.instruction, self.emit = tts, instruction, emit
        self.max_sentences = max_sentences
        self.spoken: list[str] = []
        self.first_audio_at: float | None = None
        self._buffer = ""
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._task = asyncio.create_task(self._speak())

    def feed(self, text: str) -> None:
        """Take more reply text; complete sentences are queued for the voice."""
        self._buffer += text
        while (match := _SENTENCE_END.search(self._buffer)) is not None:
            sentence, self._buffer = self._buffer[: match.end()], self._buffer[match.end() :]
            self.say(sentence)

    def say(self, sentence: str) -> None:
        """Queue a whole sentence (used for questions and acknowledgements too)."""
        sentence = " ".join(sentence.split())
        if not sentence:
            return
        if self.max_sentences is not None and len(self.spoken) >= self.max_sentences:
            log.info("agent.reply_capped", max_sentences=self.max_sentences)
            return
        self.spoken.append(sentence)
        self._queue.put_nowait(sentence)

    async def close(self) -> None:
        """Flush what is left and wait until everything has been spoken."""
        if self._buffer.strip():
            self.say(self._buffer)
        self._buffer = ""
        self._queue.put_nowait(None)
        await self._task

    def cancel(self) -> None:
        """Stop at once (barge-in)."""
        self._task.cancel()

    @property
    def text(self) -> str:
        """Everything queued to be said."""
        return " ".join(self.spoken)

    async def _speak(self) -> None:
        index = 0
        while (sentence := await self._queue.get()) is not None:
            self.emit(ReplyTextEvent(text=sentence))
            if self.tts is None:
                continue
            try:
                async for chunk in self.tts.synthesize(sentence, self.instruction):
                    if self.first_audio_at is None:
                        self.first_audio_at = time.perf_counter()
                    self.emit(AudioChunkEvent(audio=chunk.audio, index=index))
                    index += 1
            except Exception as e:  # a voice failure must not end the session
                log.warning("agent.tts_failed", error=str(e)[:200])
