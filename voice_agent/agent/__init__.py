"""The voice agent: turn loop, events, history. Sits on policies, tools, models and audio."""

from voice_agent.agent._agent import VoiceAgent
from voice_agent.agent._events import (
    AudioChunkEvent,
    AudioEventsEvent,
    AudioWarningEvent,
    CallStatus,
    Confirmation,
    EmotionEvent,
    Event,
    MetricsEvent,
    ReplyTextEvent,
    ToolCallEvent,
    ToolResultEvent,
    TranscriptEvent,
    TurnEndEvent,
    TurnStatus,
)
from voice_agent.agent._result import CallRecord, TurnResult
from voice_agent.agent._store import HistoryStore, default_db_path

__all__ = [
    "AudioChunkEvent",
    "AudioEventsEvent",
    "AudioWarningEvent",
    "CallRecord",
    "CallStatus",
    "Confirmation",
    "EmotionEvent",
    "Event",
    "HistoryStore",
    "MetricsEvent",
    "ReplyTextEvent",
    "ToolCallEvent",
    "ToolResultEvent",
    "TranscriptEvent",
    "TurnEndEvent",
    "TurnResult",
    "TurnStatus",
    "VoiceAgent",
    "default_db_path",
]
