"""Model roles (protocols) and backends. Depends on ``audio`` only."""

from voice_agent.models.protocols import (
    EMOTIONS,
    AudioChunk,
    Emotion,
    EmotionEstimate,
    Message,
    TextToSpeech,
    TTSInstruction,
    Understanding,
    UnderstandingModel,
    UnderstandingRequest,
)

__all__ = [
    "EMOTIONS",
    "AudioChunk",
    "Emotion",
    "EmotionEstimate",
    "Message",
    "TTSInstruction",
    "TextToSpeech",
    "Understanding",
    "UnderstandingModel",
    "UnderstandingRequest",
]
