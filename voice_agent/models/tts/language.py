"""A voice per language: the reply's script picks who speaks it (wrapper, not subclass)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping

from voice_agent.log import get_logger
from voice_agent.models._fingerprint import combined
from voice_agent.models._language import text_language
from voice_agent.models.protocols import AudioChunk, TextToSpeech, TTSInstruction

__all__ = ["LanguageTTS"]

log = get_logger(__name__)


class LanguageTTS:
    """Speak each reply with the voice of its language, ``default`` for the rest.

    An English voice cannot read Chinese characters (Piper's phonemizer spells them out as
    "Chinese letter"), so a reply in Chinese goes to a Mandarin voice. The language is read from
    the reply's own script (:func:`voice_agent.models._language.text_language`), since the reply,
    not the user's turn, is what is spoken.

    Args:
        voices: voice by language code (``{"zh": EspeakTTS(voice="cmn")}``).
        default: the voice of any other text.
    """

    def __init__(self, voices: Mapping[str, TextToSpeech], default: TextToSpeech) -> None:
        self.voices, self.default = dict(voices), default
        self.name = "|".join([default.name, *(f"{k}:{v.name}" for k, v in self.voices.items())])
        self.sample_rate = default.sample_rate

    @property
    def fingerprint(self) -> str:
        """Every voice's, with the language it speaks."""
        voices = (f"{k}:{v.fingerprint}" for k, v in sorted(self.voices.items()))
        return combined(self.default.fingerprint, *voices)

    async def warm_up(self) -> None:
        """Warm every voice (any of them may speak the first reply)."""
        await asyncio.gather(self.default.warm_up(), *(v.warm_up() for v in self.voices.values()))

    def voice_for(self, text: str, language: str | None = None) -> TextToSpeech:
        """The voice that speaks ``text``: by its script, else, for text without letters
        (``21.``), by the turn's ``language``. Latin-script text keeps the default voice even
        in a Chinese turn: a Mandarin voice cannot read English words."""
        found = text_language(text)
        if found is None and not any(c.isalpha() for c in text):
            found = language
        return self.voices.get(found or "", self.default)

    async def synthesize(
        self, text: str, instruction: TTSInstruction | None = None
    ) -> AsyncIterator[AudioChunk]:
        """Chunks from the voice of ``text``'s language (each chunk carries its own rate)."""
        voice = self.voice_for(text, instruction.language if instruction else None)
        if voice is not self.default:
            log.info("tts.language_voice", voice=voice.name)
        async for chunk in voice.synthesize(text, instruction):
            yield chunk
