"""A turn and its events as JSON: the one shape ``run --json``, ``POST /v1/turns`` and the
WebSocket sessions share, so a program reading one reads them all."""

from __future__ import annotations

import dataclasses
from typing import Any

from voice_agent.agent import (
    AudioChunkEvent,
    AudioEventsEvent,
    EmotionEvent,
    Event,
    ToolCallEvent,
    ToolResultEvent,
    TurnResult,
)
from voice_agent.audio import Audio
from voice_agent.models import AudioEvent, EmotionEstimate

__all__ = ["audio_announcement", "emotion_dict", "event_dict", "sounds_dict", "turn_dict"]


def sounds_dict(events: tuple[AudioEvent, ...]) -> list[dict[str, Any]]:
    """Sounds heard, each with its label, AudioSet class, score and times (seconds)."""
    return [dataclasses.asdict(e) for e in events]


def emotion_dict(emotion: EmotionEstimate | None) -> dict[str, Any] | None:
    """Label and confidence as reported; ``raw``: the estimate under the policy's threshold."""
    if emotion is None:
        return None
    return {
        "label": emotion.label,
        "confidence": emotion.confidence,
        "raw": emotion_dict(emotion.raw),
        "source": emotion.source,
    }


def turn_dict(session_id: str, result: TurnResult, reply_audio: str | None) -> dict[str, Any]:
    """The turn as ``voice-agent run --json`` prints it.

    Args:
        session_id: the agent's session in the history store.
        result: what the turn produced.
        reply_audio: where the spoken reply is (a file path, or a URL on the server), or None.

    Built from the turn's events alone, as every other reader of a turn is.
    """
    result = TurnResult.from_events(result.events)
    return {
        "session_id": session_id,
        "transcript": result.transcript,
        "emotion": emotion_dict(result.emotion),
        "audio_events": sounds_dict(result.audio_events),
        "tool_calls": [
            {"id": c.call_id, "name": c.name, "arguments": c.arguments, "status": c.status}
            for c in result.tool_calls
        ],
        "tool_results": [
            {
                "id": c.call_id,
                "name": c.name,
                "status": c.status,
                "result": c.result,
                "error": c.error,
            }
            for c in result.tool_calls
        ],
        "warnings": [e.message for e in result.events if e.type == "audio_warning"],
        "reply_text": result.reply_text,
        "reply_audio": reply_audio,
        "timings_ms": {k: round(v, 1) for k, v in result.timings_ms.items()},
        "decisions": [
            {"policy": d.policy, "decision": d.decision, "reason": d.reason}
            for d in result.decisions
        ],
    }


def audio_announcement(audio: Audio, index: int) -> dict[str, Any]:
    """The JSON frame sent before a reply chunk's binary frame: its format and length."""
    return {
        "type": "audio_chunk",
        "index": index,
        "format": "pcm_s16le",
        "sample_rate": audio.sample_rate,
        "channels": 1,
        "samples": len(audio.samples),
        "bytes": 2 * len(audio.samples),
    }


def event_dict(event: Event) -> dict[str, Any]:
    """An event's fields by their Python names, ``type`` first; a call's event flat (id, name,
    arguments; status, value, error, kind), as the console reads it. An audio chunk's samples
    are not JSON: its frame says the format and length, and the audio follows as a binary
    frame."""
    if isinstance(event, AudioChunkEvent):
        return audio_announcement(event.audio, event.index)
    if isinstance(event, EmotionEvent):
        return {"type": event.type, "emotion": emotion_dict(event.emotion)}
    if isinstance(event, AudioEventsEvent):
        return {"type": event.type, "events": sounds_dict(event.events)}
    if isinstance(event, ToolCallEvent | ToolResultEvent):
        return _call_event(event)
    return {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}


def _call_event(event: ToolCallEvent | ToolResultEvent) -> dict[str, Any]:
    """The fields a call's event had before it carried the tool layer's values, in their
    order (the protocol page's worked example prints them), then kind and confirmation."""
    named = {"type": event.type, "call_id": event.call.id, "name": event.call.name}
    if isinstance(event, ToolCallEvent):
        arguments = dict(event.call.arguments)
        return {**named, "arguments": arguments, "confirmation": event.confirmation}
    outcome = event.result
    return {
        **named,
        "status": event.status,
        "ok": outcome.ok,
        "value": outcome.value,
        "error": outcome.error,
        "duration_ms": outcome.duration_ms,
        "kind": outcome.kind,
        "confirmation": event.confirmation,
    }
