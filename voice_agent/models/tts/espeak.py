"""espeak-ng as a voice: always available from Debian's packages, robotic but intelligible.

It is the fallback voice of the CPU profile and the voice that speaks evaluation queries when
nothing better is installed. Whisper transcribes it back word for word (REFERENCE.md §1).

Mandarin: Debian's ``cmn`` voice has too small a dictionary for most characters and reads them
as pinyin with English tone numbers ("ni three", which Whisper heard as "King 3-1-1"). Its
``cmn-latn-pinyin`` voice reads pinyin syllables with tone digits as Mandarin, so for that voice
the text is turned into pinyin first (``pypinyin``, MIT, after Chinese numerals from
``voice_agent.models._text``). Robotic, but Mandarin: measured here, Whisper base heard
"帮我打开厨房的灯" back as 翻握大開廚翻的燈 (language zh).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
from collections.abc import AsyncIterator

from voice_agent.audio import Audio, AudioError, load_audio
from voice_agent.errors import ModelLoadError
from voice_agent.log import get_logger
from voice_agent.models import _text
from voice_agent.models._fingerprint import code_fingerprint, combined, program_version
from voice_agent.models.protocols import AudioChunk, TTSInstruction

__all__ = ["MANDARIN_PINYIN", "EspeakTTS", "english_for_espeak", "pinyin", "run_espeak"]

log = get_logger(__name__)

_BASE_WPM = 165
_BASE_PITCH = 50

MANDARIN_PINYIN = "cmn-latn-pinyin"
"""espeak-ng's Mandarin voice that reads pinyin (``ni3 hao3``); :class:`EspeakTTS` gives it
pinyin made from the text's characters."""


_FULL_WIDTH = str.maketrans("，。！？、；：", ",.!?,;:")
"""Chinese punctuation as espeak-ng's pauses."""


_UNARY_MINUS = re.compile(r"(?<![\w.:)\]-])-(?=\d)")
"""A minus sign on a number: ``=-3``, ``(-3``, ``-3`` after a space; not a range ``2-5``, a
code ``COVID-19``, a phone number ``555-1234``."""
_BINARY_MINUS = re.compile(r"(?<=[\d)]|(?<![A-Za-z])[A-Za-z]) - (?=\d|[A-Za-z](?![A-Za-z])|\()")
"""A spaced minus between operands (``x - 3``, ``2x - 1``, ``(a) - b``); a dash in prose
(``Paris - the capital``) has a word on its right and is left alone."""
_POWER = re.compile(r"(?<=[\w)])\^(\d+)\b")
"""An exponent (``x^2``), which espeak-ng skips ("x two")."""
_POWER_WORDS = {"2": "squared", "3": "cubed"}
_KEY_COLON = re.compile(r"""["']([\w ]+)["']\s*:\s*|(?<=[A-Za-z]):(?=\d)""")
"""A key and its colon in a mapping written out (``{'math':90}``), which espeak-ng reads as
"math colon ninety"; said as "math 90"."""
_BRACKETS = re.compile(r"[{}\[\]]")
"""Brackets of a literal, not said (and ``[[`` would open espeak-ng's phoneme input)."""
_VARIABLE_A = re.compile(r"\b[aA](?=\s*=)")
"""The variable ``a`` of ``a=1``, which espeak-ng reads as the article (a schwa) otherwise."""


def english_for_espeak(text: str) -> str:
    """English text as espeak-ng should be given it so that it says what is written.

    Measured with espeak-ng 1.51 (``-x``): it says nothing for the minus of ``b=-3`` or
    ``x - 3`` ("b equals three"), and reads the ``a`` of ``a=1`` as the article; Whisper then
    heard "b equals 3" and "it equals 1", and the model called with the wrong sign (BFCL
    ``simple_python_3``, ``_5``); ``x^2`` it reads "x two", ``{'math':90}`` "math colon
    ninety" (the model then made "colon" a key, ``multiple_9``). So a minus and a power become
    words, a mapping's keys are said without their quotes, colons and brackets, and that ``a``
    the letter's name in espeak-ng's phoneme brackets; an amount of money is said in words
    (:func:`money_words`: espeak-ng says the sign first). Everything else is left
    to espeak-ng, which reads digits, units and punctuation itself.
    """
    text = _BRACKETS.sub("", _KEY_COLON.sub(lambda m: f"{m[1]} " if m[1] else " ", text))
    text = _text.money_words(text)
    text = _UNARY_MINUS.sub("minus ", text)
    text = _BINARY_MINUS.sub(" minus ", text)  # before the powers: "x^2 - 1" ends in a digit
    text = _POWER.sub(lambda m: " " + _POWER_WORDS.get(m[1], f"to the power of {m[1]}"), text)
    return _VARIABLE_A.sub("[['eI]]", text)


