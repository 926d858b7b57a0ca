"""Clarification: ask the user for an argument instead of failing the turn.

A missing required argument is asked for at once; a value that fails validation goes back to
the model once, and if it fails again for the same tool, the user is asked. The policy reads the
tool layer's problems as data (which parameter, what was expected, what it got), never the
error text meant for the model; the question is made from the parameter's description.
"""

from __future__ import annotations

import re

from voice_agent.policies._decisions import PolicyDecision
from voice_agent.tools import ArgumentProblem, Tool, ToolResult

__all__ = ["ClarificationPolicy"]

_EXAMPLE = re.compile(r",?\s*\(?\b(e\.g\.|for example\b|such as\b).*$", re.IGNORECASE)
_ARTICLE = re.compile(r"^(the|a|an)\s+", re.IGNORECASE)
_WH = re.compile(r"^(what|which|how|when|where|who)\b", re.IGNORECASE)


def _spoken(description: str) -> str:
    """A parameter's description as words for a question: no examples (the user would hear
    the value the model wrongly copied), no leading article. "The time of day, e.g. "6 pm"."
    → "time of day"; "What to remind the user of." stays a question of its own."""
    text = _EXAMPLE.sub("", description.strip()).rstrip(" .,;:")
    return _ARTICLE.sub("", text[:1].lower() + text[1:])


class ClarificationPolicy:
    """Turn invalid-argument results into a question for the user when the model cannot fix them.

    Args:
        max_invalid: invalid attempts per tool (per turn) before the user is asked.
    """

    def __init__(self, *, max_invalid: int = 2) -> None:
        self.max_invalid = max_invalid

    def question(
        self, result: ToolResult, tool: Tool | None, attempts: int, language: str | None = None
    ) -> tuple[str | None, PolicyDecision]:
        """A question for the user, or None to let the model retry; ``language`` ``zh`` asks
        in Chinese (around the parameter's description, in whatever language the tool's
        author wrote it)."""
        problem = _first(result.problems)
        param = problem.parameter if problem is not None else None
        missing = problem is not None and problem.missing
        if param is None or (not missing and attempts < self.max_invalid):
            return None, PolicyDecision(
                policy="clarification",
                decision="retry",
                reason=f"invalid arguments for {result.name!r} (attempt {attempts}); the model "
                "gets the error and may fix it",
            )
        described = param.replace("_", " ")
        if tool is not None:
            spec = tool.parameters.get("properties", {}).get(param, {})
            if isinstance(spec, dict) and spec.get("description"):
                described = _spoken(str(spec["description"]))
            if isinstance(spec, dict) and spec.get("enum"):
                options = ", ".join(str(o) for o in spec["enum"][:6])
                described = f"{described} ({options})"
        why = "is missing" if missing else f"was invalid {attempts} times"
        if language == "zh":
            asked = f"请告诉我{described.rstrip('。.？?')}，好吗？"
        elif _WH.match(described):
            asked = f"{described[:1].upper()}{described[1:]}?"
        else:
            asked = f"Which {described} should I use?"
        return (
            asked,
            PolicyDecision(
                policy="clarification",
                decision="ask_argument",
                reason=f"{param!r} for {result.name!r} {why}",
            ),
        )


def _first(problems: tuple[ArgumentProblem, ...]) -> ArgumentProblem | None:
    """The problem to ask about: a missing value first (it is asked for at once), else the
    first one in a named parameter."""
    named = [p for p in problems if p.parameter is not None]
    return next((p for p in named if p.missing), named[0] if named else None)
