"""A voice that falls back to another when the first cannot speak (wrapper, not subclass)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from voice_agent.audio import AudioError
from voice_agent.errors import ModelLoadError
from voice_agent.log import get_logger
from voice_agent.models.protocols import AudioChunk, TextToSpeech, TTSInstruction, load_voice

__all__ = ["FallbackTTS"]

log = get_logger(__name__)


class FallbackTTS:
    """Speak with ``primary``; if it fails before its first chunk, speak with ``fallback``.

    A failure after audio has started is re-raised: switching voices mid-sentence would be
    worse than stopping.
    """

    def __init__(self, primary: TextToSpeech, fallback: TextToSpeech) -> None:
        self.primary, self.fallback = primary, fallback
        self.name = f"{primary.name}|{fallback.name}"
        self.sample_rate = primary.sample_rate

    def load(self) -> None:
        """Load the primary voice now, so the first reply does not wait for it (~0.4 s for
        Piper on 2 cores, measured in the one-shot ``voice-agent run``). A primary that cannot
        load is left to :meth:`synthesize`, which falls back and says why."""
        try:
            load_voice(self.primary)
        except (ModelLoadError, OSError, RuntimeError) as e:
            log.warning("tts.preload_failed", voice=self.primary.name, error=str(e)[:200])

    async def synthesize(
        self, text: str, instruction: TTSInstruction | None = None
    ) -> AsyncIterator[AudioChunk]:
        """Chunks from the primary voice, or all from the fallback if the primary fails."""
        started = False
        try:
            async for chunk in self.primary.synthesize(text, instruction):
                started = True
                yield chunk
            return
        except (ModelLoadError, AudioError, OSError, RuntimeError) as e:
            if started or (isinstance(e, AudioError) and not text.strip()):
                raise
            log.warning(
                "tts.fallback",
                primary=self.primary.name,
                fallback=self.fallback.name,
                error=str(e)[:200],
            )
        async for chunk in self.fallback.synthesize(text, instruction):
            yield chunk
