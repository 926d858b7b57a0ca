"""Confirmation of risky calls: a ``confirm=True`` tool never runs until the user says yes.

The agent asks in speech; the next turn is read for yes, no, or a repeat of the request (which
counts as yes). Anything else cancels. A turn heard in Chinese is asked in Chinese, and its
answer read for Chinese yes and no words too. Without a way to ask (a non-interactive run), the call
does not run.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Literal

from voice_agent.policies._decisions import PolicyDecision
from voice_agent.tools import Tool, ToolCall

__all__ = ["ConfirmationPolicy", "PendingConfirmation"]

_YES = re.compile(
    r"\b(yes|yeah|yep|yup|sure|ok|okay|confirm(ed)?|go ahead|do it|please do|"
    r"affirmative|correct|right|absolutely)\b",
    re.IGNORECASE,
)
_NO = re.compile(
    r"\b(no|nope|nah|don'?t|do not|cancel|stop|never ?mind|negative|wait|"
    r"abort)\b",
    re.IGNORECASE,
)

_YES_ZH = re.compile(r"是的|是啊|^是|好的|好啊|^好|可以|确定|确认|没问题|当然|对的|^对|^行")
_NO_ZH = re.compile(r"不|别|取消|算了|停")
"""Chinese has no word boundaries: a no is any negation (不 in 不要, 不用, 不行, 不是 …), checked
first, so that 不好 is a no; a one-character yes (是, 好, 对, 行) counts only at the start."""
_QUESTION_ZH = "这个操作需要您的确认。要我继续吗？请说“是”或者“不”。"


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingConfirmation:
    """A call waiting for the user's yes."""

    call: ToolCall
    request_text: str
    """What the user said when asking for it (a repeat of it confirms)."""
    question: str


def action(call: ToolCall, tool: Tool | None) -> str:
    """What a call does, from the first sentence of its tool's description (docstrings are
    imperative: "Start a countdown timer."), lowercased to sit inside a sentence: "start a
    countdown timer"; the tool's name in words when it has no description."""
    first = (tool.description if tool else "").strip().split("\n")[0]
    first = re.split(r"(?<=[.!?])\s", first)[0].rstrip(".!?") if first else ""
    return (first[:1].lower() + first[1:]) if first else call.name.replace("_", " ")


def describe(call: ToolCall, tool: Tool | None) -> str:
    """A short spoken description of a call with its arguments: "unlock the front door"."""
    action_ = action(call, tool)
    if call.arguments:
        details = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in call.arguments.items())
        action_ = f"{action_} ({details})"
    return action_


class ConfirmationPolicy:
    """Decides how to ask and reads the answer.

    Args:
        interactive: the agent can ask and hear an answer; False refuses every risky call.
        repeat_similarity: how close a repeated request must be (0-1) to count as yes.
    """

    def __init__(self, *, interactive: bool = True, repeat_similarity: float = 0.8) -> None:
        self.interactive = interactive
        self.repeat_similarity = repeat_similarity

    def ask(
        self, call: ToolCall, tool: Tool | None, request_text: str, language: str | None = None
    ) -> tuple[PendingConfirmation | None, PolicyDecision]:
        """What to do with a risky call: ask (interactive) or refuse. ``language``: the turn's
        (``zh`` asks in Chinese; the call's description, English, is left out then)."""
        if not self.interactive:
            return None, PolicyDecision(
                policy="confirmation",
                decision="refused",
                reason=f"{call.name!r} needs confirmation and this run cannot ask for it",
            )
        question = (
            _QUESTION_ZH
            if language == "zh"
            else f"Do you want me to {describe(call, tool)}? Please say yes or no."
        )
        pending = PendingConfirmation(call=call, request_text=request_text, question=question)
        return pending, PolicyDecision(
            policy="confirmation", decision="ask", reason=f"{call.name!r} is marked confirm=True"
        )

    def answer(
        self, pending: PendingConfirmation, reply: str
    ) -> tuple[Literal["yes", "no"], PolicyDecision]:
        """Read the user's answer to a pending question; anything unclear is no."""
        text = reply.strip()
        similarity = difflib.SequenceMatcher(
            None, text.lower(), pending.request_text.lower()
        ).ratio()
        verdict: Literal["yes", "no"]
        if _NO.search(text) or _NO_ZH.search(text):
            verdict, reason = "no", f"heard a no in {text!r}"
        elif _YES.search(text) or _YES_ZH.search(text):
            verdict, reason = "yes", f"heard a yes in {text!r}"
        elif similarity >= self.repeat_similarity:
            verdict, reason = "yes", f"the request was repeated (similarity {similarity:.2f})"
        else:
            verdict, reason = "no", f"no clear yes in {text!r}: cancelled to be safe"
        decision = "confirmed" if verdict == "yes" else "refused"
        return verdict, PolicyDecision(policy="confirmation", decision=decision, reason=reason)
