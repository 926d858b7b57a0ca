"""What a policy decided and why: every decision is an event a test or a user can read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["PolicyDecision"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyDecision:
    """One decision of one policy."""

    type: Literal["policy"] = "policy"
    policy: Literal["emotion", "confirmation", "clarification"]
    decision: str
    """E.g. ``style:angry``, ``ask``, ``confirmed``, ``refused``, ``ask_argument``."""
    reason: str
    """Why, in words."""
