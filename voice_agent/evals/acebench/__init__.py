"""ACEBench (English): data, the checker with the official semantics, scoring and summary."""

from voice_agent.evals.acebench._checker import check_normal, check_special
from voice_agent.evals.acebench._data import (
    AGENT_CATEGORIES,
    CATEGORIES,
    MULTI_TURN_CATEGORIES,
    NORMAL_CATEGORIES,
    SPECIAL_CATEGORIES,
    AceEntry,
    load_category,
)
from voice_agent.evals.acebench._score import (
    AceScore,
    acebench_summary,
    decode_ace,
    multi_turn_accuracy,
    outermost_brackets,
    score_ace,
    score_ace_lines,
)

__all__ = [
    "AGENT_CATEGORIES",
    "CATEGORIES",
    "MULTI_TURN_CATEGORIES",
    "NORMAL_CATEGORIES",
    "SPECIAL_CATEGORIES",
    "AceEntry",
    "AceScore",
    "acebench_summary",
    "check_normal",
    "check_special",
    "decode_ace",
    "load_category",
    "multi_turn_accuracy",
    "outermost_brackets",
    "score_ace",
    "score_ace_lines",
]
