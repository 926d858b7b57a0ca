"""The voice agent: turn loop, events, history. Sits on policies, tools, models and audio."""

from voice_agent.agent._agent import CallRecord, TurnResult, VoiceAgent
from voice_agent.agent._events import (
    AudioChunkEvent,
    AudioWarningEvent,
    EmotionEvent,
    Event,
    MetricsEvent,
    ReplyTextEvent,
    ToolCallEvent,
    ToolResultEvent,
    TranscriptEvent,
)
from voice_agent.agent._store import HistoryStore, default_db_path

__all__ = [
    "AudioChunkEvent",
    "AudioWarningEvent",
    "CallRecord",
    "EmotionEvent",
    "Event",
    "HistoryStore",
    "MetricsEvent",
    "ReplyTextEvent",
    "ToolCallEvent",
    "ToolResultEvent",
    "TranscriptEvent",
    "TurnResult",
    "VoiceAgent",
    "default_db_path",
]
