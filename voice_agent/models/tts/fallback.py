"""A voice that falls back to another when the first cannot speak (wrapper, not subclass)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from voice_agent.audio import AudioError
from voice_agent.errors import ModelLoadError
from voice_agent.log import get_logger
from voice_agent.models._fingerprint import combined
from voice_agent.models.protocols import AudioChunk, TextToSpeech, TTSInstruction

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

    @property
    def fingerprint(self) -> str:
        """Both voices': either may have spoken a cached text."""
        return combined(self.primary.fingerprint, self.fallback.fingerprint)

    async def warm_up(self) -> None:
        """Warm both voices; a primary that cannot load is logged (its turns will fall back,
        which is what this wrapper is for), not raised."""
        try:
            await self.primary.warm_up()
        except (ModelLoadError, AudioError, OSError, RuntimeError) as e:
            log.warning("tts.warm_up_failed", primary=self.primary.name, error=str(e)[:200])
        await self.fallback.warm_up()

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