def pinyin(text: str) -> str:
    """Chinese text as numbered pinyin (``打开2个灯`` → ``da3 kai1 liang3 ge4 deng1``): numbers
    read as Chinese numerals first; anything that is not a character is kept as it is.

    Raises:
        ModelLoadError: ``pypinyin`` is not installed (the message gives the command).
    """
    try:
        from pypinyin import Style, lazy_pinyin
    except ImportError as e:
        raise ModelLoadError(
            "the Mandarin voice needs pypinyin; install it with "
            "`pip install 'voice-agent[multilingual]'`"
        ) from e
    from voice_agent.models._text import chinese_numbers

    syllables = lazy_pinyin(chinese_numbers(text), style=Style.TONE3, neutral_tone_with_five=True)
    said = " ".join(s.strip() for s in syllables if s.strip())
    return re.sub(r" ([,.!?;:])", r"\1", said.translate(_FULL_WIDTH))


async def run_espeak(executable: str, args: list[str], text: str) -> bytes:
    """Run espeak-ng on ``text`` (after ``--``, so text cannot be read as options); its stdout.

    Raises:
        AudioError: espeak-ng failed, with the end of its error output.
    """
    process = await asyncio.create_subprocess_exec(
        executable,
        *args,
        "--",
        text,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise AudioError(f"espeak-ng failed ({process.returncode}): {err.decode()[-200:]}")
    return out


class EspeakTTS:
    """The ``espeak-ng`` program, run as a subprocess per utterance.

    Args:
        voice: an espeak-ng voice name, e.g. ``en-us``.
        executable: path or name of the program.

    Raises:
        ModelLoadError: espeak-ng is not installed (the message gives the install command).
    """

    name = "espeak-ng"

    def __init__(self, voice: str = "en-us", executable: str = "espeak-ng") -> None:
        found = shutil.which(executable)
        if found is None:
            raise ModelLoadError(
                f"{executable!r} is not installed; install it with `apt-get install espeak-ng`"
            )
        self.executable, self.voice = found, voice
        self.sample_rate = 22_050

    @property
    def fingerprint(self) -> str:
        """The voice, espeak-ng's version and the code that makes text speakable (this module,
        ``_text``)."""
        return combined(
            self.name,
            self.voice,
            program_version(self.executable),
            code_fingerprint(sys.modules[__name__], _text),
        )

    async def warm_up(self) -> None:
        """Nothing to load: the program starts per utterance in milliseconds."""

    def _arguments(self, instruction: TTSInstruction) -> list[str]:
        speed = round(_BASE_WPM * instruction.speed)
        pitch = max(0, min(99, round(_BASE_PITCH * instruction.pitch)))
        amplitude = max(0, min(200, round(100 * instruction.volume)))
        if instruction.emotion != "neutral" or instruction.style:
            log.info(
                "tts.instruction_unsupported",
                backend=self.name,
                emotion=instruction.emotion,
                style=instruction.style,
                detail="espeak-ng has no emotion or style; speed, pitch and volume applied",
            )
        return ["-v", self.voice, "-s", str(speed), "-p", str(pitch), "-a", str(amplitude)]

    async def speak(self, text: str, instruction: TTSInstruction | None = None) -> Audio:
        """The whole utterance at once, at the voice's native rate."""
        if not text.strip():
            raise AudioError("nothing to say: the text is empty")
        args = self._arguments(instruction or TTSInstruction())
        if self.voice == MANDARIN_PINYIN:
            text = pinyin(text)
        elif self.voice.startswith("en"):
            text = english_for_espeak(text)
        wav = await run_espeak(self.executable, [*args, "--stdout"], text)
        return load_audio(wav, rate=self.sample_rate)

    async def synthesize(
        self, text: str, instruction: TTSInstruction | None = None
    ) -> AsyncIterator[AudioChunk]:
        """One chunk: espeak-ng renders a sentence in a few milliseconds."""
        audio = await self.speak(text, instruction)
        yield AudioChunk(audio=audio, index=0, final=True)
