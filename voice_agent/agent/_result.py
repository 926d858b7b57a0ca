"""`TurnResult`: a turn's events folded into fields, for callers that want the whole turn.

It is a consumer of the event stream like the history store and the command line: every field
is read from an event (:meth:`TurnResult.add`), so it cannot tell the turn differently from
the events a program watching the stream saw.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from voice_agent.agent._events import (
    AudioChunkEvent,
    AudioEventsEvent,
    CallStatus,
    Confirmation,
    EmotionEvent,
    Event,
    MetricsEvent,
    ToolResultEvent,
    TranscriptEvent,
    TurnEndEvent,
)
from voice_agent.audio import Audio
from voice_agent.models import AudioEvent, EmotionEstimate
from voice_agent.policies import PolicyDecision
from voice_agent.tools import ResultKind

__all__ = ["CallRecord", "TurnResult"]


@dataclass(slots=True, kw_only=True)
class CallRecord:
    """A call of the turn and what came of it, read from its result event."""

    call_id: str
    name: str
    arguments: dict[str, Any]
    status: CallStatus
    kind: ResultKind = "ok"
    """The tool layer's reason (``timeout``, ``invalid_arguments``, …)."""
    confirmation: Confirmation = "not needed"
    result: Any = None
    error: str | None = None
    duration_ms: float = 0.0

    @classmethod
    def from_event(cls, event: ToolResultEvent) -> CallRecord:
        """The record a result event tells."""
        return cls(
            call_id=event.call.id,
            name=event.call.name,
            arguments=dict(event.call.arguments),
            status=event.status,
            kind=event.result.kind,
            confirmation=event.confirmation,
            result=event.result.value,
            error=event.result.error,
            duration_ms=event.result.duration_ms,
        )


@dataclass
class TurnResult:
    """Everything one turn produced."""

    transcript: str = ""
    emotion: EmotionEstimate | None = None
    audio_events: tuple[AudioEvent, ...] = ()
    """Sounds heard besides the words (empty also when no detector listened)."""
    tool_calls: list[CallRecord] = field(default_factory=list)
    reply_text: str = ""
    reply_audio: Audio | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    decisions: list[PolicyDecision] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    interrupted: bool = False
    """The user spoke over the reply (barge-in) and the turn was cut short."""
    _chunks: list[Audio] = field(default_factory=list, repr=False)

    @classmethod
    def from_events(cls, events: Iterable[Event]) -> TurnResult:
        """The turn the events tell."""
        result = cls()
        for event in events:
            result.add(event)
        return result

    def add(self, event: Event) -> None:
        """Take the next event of the turn into the fields it tells."""
        self.events.append(event)
        match event:
            case TranscriptEvent(text=text):
                self.transcript = text
            case EmotionEvent(emotion=emotion):
                self.emotion = emotion
            case AudioEventsEvent(events=events):
                self.audio_events = events
            case ToolResultEvent():
                self.tool_calls.append(CallRecord.from_event(event))
            case PolicyDecision():
                self.decisions.append(event)
            case AudioChunkEvent(audio=audio):
                self._chunks.append(audio)
            case TurnEndEvent(status=status, reply_text=text):
                self.reply_text, self.reply_audio = text, _joined(self._chunks)
                self.interrupted = self.interrupted or status == "interrupted"
            case MetricsEvent(timings_ms=timings):
                self.timings_ms = dict(timings)


def _joined(chunks: list[Audio]) -> Audio | None:
    """The reply's audio in one piece, at the first chunk's rate."""
    if not chunks:
        return None
    rate = chunks[0].sample_rate
    return Audio(
        samples=np.concatenate([c.resampled(rate).samples for c in chunks]), sample_rate=rate
    )
