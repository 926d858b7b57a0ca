"""Score model results against BFCL entries, one entry or a whole result file, and summarize."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from voice_agent.evals.bfcl._checker import VALID, Verdict, check_ast
from voice_agent.evals.bfcl._data import AST_CATEGORIES, BfclEntry
from voice_agent.evals.bfcl._decode import (
    DecodeError,
    ResultFormat,
    decode_result,
    is_empty_output,
    is_function_call_format,
)

__all__ = [
    "CategoryScore",
    "ScoredLine",
    "leaderboard_summary",
    "score_decoded",
    "score_entry",
    "score_result_lines",
]


def score_decoded(
    entry: BfclEntry, category: str, decoded: Any, *, underscore_to_dot: bool = False
) -> Verdict:
    """Verdict for an already decoded output (``[{name: {params}}]``)."""
    if category not in AST_CATEGORIES:
        has_call = not is_empty_output(decoded)
        if "irrelevance" in category:
            return (
                VALID
                if not has_call
                else Verdict.fail(
                    "irrelevance_error:decoder_success",
                    "Valid syntax. Successfully decode AST when it should not.",
                )
            )
        return (
            VALID
            if has_call
            else Verdict.fail(
                "relevance_error:decoder_failed", "Failed to decode AST when it should have."
            )
        )
    if not is_function_call_format(decoded):
        return Verdict.fail(
            "ast_decoder:decoder_wrong_output_format", "Did not output in the specified format."
        )
    assert entry.answer is not None
    return check_ast(
        entry.functions, decoded, entry.answer, category, underscore_to_dot=underscore_to_dot
    )


def score_entry(
    entry: BfclEntry,
    category: str,
    result: Any,
    *,
    fmt: ResultFormat = "auto",
    underscore_to_dot: bool = False,
) -> Verdict:
    """The official verdict for one ``result`` (see :func:`decode_result` for formats)."""
    try:
        decoded = decode_result(result, fmt)
    except DecodeError as e:
        if category not in AST_CATEGORIES:
            return score_decoded(entry, category, None)
        return Verdict.fail(
            "ast_decoder:decoder_failed", f"Invalid syntax. Failed to decode AST. {e}"
        )
    return score_decoded(entry, category, decoded, underscore_to_dot=underscore_to_dot)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScoredLine:
    """One line of a scored result file."""

    line: int
    """1-based line number in the result file."""
    id: str | None
    """The entry id, None when the line could not be read."""
    verdict: Verdict | None
    """None when the line could not be scored (see ``problem``)."""
    problem: str | None = None
    """Why the line could not be scored: malformed, unknown id, duplicate."""


@dataclass(slots=True, kw_only=True)
class CategoryScore:
    """Accuracy over the entries that were scored."""

    category: str
    correct: int = 0
    total: int = 0
    problems: list[str] = field(default_factory=list)
    missing: int = 0
    """Entries of the category with no result line (excluded, as BFCL's partial evaluation)."""

    @property
    def accuracy(self) -> float:
        """correct / total; 0 when nothing was scored."""
        return self.correct / self.total if self.total else 0.0


def score_result_lines(
    lines: Iterable[str],
    entries: Sequence[BfclEntry],
    category: str,
    *,
    fmt: ResultFormat = "auto",
    underscore_to_dot: bool = False,
) -> tuple[list[ScoredLine], CategoryScore]:
    """Score each line of a BFCL result file; a bad line is reported and skipped, never fatal."""
    by_id = {e.id: e for e in entries}
    seen: set[str] = set()
    scored: list[ScoredLine] = []
    summary = CategoryScore(category=category)
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        read = _read_line(line, number, category, by_id, seen)
        if isinstance(read, str):
            summary.problems.append(read)
            scored.append(ScoredLine(line=number, id=None, verdict=None, problem=read))
            continue
        entry_id, result = read
        seen.add(entry_id)
        verdict = score_entry(
            by_id[entry_id], category, result, fmt=fmt, underscore_to_dot=underscore_to_dot
        )
        summary.total += 1
        summary.correct += verdict.valid
        scored.append(ScoredLine(line=number, id=entry_id, verdict=verdict))
    summary.missing = len(by_id) - len(seen)
    return scored, summary


def _read_line(
    line: str, number: int, category: str, by_id: Mapping[str, BfclEntry], seen: set[str]
) -> tuple[str, Any] | str:
    """``(id, result)`` of one result line, or the problem with it."""
    try:
        record = json.loads(line)
    except ValueError as e:
        return f"line {number}: not JSON ({e})"
    if not isinstance(record, dict) or "id" not in record or "result" not in record:
        return f"line {number}: needs an object with 'id' and 'result'"
    entry_id = str(record["id"])
    if entry_id not in by_id:
        return f"line {number}: id {entry_id!r} is not in {category}"
    if entry_id in seen:
        return f"line {number}: id {entry_id!r} appears again; the first is kept"
    return entry_id, record["result"]


def leaderboard_summary(scores: Mapping[str, CategoryScore]) -> dict[str, float | None]:
    """BFCL's summary rows from per-category scores (None where a part is missing).

    Non-Live AST is the unweighted mean of simple, multiple, parallel and parallel_multiple
    (``simple`` here is simple_python: Java and JavaScript are not part of our suites); Live
    AST is weighted by entry count over the four live AST categories; irrelevance is the
    unweighted mean of the two irrelevance categories.
    """

    def acc(name: str) -> float | None:
        return scores[name].accuracy if name in scores and scores[name].total else None

    non_live = [acc(c) for c in ("simple_python", "multiple", "parallel", "parallel_multiple")]
    live = [
        scores[c]
        for c in ("live_simple", "live_multiple", "live_parallel", "live_parallel_multiple")
        if c in scores and scores[c].total
    ]
    irrelevance = [acc(c) for c in ("irrelevance", "live_irrelevance")]
    return {
        "non_live_ast": None if None in non_live else sum(non_live) / 4,  # type: ignore[arg-type]
        "live_ast": (
            sum(s.correct for s in live) / sum(s.total for s in live) if len(live) == 4 else None
        ),
        "irrelevance": None if None in irrelevance else sum(irrelevance) / 2,  # type: ignore[arg-type]
        "relevance": acc("live_relevance"),
    }
