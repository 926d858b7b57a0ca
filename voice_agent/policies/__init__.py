"""Policies: how to answer (emotion), whether to run (confirmation), what to ask (clarification).

Every decision is a :class:`PolicyDecision` with its reason.
"""

from voice_agent.policies._clarification import ClarificationPolicy
from voice_agent.policies._confirmation import (
    ConfirmationPolicy,
    PendingConfirmation,
    action,
    describe,
)
from voice_agent.policies._decisions import PolicyDecision
from voice_agent.policies._emotion import EmotionPolicy, ReplyStyle

__all__ = [
    "ClarificationPolicy",
    "ConfirmationPolicy",
    "EmotionPolicy",
    "PendingConfirmation",
    "PolicyDecision",
    "ReplyStyle",
    "action",
    "describe",
]
