"""Score ACEBench results: decoding as the official runner does, per category, and the summary."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from voice_agent.evals.acebench._checker import check_normal, check_special
from voice_agent.evals.acebench._data import (
    AGENT_CATEGORIES,
    MULTI_TURN_CATEGORIES,
    NORMAL_CATEGORIES,
    SPECIAL_CATEGORIES,
    AceEntry,
)
from voice_agent.evals.bfcl import Verdict
from voice_agent.evals.bfcl._decode import ResultFormat, calls_to_decoded
from voice_agent.tools import parse_python_calls

__all__ = [
    "AceScore",
    "acebench_summary",
    "decode_ace",
    "multi_turn_accuracy",
    "outermost_brackets",
    "score_ace",
    "score_ace_lines",
]


def outermost_brackets(text: str) -> str | None:
    """The first balanced ``[...]`` of ``text`` (brackets counted, quotes not), or None."""
    start, depth = -1, 0
    for index, char in enumerate(text):
        if char == "[":
            if depth == 0:
                start = index
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0 and start != -1:
                return text[start : index + 1]
    return None


def decode_ace(result: Any, category: str, fmt: ResultFormat = "auto") -> list[dict[str, Any]]:
    """Decode a normal-category result like ACEBench's runner.

    Prompt-mode text: single-turn categories take the first outermost ``[...]``; multi-turn
    categories remove *all* white space first (inside strings too, as the official runner
    does). FC results are lists of ``{name: "<json arguments>"}``.

    Raises:
        ValueError: the official decoder would fail too.
    """
    if fmt == "fc" or (fmt == "auto" and not isinstance(result, str)):
        if not isinstance(result, list):
            raise ValueError("FC result must be a list of calls")
        decoded = []
        for item in result:
            if not isinstance(item, dict) or not item:
                raise ValueError("expected {name: arguments} objects")
            name = next(iter(item))
            decoded.append({name: json.loads(item[name])})
        return decoded
    if not isinstance(result, str):
        raise ValueError("prompt-mode result must be text")
    if category in MULTI_TURN_CATEGORIES:
        text: str | None = "".join(result.split())
    else:
        text = outermost_brackets(result)
    if text is None:
        raise ValueError("no [...] in the output")
    return calls_to_decoded(parse_python_calls(text, dialect="acebench"))


def score_ace(entry: AceEntry, category: str, result: Any, fmt: ResultFormat = "auto") -> Verdict:
    """The official verdict for one result of a normal or special category."""
    if category in SPECIAL_CATEGORIES:
        return check_special(category, result, entry.answer)
    try:
        decoded = decode_ace(result, category, fmt)
    except (ValueError, TypeError) as e:
        return Verdict.fail("wrong_output_format", f"Invalid syntax. Failed to decode AST. {e}")
    return check_normal(entry.functions, decoded, entry.answer, category)


@dataclass(slots=True, kw_only=True)
class AceScore:
    """A category's score; multi-turn categories score whole conversations."""

    category: str
    correct: int = 0
    total: int = 0
    accuracy: float = 0.0
    """As the official runner reports it (rounded to 3 places for normal categories)."""
    process_accuracy: float | None = None
    """Multi-turn only: mean share of correct steps per conversation."""
    problems: list[str] = field(default_factory=list)


def score_ace_lines(
    lines: Iterable[str],
    entries: Sequence[AceEntry],
    category: str,
    fmt: ResultFormat = "auto",
) -> tuple[list[tuple[str, Verdict]], AceScore]:
    """Score a result file's lines; bad lines are reported in ``problems`` and skipped."""
    by_id = {e.id: e for e in entries}
    verdicts: list[tuple[str, Verdict]] = []
    score = AceScore(category=category)
    seen: set[str] = set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as e:
            score.problems.append(f"line {number}: not JSON ({e})")
            continue
        if not isinstance(record, dict) or "id" not in record or "result" not in record:
            score.problems.append(f"line {number}: needs an object with 'id' and 'result'")
            continue
        entry_id = str(record["id"])
        if entry_id not in by_id or entry_id in seen:
            score.problems.append(f"line {number}: id {entry_id!r} unknown or repeated")
            continue
        seen.add(entry_id)
        verdicts.append((entry_id, score_ace(by_id[entry_id], category, record["result"], fmt)))
    score.total = len(verdicts)
    score.correct = sum(v.valid for _, v in verdicts)
    if category in MULTI_TURN_CATEGORIES:
        score.accuracy, score.process_accuracy = multi_turn_accuracy(verdicts)
    elif score.total:
        exact = score.correct / score.total
        score.accuracy = exact if category in SPECIAL_CATEGORIES else round(exact, 3)
    return verdicts, score


def multi_turn_accuracy(verdicts: Sequence[tuple[str, Verdict]]) -> tuple[float, float]:
    """Conversations are runs of consecutive ids with the same turn number (``…_<turn>_<i>``)."""
    groups: list[list[bool]] = []
    last_turn = None
    for entry_id, verdict in verdicts:
        turn = entry_id.split("_")[-2]
        if groups and turn == last_turn:
            groups[-1].append(verdict.valid)
        else:
            groups.append([verdict.valid])
        last_turn = turn
    if not groups:
        return 0.0, 0.0
    end = round(sum(all(g) for g in groups) / len(groups), 3)
    process = round(sum(round(sum(g) / len(g), 3) for g in groups) / len(groups), 3)
    return end, process


def acebench_summary(scores: Mapping[str, AceScore]) -> dict[str, float | bool]:
    """ACEBench's summary: 0.578 × normal + 0.2676 × special + 0.1545 × agent.

    Each part is the unweighted mean of its categories, a missing category counting as 0 as in
    the official table; ``complete`` says whether every category was scored (the agent ones
    never are here, so the overall figure is a lower bound).
    """

    def mean(names: Sequence[str]) -> float:
        return round(sum(scores[n].accuracy if n in scores else 0.0 for n in names) / len(names), 3)

    normal, special, agent = (
        mean(NORMAL_CATEGORIES),
        mean(SPECIAL_CATEGORIES),
        mean(AGENT_CATEGORIES),
    )
    return {
        "normal": normal,
        "special": special,
        "agent": agent,
        "overall": round(special * 0.2676 + normal * 0.578 + agent * 0.1545, 3),
        "complete": all(
            n in scores for n in (*NORMAL_CATEGORIES, *SPECIAL_CATEGORIES, *AGENT_CATEGORIES)
        ),
    }
