"""Text a voice is given: split into sentences, numbers written out as words.

A neural voice renders one sentence at a time better and sooner than a paragraph (the first
sentence plays while the next is made), and a voice trained on normalized text (CosyVoice's
speech-token LM) reads "21.5" unreliably where "twenty-one point five" is plain. Piper's
phonemizer (espeak-ng) reads digits itself, so only the splitting is shared with it.
"""

from __future__ import annotations

import re

__all__ = ["sentences", "spell_numbers"]

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])")
"""After . ! ? followed by space, or after a CJK full stop, exclamation or question mark
(CJK text puts no space between sentences)."""


def sentences(text: str) -> list[str]:
    """The sentences of ``text``, stripped, empty ones dropped."""
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


# fmt: off
_ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
# fmt: on
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL_WORDS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}


def _digit_by_digit(digits: str) -> str:
    return " ".join(_ONES[int(d)] for d in digits)


def _under_thousand(n: int) -> str:
    words = []
    if n >= 100:
        words.append(f"{_ONES[n // 100]} hundred")
        n %= 100
    if n >= 20:
        words.append(_TENS[n // 10] + (f"-{_ONES[n % 10]}" if n % 10 else ""))
    elif n or not words:
        words.append(_ONES[n])
    return " ".join(words)


def _cardinal(n: int) -> str:
    if n >= 10**15:  # beyond what anyone says as words: read digit by digit
        return _digit_by_digit(str(n))
    words = []
    for size, name in _SCALES:
        if n >= size:
            words.append(f"{_under_thousand(n // size)} {name}")
            n %= size
    if n or not words:
        words.append(_under_thousand(n))
    return " ".join(words)


def _ordinal(n: int) -> str:
    words = _cardinal(n)
    head, _, last = words.rpartition(" ")
    stem, dash, unit = last.rpartition("-")
    if unit in _ORDINAL_WORDS:
        unit = _ORDINAL_WORDS[unit]
    elif unit.endswith("y"):
        unit = unit[:-1] + "ieth"
    else:
        unit += "th"
    return f"{head} {stem}{dash}{unit}".strip()


_NUMBER = re.compile(
    r"(?<![\w.:])(?<!\d-)(?P<sign>-)?(?P<cur>[$€£])?"
    r"(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?"
    r"(?:(?P<ord>st|nd|rd|th)\b|(?P<pct>%))?(?![\w:])(?!\.\d)(?!-\d)"
)
"""A number standing alone. Digits joined by dots, dashes or colons to more digits (a version
3.11.7, a phone number 555-1234, an address 10.0.0.1) are not one number and stay as written."""

_TIME = re.compile(r"(?<![\w.:])(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)(?![\w:])")


def _time(match: re.Match[str]) -> str:
    hour, minutes = int(match["h"]), int(match["m"])
    if minutes == 0:
        return f"{_cardinal(hour)} hundred" if hour > 12 else f"{_cardinal(hour)} o'clock"
    return f"{_cardinal(hour)} {'oh ' if minutes < 10 else ''}{_cardinal(minutes)}"


_CURRENCIES = {"$": ("dollar", "cent"), "€": ("euro", "cent"), "£": ("pound", "penny")}


def _money(match: re.Match[str]) -> str:
    unit, cent = _CURRENCIES[match["cur"]]
    whole, frac = int(match["int"].replace(",", "")), match["frac"]
    words = f"{_cardinal(whole)} {unit}{'' if whole == 1 else 's'}"
    if frac and len(frac) == 2 and int(frac):
        cents = int(frac)
        plural = "pence" if cent == "penny" else "cents"
        words += f" and {_cardinal(cents)} {cent if cents == 1 else plural}"
    elif frac and int(frac):
        words = f"{_cardinal(whole)} point {_digit_by_digit(frac)} {unit}s"
    return ("minus " if match["sign"] else "") + words


def _spoken(match: re.Match[str]) -> str:
    if match["cur"] and not (match["ord"] or match["pct"]):
        return _money(match)
    digits = match["int"].replace(",", "")
    if match["ord"] and not match["frac"]:
        return _ordinal(int(digits))
    if len(digits) > 1 and digits.startswith("0"):  # a code such as 007: digit by digit
        words = _digit_by_digit(digits)
    else:
        words = _cardinal(int(digits))
    if match["frac"]:
        words += " point " + _digit_by_digit(match["frac"])
    if match["sign"]:
        words = "minus " + words
    if match["pct"]:
        words += " percent"
    return words


def spell_numbers(text: str) -> str:
    """English numbers as words: ``21.5`` → "twenty-one point five", ``3rd`` → "third",
    ``1,200`` → "one thousand two hundred", ``50%`` → "fifty percent", ``-4`` → "minus four",
    ``7:05`` → "seven oh five", ``$5.50`` → "five dollars and fifty cents".

    Text with CJK characters is returned unchanged: its numbers are read in Chinese or
    Japanese, which this does not attempt. Digits inside words (``mp3``, ``B12``) stay.
    """
    if re.search(r"[\u3040-\u30ff\u3400-\u9fff]", text):
        return text
    return _NUMBER.sub(_spoken, _TIME.sub(_time, text))
