"""ACEBench (English) data: ``data_<category>.json`` and ``possible_answer/`` in a directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voice_agent.errors import ConfigError
from voice_agent.evals.bfcl._data import jsonl_records

__all__ = [
    "AGENT_CATEGORIES",
    "CATEGORIES",
    "MULTI_TURN_CATEGORIES",
    "NORMAL_CATEGORIES",
    "SPECIAL_CATEGORIES",
    "AceEntry",
    "load_category",
]

NORMAL_CATEGORIES = (
    "normal_single_turn_single_function",
    "normal_single_turn_parallel_function",
    "normal_multi_turn_user_adjust",
    "normal_multi_turn_user_switch",
    "normal_similar_api",
    "normal_preference",
    "normal_atom_bool",
    "normal_atom_enum",
    "normal_atom_number",
    "normal_atom_list",
    "normal_atom_object_deep",
    "normal_atom_object_short",
)
MULTI_TURN_CATEGORIES = ("normal_multi_turn_user_adjust", "normal_multi_turn_user_switch")
SPECIAL_CATEGORIES = ("special_incomplete", "special_error_param", "special_irrelevant")
AGENT_CATEGORIES = ("agent_multi_step", "agent_multi_turn")
CATEGORIES = NORMAL_CATEGORIES + SPECIAL_CATEGORIES
"""Categories we score. The agent categories need ACEBench's simulated phone and travel
environments to produce results and are not supported yet."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AceEntry:
    """One ACEBench entry."""

    id: str
    """E.g. ``normal_atom_bool_3`` or ``normal_multi_turn_user_adjust_2_1`` (turn 2, item 1)."""
    question: str
    """The conversation as text: ``user: …\\nsystem: …``."""
    functions: list[dict[str, Any]]
    """Function docs."""
    answer: Any
    """``ground_truth``: ``{name: {param: value}}`` or a list of such alternatives (normal),
    ``{name: [missing params]}`` / ``{param: [wrong values]}`` (special), or a refusal text."""

    @property
    def user_text(self) -> str:
        """The last user line: what a speech suite speaks aloud."""
        lines = [ln[5:].strip() for ln in self.question.splitlines() if ln.startswith("user:")]
        return lines[-1] if lines else self.question.strip()


def _read_lines(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise ConfigError(f"no {path}; pass --data with ACEBench's data_en directory")
    return list(jsonl_records(path.read_text(encoding="utf-8"), str(path), kind="ACEBench"))


def load_category(category: str, source: Path) -> list[AceEntry]:
    """Entries of one category with their ground truth.

    Raises:
        ConfigError: unknown or unsupported category, missing or malformed files.
    """
    if category in AGENT_CATEGORIES:
        raise ConfigError(
            f"{category} needs ACEBench's simulated environments to run a model; scoring it is "
            "not supported yet"
        )
    if category not in CATEGORIES:
        raise ConfigError(
            f"unknown ACEBench category {category!r}; choose from {', '.join(CATEGORIES)}"
        )
    entries = _read_lines(source / f"data_{category}.json")
    answers = {
        a["id"]: a.get("ground_truth")
        for a in _read_lines(source / "possible_answer" / f"data_{category}.json")
    }
    out = []
    for entry in entries:
        entry_id = str(entry["id"])
        if entry_id not in answers:
            raise ConfigError(f"{entry_id} has no ground truth in {source / 'possible_answer'}")
        out.append(
            AceEntry(
                id=entry_id,
                question=str(entry.get("question", "")),
                functions=list(entry.get("function", [])),
                answer=answers[entry_id],
            )
        )
    return out
