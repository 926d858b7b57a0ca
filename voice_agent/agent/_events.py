"""Typed events for every stage of a turn; ``Event`` is their union, consumers ``match`` on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from voice_agent.audio import Audio
from voice_agent.models import EmotionEstimate
from voice_agent.policies import PolicyDecision

__all__ = [
    "AudioChunkEvent",
    "AudioWarningEvent",
    "EmotionEvent",
    "Event",
    "MetricsEvent",
    "ReplyTextEvent",
    "ToolCallEvent",
    "ToolResultEvent",
    "TranscriptEvent",
]

CallStatus = Literal["ran", "refused", "needs confirmation", "failed", "cancelled"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TranscriptEvent:
    """What the user said (or typed)."""

    type: Literal["transcript"] = "transcript"
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioWarningEvent:
    """Something wrong with the input audio that did not stop the turn (a file cut short)."""

    type: Literal["audio_warning"] = "audio_warning"
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EmotionEvent:
    """How the user sounded, as the emotion policy reports it: a label under its confidence
    threshold is neutral here, the estimator's own label kept in ``emotion.raw``."""

    type: Literal["emotion"] = "emotion"
    emotion: EmotionEstimate


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallEvent:
    """The model asked for a call (before it runs, or instead of running)."""

    type: Literal["tool_call"] = "tool_call"
    call_id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolResultEvent:
    """What came of a call."""

    type: Literal["tool_result"] = "tool_result"
    call_id: str
    name: str
    status: CallStatus
    ok: bool
    value: Any = None
    error: str | None = None
    duration_ms: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyTextEvent:
    """A sentence of the spoken reply, as it is sent to the voice."""

    type: Literal["reply_text"] = "reply_text"
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioChunkEvent:
    """A piece of the spoken reply."""

    type: Literal["audio_chunk"] = "audio_chunk"
    audio: Audio
    index: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricsEvent:
    """Timings of the turn, milliseconds."""

    type: Literal["metrics"] = "metrics"
    timings_ms: dict[str, float] = field(default_factory=dict)


Event = (
    AudioWarningEvent
    | TranscriptEvent
    | EmotionEvent
    | ToolCallEvent
    | ToolResultEvent
    | ReplyTextEvent
    | AudioChunkEvent
    | MetricsEvent
    | PolicyDecision
)
"""Everything a turn emits, in order."""
