"""BFCL v4: data, the AST checker with the official semantics, scoring and summaries."""

from voice_agent.evals.bfcl._checker import Verdict, check_ast
from voice_agent.evals.bfcl._data import (
    AST_CATEGORIES,
    CATEGORIES,
    RELEVANCE_CATEGORIES,
    BfclEntry,
    fetch_official_wheel,
    ground_truth_calls,
    load_category,
)
from voice_agent.evals.bfcl._decode import (
    DecodeError,
    calls_to_decoded,
    decode_result,
    is_empty_output,
    is_function_call_format,
)
from voice_agent.evals.bfcl._score import (
    CategoryScore,
    ScoredLine,
    leaderboard_summary,
    score_decoded,
    score_entry,
    score_result_lines,
)

__all__ = [
    "AST_CATEGORIES",
    "CATEGORIES",
    "RELEVANCE_CATEGORIES",
    "BfclEntry",
    "CategoryScore",
    "DecodeError",
    "ScoredLine",
    "Verdict",
    "calls_to_decoded",
    "check_ast",
    "decode_result",
    "fetch_official_wheel",
    "ground_truth_calls",
    "is_empty_output",
    "is_function_call_format",
    "leaderboard_summary",
    "load_category",
    "score_decoded",
    "score_entry",
    "score_result_lines",
]
