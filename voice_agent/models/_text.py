"""Text a voice is given: split into sentences, numbers written out as words.

A neural voice renders one sentence at a time better and sooner than a paragraph (the first
sentence plays while the next is made), and a voice trained on normalized text (CosyVoice's
speech-token LM) reads "21.5" unreliably where "twenty-one point five" is plain. Piper's
phonemizer (espeak-ng) reads digits itself, so only the splitting is shared with it.

Chinese text gets Chinese numerals ("21.5" → 二十一点五, "50%" → 百分之五十, "7:05" → 七点零五分,
"2024年" → 二零二四年). The official CosyVoice frontend does this with wetext's weighted
grammars; ours covers the forms a reply or a request usually holds, in plain code.
"""

from __future__ import annotations

import re

__all__ = ["chinese_numbers", "sentences", "spell_numbers"]

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


_MONEY = re.compile(
    r"(?<![\w.])(?P<sign>-)?(?P<cur>[$€£])(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?"
    r"(?:(?P<mag>[KMB])\b|\s?(?P<word>thousand|million|billion)\b)?"
)
_MAGNITUDES = {"K": "thousand", "M": "million", "B": "billion"}


def _amount(match: re.Match[str]) -> str:
    magnitude = _MAGNITUDES.get(match["mag"] or "", match["word"] or "")
    if not magnitude:
        return _money(match)
    words = _cardinal(int(match["int"].replace(",", "")))
    if match["frac"]:
        words += " point " + _digit_by_digit(match["frac"])
    unit = _CURRENCIES[match["cur"]][0]
    return ("minus " if match["sign"] else "") + f"{words} {magnitude} {unit}s"


def money_words(text: str) -> str:
    """Amounts of money as said: ``$300,000`` → "three hundred thousand dollars", ``$1.2M``
    → "one point two million dollars"; everything else as written.

    espeak-ng (and so Piper, which reads its phonemes) says the sign first: "dollar three
    hundred thousand", and Whisper then wrote "dollar 1 point 2" and "$1.50" for ``$50``
    (BFCL ``multiple_12``, ``multiple_39``).
    """
    return _MONEY.sub(_amount, text)


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

    Chinese text (Han characters, no kana) gets :func:`chinese_numbers` instead; Japanese
    text is returned unchanged (its readings are not attempted). Digits inside words (``mp3``,
    ``B12``) stay.
    """
    if re.search(r"[\u3040-\u30ff]", text):
        return text
    if re.search(r"[\u3400-\u9fff]", text):
        return chinese_numbers(text)
    return _NUMBER.sub(_spoken, _TIME.sub(_time, text))


_ZH_DIGITS = "零一二三四五六七八九"
_ZH_UNITS = ((10**8, "亿"), (10**4, "万"))
_ZH_SMALL = ((1000, "千"), (100, "百"), (10, "十"))
_ZH_MEASURES = "个位只本张件条次天名台辆间瓶杯块岁点"
"""Measure words after which 2 is read 两 (两个, 两点), not 二."""


def _zh_digit_by_digit(digits: str) -> str:
    return "".join(_ZH_DIGITS[int(d)] for d in digits)


def _zh_under_10000(n: int) -> str:
    """0 < n < 10000, with 零 for skipped places (一百零五, 一千零二十)."""
    out: list[str] = []
    gap = False
    for size, unit in _ZH_SMALL:
        digit, n = divmod(n, size)
        if digit:
            if gap and out:
                out.append("零")
            out.append(_ZH_DIGITS[digit] + unit)
            gap = False
        else:
            gap = True
    if n:
        if gap and out:
            out.append("零")
        out.append(_ZH_DIGITS[n])
    return "".join(out)


def _zh_cardinal(n: int) -> str:
    """A whole number in Chinese: 0 零, 15 十五, 110 一百一十, 10005 一万零五, 3亿 三亿."""
    if n == 0:
        return "零"
    if n >= 10**12:  # beyond what anyone says as words: digit by digit
        return _zh_digit_by_digit(str(n))
    out: list[str] = []
    rest, started = n, False
    for size, unit in _ZH_UNITS:
        head, rest = divmod(rest, size)
        if head:
            out.append(_zh_under_10000(head) + unit)
            started = True
        if started and 0 < rest < size // 10:
            out.append("零")
            started = False
    if rest:
        if started and rest < 1000:
            out.append("零")
        out.append(_zh_under_10000(rest))
    words = "".join(out)
    return words[1:] if words.startswith("一十") else words  # 十五, not 一十五


_ZH_NUMBER = re.compile(
    r"(?<![A-Za-z0-9_.:])(?<!\d-)(?P<sign>[-−])?"
    r"(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?(?P<pct>[%％])?"
    r"(?![A-Za-z0-9_:])(?!\.\d)(?!-\d)"
)
"""As :data:`_NUMBER`, with ASCII word characters only around it (Han characters are word
characters to ``\\w``, and a number touches them: 设为21度)."""
_ZH_TIME = re.compile(r"(?<![\d:])(?P<h>[01]?\d|2[0-3])[:：](?P<m>[0-5]\d)(?![\d:])")
_ZH_YEAR = re.compile(r"(?<!\d)(?P<y>\d{2,4})(?=年)")


def _zh_time(match: re.Match[str]) -> str:
    hour, minutes = int(match["h"]), int(match["m"])
    said = "两" if hour == 2 else _zh_cardinal(hour)
    if minutes == 0:
        return f"{said}点"
    return f"{said}点{'零' if minutes < 10 else ''}{_zh_cardinal(minutes)}分"


def _zh_spoken(match: re.Match[str], text: str) -> str:
    digits = match["int"].replace(",", "")
    if len(digits) > 1 and digits.startswith("0"):  # a code: digit by digit
        words = _zh_digit_by_digit(digits)
    else:
        words = _zh_cardinal(int(digits))
        following = text[match.end() : match.end() + 1]
        ordinal = text[max(0, match.start() - 1) : match.start()] == "第"  # 第二名, not 第两名
        if (
            words == "二"
            and following
            and following in _ZH_MEASURES
            and not (match["frac"] or ordinal)
        ):
            words = "两"
    if match["frac"]:
        words += "点" + _zh_digit_by_digit(match["frac"])
    if match["pct"]:
        words = "百分之" + words
    return ("负" if match["sign"] else "") + words


def chinese_numbers(text: str) -> str:
    """Arabic numerals in Chinese text as Chinese numerals: ``21.5`` → 二十一点五, ``1,200`` →
    一千二百, ``50%`` → 百分之五十, ``-4`` → 负四, ``7:05`` → 七点零五分, ``2024年`` → 二零二四年,
    ``6月15日`` → 六月十五日, ``2个`` → 两个, ``007`` → 零零七. Digits inside words (``mp3``,
    ``B12``) and numbers joined to more digits by dots, dashes or colons (a version, a phone
    number) stay as written."""
    text = _ZH_YEAR.sub(lambda m: _zh_digit_by_digit(m["y"]), text)
    text = _ZH_TIME.sub(_zh_time, text)
    return _ZH_NUMBER.sub(lambda m: _zh_spoken(m, text), text)
