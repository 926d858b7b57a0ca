"""Speech against text, entry by entry: which entries flipped when spoken, and whether the ear
(the transcript was wrong, and in which words) or the brain (the model went wrong on a right
transcript) is to blame.

Works on result records alone, so the report of any run folder that holds both a typed and a
spoken run of the same entries can say it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Flip", "HeardRow", "flips", "heard_rows"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Flip:
    """One entry whose verdict differs between its typed and its spoken run."""

    benchmark: str
    category: str
    id: str
    augmentation: str
    typed_valid: bool
    spoken_error: str | None
    """The spoken run's checker error (None when the spoken run is the right one)."""
    typed_error: str | None
    transcript: str | None
    misheard: list[str]
    wer: float | None

    @property
    def cause(self) -> str:
        """The ear, the brain, or unknown (a model that reports no transcript); for an entry
        only the spoken run got right, what it was heard as."""
        if not self.typed_valid:
            heard = "; ".join(self.misheard) if self.misheard else "heard exactly"
            return f"only spoken right ({heard})"
        if self.transcript is None:
            return "unknown: the model reported no transcript"
        if self.misheard:
            return "transcript wrong: " + "; ".join(self.misheard)
        return "model, on a right transcript"


def _key(record: dict[str, Any]) -> tuple[str, str, str]:
    return (str(record["benchmark"]), str(record["category"]), str(record["id"]))


def flips(records: Sequence[dict[str, Any]]) -> tuple[int, list[Flip]]:
    """(how many typed/spoken pairs there are, the pairs whose verdicts differ).

    A spoken record pairs with the typed record of the same benchmark entry; several spoken
    augmentations of one entry each pair with it.
    """
    typed = {_key(r): r for r in records if r.get("modality") == "text"}
    pairs = 0
    out = []
    for r in records:
        if r.get("modality") != "speech" or _key(r) not in typed:
            continue
        pairs += 1
        t = typed[_key(r)]
        if bool(t["valid"]) == bool(r["valid"]):
            continue
        out.append(
            Flip(
                benchmark=str(r["benchmark"]),
                category=str(r["category"]),
                id=str(r["id"]),
                augmentation=str(r.get("augmentation") or "clean"),
                typed_valid=bool(t["valid"]),
                spoken_error=r.get("error_type"),
                typed_error=t.get("error_type"),
                transcript=r.get("transcript"),
                misheard=list(r.get("misheard") or []),
                wer=r.get("wer"),
            )
        )
    return pairs, out


@dataclass(frozen=True, slots=True, kw_only=True)
class HeardRow:
    """How well the spoken samples of one category and augmentation were heard."""

    category: str
    augmentation: str
    n: int
    wer: float
    """Word errors over reference words, pooled (0-1)."""
    exact: int
    """Samples heard without a word wrong."""
    correct_exact: int
    correct_misheard: int


def heard_rows(records: Sequence[dict[str, Any]]) -> list[HeardRow]:
    """Per category and augmentation: pooled WER, and accuracy on exact and misheard
    transcripts. Spoken records without a transcript are left out."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        if r.get("modality") == "speech" and r.get("transcript") is not None:
            groups[(str(r["category"]), str(r.get("augmentation") or "clean"))].append(r)
    rows = []
    for (category, augmentation), items in sorted(groups.items()):
        exact = [r for r in items if not r.get("word_errors")]
        misheard = [r for r in items if r.get("word_errors")]
        words = sum(int(r.get("words") or 0) for r in items)
        rows.append(
            HeardRow(
                category=category,
                augmentation=augmentation,
                n=len(items),
                wer=sum(int(r.get("word_errors") or 0) for r in items) / max(1, words),
                exact=len(exact),
                correct_exact=sum(bool(r["valid"]) for r in exact),
                correct_misheard=sum(bool(r["valid"]) for r in misheard),
            )
        )
    return rows
