"""Word error rate between what was said and what was heard, and which words were misheard.

One implementation for every place that asks how well the recognizer did (the speech suites'
results, ``benchmarks/spoken_requests.py``). Words are compared normalised: lowercase, no
punctuation, numbers as digits ("twenty-one" and "21" are the same word, "1,000" is "1000"), so
that the rate counts mishearings, not the recognizer's choice of spelling.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["WordErrors", "normalize_words", "spoken_number", "word_errors"]

_UNIT_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
)
_TEN_WORDS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety"
_UNITS = {w: i for i, w in enumerate(_UNIT_WORDS.split())}
_TENS = {w: 10 * i for i, w in enumerate(_TEN_WORDS.split()) if i > 1}
_SCALES = {"thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_TOKEN = re.compile(r"\d+(?:\.\d+)?|[a-z0-9']+")


def _kind(word: str) -> str | None:
    if word in _UNITS:
        return "unit" if _UNITS[word] < 10 else "teen"
    if word in _TENS:
        return "tens"
    if word == "hundred":
        return "hundred"
    if word in _SCALES:
        return "scale"
    return None


_FOLLOWS: dict[str, tuple[str | None, ...]] = {
    # which kind of number word may come after which: "twenty one" is one number, "one two" two
    "unit": (None, "tens", "hundred", "scale"),
    "teen": (None, "hundred", "scale"),
    "tens": (None, "hundred", "scale"),
    "hundred": ("unit", "teen", "tens"),
    "scale": ("unit", "teen", "tens", "hundred"),
}


def _read_number(words: Sequence[str], start: int) -> tuple[int, int]:
    """(value, words used) of the number spelled from ``words[start]``; 0 words when none."""
    total = current = used = 0
    last: str | None = None
    i = start
    while i < len(words):
        word, kind = words[i], _kind(words[i])
        if word == "and" and last in ("hundred", "scale") and i + 1 < len(words):
            following = _kind(words[i + 1])
            if following in ("unit", "teen", "tens"):
                i += 1
                continue
        if kind is None or last not in _FOLLOWS[kind] or (word == "zero" and last is not None):
            break
        if kind in ("unit", "teen"):
            current += _UNITS[word]
        elif kind == "tens":
            current += _TENS[word]
        elif kind == "hundred":
            current *= 100
        else:
            total += current * _SCALES[word]
            current = 0
        last, i = kind, i + 1
        used = i - start
        if word == "zero":
            break
    return total + current, used


def _digits(words: Sequence[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(words):
        value, used = _read_number(words, i)
        if used:
            out.append(str(value))
            i += used
        else:
            out.append(words[i])
            i += 1
    return out


def normalize_words(text: str) -> list[str]:
    """Lowercase words for the word error rate: no punctuation, numbers as digits.

    ``"Set it to twenty-one degrees at 6 p.m."`` → ``set it to 21 degrees at 6 pm``.
    """
    text = text.lower().replace("%", " percent").replace("p.m.", "pm").replace("a.m.", "am")
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 1,000 → 1000
    text = re.sub(r"(\d)(am|pm)\b", r"\1 \2", text)
    text = text.replace("=", " equals ").replace("+", " plus ")  # "a=1" is said "a equals 1"
    text = re.sub(r"\^2\b", " squared", re.sub(r"\^3\b", " cubed", text))  # x^2: x squared
    text = re.sub(r"\^(?=\d)", " to the power of ", text)
    text = re.sub(r"(?:^|(?<=\s))-(?=\s*\d|\s)", " minus ", text)  # "2x - 1", "-25"; not "m-s"
    text = re.sub(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])", " ", text)  # x2, 6cm: as x 2, 6 cm
    words = (w.strip("'") for w in _TOKEN.findall(text.replace(":", " ")))
    return _digits([w for w in words if w])


def spoken_number(text: str) -> int | None:
    """The whole number ``text`` spells out ("twenty one", "two thousand and five"), or None
    when it is anything else (digits included: those need no help)."""
    words = re.findall(r"[a-z]+", text.lower())
    if not words or re.search(r"[^a-z\s,-]", text.lower()):
        return None
    value, used = _read_number(words, 0)
    return value if used == len(words) else None


@dataclass(frozen=True, slots=True, kw_only=True)
class WordErrors:
    """How a hypothesis differs from its reference, in normalised words."""

    errors: int
    """Word edit distance (substitutions + deletions + insertions)."""
    words: int
    """Reference length."""
    misheard: list[str] = field(default_factory=list)
    """Each run of differing words as ``said → heard`` (``∅`` for nothing), in order."""

    @property
    def rate(self) -> float:
        """errors / words (0 for an empty reference heard as nothing)."""
        return self.errors / self.words if self.words else float(self.errors > 0)


def word_errors(reference: str, hypothesis: str) -> WordErrors:
    """Align ``hypothesis`` to ``reference`` word by word (Levenshtein) and list the
    differences."""
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    # cost[i][j]: distance between ref[:i] and hyp[:j]
    cost = [[i + j if i * j == 0 else 0 for j in range(len(hyp) + 1)] for i in range(len(ref) + 1)]
    for i in range(1, len(ref) + 1):
        for j in range(1, len(hyp) + 1):
            cost[i][j] = min(
                cost[i - 1][j] + 1,
                cost[i][j - 1] + 1,
                cost[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]),
            )
    return WordErrors(errors=cost[-1][-1], words=len(ref), misheard=_differences(ref, hyp, cost))


def _differences(ref: list[str], hyp: list[str], cost: list[list[int]]) -> list[str]:
    """Walk the alignment back and group adjacent edits into ``said → heard`` spans."""
    spans: list[tuple[list[str], list[str]]] = []
    open_span = False
    i, j = len(ref), len(hyp)
    while i or j:
        if i and j and ref[i - 1] == hyp[j - 1] and cost[i][j] == cost[i - 1][j - 1]:
            i, j, open_span = i - 1, j - 1, False
            continue
        if not open_span:
            spans.append(([], []))
            open_span = True
        said, heard = spans[-1]
        if i and j and cost[i][j] == cost[i - 1][j - 1] + 1:
            said.insert(0, ref[i - 1])
            heard.insert(0, hyp[j - 1])
            i, j = i - 1, j - 1
        elif i and cost[i][j] == cost[i - 1][j] + 1:
            said.insert(0, ref[i - 1])
            i -= 1
        else:
            heard.insert(0, hyp[j - 1])
            j -= 1
    return [f"{' '.join(s) or '∅'} → {' '.join(h) or '∅'}" for s, h in reversed(spans)]
