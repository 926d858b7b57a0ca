"""Model roles (protocols) and backends. Depends on ``audio`` only."""

from voice_agent.models._weights import cache_dir
from voice_agent.models.protocols import (
    EMOTIONS,
    AudioChunk,
    Emotion,
    EmotionEstimate,
    EmotionEstimator,
    Message,
    SpeechRecognizer,
    TextModel,
    TextToSpeech,
    Transcript,
    TTSInstruction,
    Understanding,
    UnderstandingModel,
    UnderstandingRequest,
    Word,
)

__all__ = [
    "EMOTIONS",
    "AudioChunk",
    "Emotion",
    "EmotionEstimate",
    "EmotionEstimator",
    "Message",
    "SpeechRecognizer",
    "TTSInstruction",
    "TextModel",
    "TextToSpeech",
    "Transcript",
    "Understanding",
    "UnderstandingModel",
    "UnderstandingRequest",
    "Word",
    "cache_dir",
]
