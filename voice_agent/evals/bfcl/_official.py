"""The official BFCL checker, run from the pinned wheel, to cross-check our verdicts.

Evaluators should not have to trust us: this imports ``ast_checker`` straight from the
``bfcl-eval`` wheel (a zip on ``sys.path``; nothing installed). Its ``model_config`` module
imports every API client of the leaderboard, and only one field of it matters to the checker
(``underscore_to_dot``), so that one module is replaced by a small stand-in before import. The
checker's own code runs unmodified. Only ever loaded on request (tests, benchmarks).
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["OfficialChecker", "load_official_checker"]

OfficialChecker = Callable[[Sequence[Any], Sequence[Any], Sequence[Any], str, bool], dict[str, Any]]
"""``(docs, decoded, answer, category, underscore_to_dot) -> {"valid", "error_type", ...}``"""


class _ModelConfig:
    def __init__(self, underscore_to_dot: bool) -> None:
        self.underscore_to_dot = underscore_to_dot


def load_official_checker(wheel: Path) -> OfficialChecker:
    """The official ``ast_checker`` from ``wheel`` (see :func:`fetch_official_wheel`)."""
    stub = types.ModuleType("bfcl_eval.constants.model_config")
    stub.MODEL_CONFIG_MAPPING = {  # type: ignore[attr-defined]
        "voice-agent/dot": _ModelConfig(False),
        "voice-agent/underscore": _ModelConfig(True),
    }
    sys.modules["bfcl_eval.constants.model_config"] = stub
    sys.path.insert(0, str(wheel))
    try:
        from bfcl_eval.constants.enums import Language  # type: ignore[import-not-found]
        from bfcl_eval.eval_checker.ast_eval.ast_checker import (  # type: ignore[import-not-found]
            ast_checker,
        )
    finally:
        sys.path.remove(str(wheel))

    def check(
        docs: Sequence[Any],
        decoded: Sequence[Any],
        answer: Sequence[Any],
        category: str,
        underscore_to_dot: bool,
    ) -> dict[str, Any]:
        model = "voice-agent_underscore" if underscore_to_dot else "voice-agent_dot"
        result: dict[str, Any] = ast_checker(
            docs, decoded, answer, Language.PYTHON, category, model
        )
        return result

    return check
