"""The agent's own sentences (not the model's), in the language of the turn.

A turn in Chinese should not hear "Sorry, I did not catch that." or a tool's English report
template: where the words are ours, they follow the language the user was heard in (the
recognizer's detection, else the script of what was typed). Languages without a table here
get English, as before.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Phrases", "phrases"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Phrases:
    """One language's fixed sentences."""

    not_heard: str
    cancelled: str
    gave_up: str
    done: str
    """Said for calls that ran when their report template is not in this language."""
    one_moment: str
    """Said while slow tools run; ``{actions}`` names them (left out where the actions, built
    from English tool descriptions, would not be in the language)."""
    cannot_confirm: str
    """A risky call refused because nobody can confirm; ``{action}`` names it when it can."""


ENGLISH = Phrases(
    not_heard="Sorry, I did not catch that. Could you say it again?",
    cancelled="Okay, I won't do that.",
    gave_up="Sorry, I could not finish that.",
    done="Done.",
    one_moment="One moment: I'll {actions}.",
    cannot_confirm="I did not {action}: it needs your confirmation, and I cannot ask for it here.",
)
CHINESE = Phrases(
    not_heard="抱歉，我没有听清楚。请您再说一遍好吗？",
    cancelled="好的，那我就不做了。",
    gave_up="抱歉，这件事我没能完成。",
    done="好的，已经办好了。",
    one_moment="请稍等，我正在处理。",
    cannot_confirm="这个操作需要您的确认，但这里无法向您确认，所以我没有执行。",
)
_BY_LANGUAGE = {"en": ENGLISH, "zh": CHINESE}


def phrases(language: str | None) -> Phrases:
    """The sentences for ``language`` (``zh``, ``en``; others and None: English)."""
    return _BY_LANGUAGE.get(language or "en", ENGLISH)
