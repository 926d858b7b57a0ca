"""Which language a turn is in, and the instruction that asks a model to reply in it.

The speech recognizer detects the language of speech (Whisper's language token); typed text has
no detector, but its script tells the languages this project cares about apart: Han characters
without kana are Chinese, kana Japanese, Hangul Korean. Latin-script text gives no answer
(English, French and German look alike at that level), and no instruction is added for it, so an
English turn's prompt is exactly what it was.
"""

from __future__ import annotations

import re

__all__ = ["LANGUAGE_NAMES", "reply_language_instruction", "text_language"]

_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")

LANGUAGE_NAMES = {
    "zh": "Chinese (Simplified, 简体中文)",
    "ja": "Japanese",
    "ko": "Korean",
    "fr": "French",
    "de": "German",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "ru": "Russian",
}
"""Languages named in the instruction; a code not listed here is named by its code."""


def text_language(text: str) -> str | None:
    """``zh``, ``ja`` or ``ko`` when the script of ``text`` says so; None otherwise."""
    if _KANA.search(text):
        return "ja"
    if _HANGUL.search(text):
        return "ko"
    if _HAN.search(text):
        return "zh"
    return None


def reply_language_instruction(language: str | None) -> str:
    """The sentence that asks for replies in ``language``; empty for English or unknown.

    It asks for the reply's words only: a call's arguments stay as the user said them (ACEBench's
    Chinese answers keep the user's Chinese values), and the tool names stay as they are.
    """
    if not language or language == "en":
        return ""
    name = LANGUAGE_NAMES.get(language, language)
    return (
        f"The user speaks {name}. Reply in {name}; keep tool names and the values the user "
        "gave as they are."
    )
