"""Typed events for every stage of a turn; ``Event`` is their union, consumers ``match`` on it.

The events are the turn's one record: ``TurnResult``, the history store, the command line and
the server all read them. A call's events carry the tool layer's own ``ToolCall`` and
``ToolResult`` (its ``kind`` kept) and the confirmation decision; ``status`` is the one place
a result's kind is said as a word.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from voice_agent.audio import Audio
from voice_agent.models import AudioEvent, EmotionEstimate
from voice_agent.policies import PolicyDecision
from voice_agent.tools import ToolCall, ToolResult

__all__ = [
    "AudioChunkEvent",
    "AudioEventsEvent",
    "AudioWarningEvent",
    "CallStatus",
    "Confirmation",
    "EmotionEvent",
    "Event",
    "MetricsEvent",
    "ReplyTextEvent",
    "ToolCallEvent",
    "ToolResultEvent",
    "TranscriptEvent",
    "TurnEndEvent",
    "TurnStatus",
]

CallStatus = Literal["ran", "refused", "needs confirmation", "failed", "cancelled"]
"""A result's kind as a word for people (the history, ``run --json``): every failure the
model can act on is ``failed``; the kind itself stays on the result."""
Confirmation = Literal["not needed", "ask", "confirmed", "refused"]
"""What was decided about running a call: the confirmation policy's decisions, or ``not
needed`` for a tool without ``confirm=True``."""
TurnStatus = Literal["answered", "asked", "refused", "gave_up", "not_heard", "interrupted"]
"""How a turn ended."""
_STATUS: dict[str, CallStatus] = {
    "ok": "ran",
    "needs_confirmation": "needs confirmation",
    "refused": "refused",
    "cancelled": "cancelled",
}


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
class AudioEventsEvent:
    """The sounds heard in the turn's audio besides the words (laughter, a doorbell, a smoke
    alarm …), by the profile's audio-event detector; told for every spoken turn it listened
    to, an empty ``events`` included."""

    type: Literal["audio_events"] = "audio_events"
    events: tuple[AudioEvent, ...] = ()

    @property
    def labels(self) -> list[str]:
        """The events' labels, each once, in order."""
        return list(dict.fromkeys(e.label for e in self.events))


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallEvent:
    """The model asked for a call, and what was decided about running it (before it runs, or
    instead of running)."""

    type: Literal["tool_call"] = "tool_call"
    call: ToolCall
    confirmation: Confirmation = "not needed"

    @property
    def call_id(self) -> str:
        return self.call.id

    @property
    def name(self) -> str:
        return self.call.name

    @property
    def arguments(self) -> dict[str, Any]:
        return dict(self.call.arguments)


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolResultEvent:
    """What came of a call: the call, the tool layer's result, and the confirmation decision
    it ran (or did not run) under."""

    type: Literal["tool_result"] = "tool_result"
    call: ToolCall
    result: ToolResult
    confirmation: Confirmation = "not needed"

    @property
    def call_id(self) -> str:
        return self.call.id

    @property
    def name(self) -> str:
        return self.call.name

    @property
    def status(self) -> CallStatus:
        return _STATUS.get(self.result.kind, "failed")

    @property
    def ok(self) -> bool:
        return self.result.ok

    @property
    def value(self) -> Any:
        return self.result.value

    @property
    def error(self) -> str | None:
        return self.result.error

    @property
    def duration_ms(self) -> float:
        return self.result.duration_ms


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
class TurnEndEvent:
    """How the turn ended and what was said in it (everything queued for the voice; the
    metrics follow)."""

    type: Literal["turn_end"] = "turn_end"
    status: TurnStatus
    reply_text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricsEvent:
    """Timings of the turn, milliseconds."""

    type: Literal["metrics"] = "metrics"
    timings_ms: dict[str, float] = field(default_factory=dict)


Event = (
    AudioWarningEvent
    | TranscriptEvent
    | EmotionEvent
    | AudioEventsEvent
    | ToolCallEvent
    | ToolResultEvent
    | ReplyTextEvent
    | AudioChunkEvent
    | TurnEndEvent
    | MetricsEvent
    | PolicyDecision
)
"""Everything a turn emits, in order; the metrics come last."""
