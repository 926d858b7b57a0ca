"""Model roles (protocols) and backends. Depends on ``audio`` only."""

from voice_agent.models._language import text_language
from voice_agent.models._weights import cache_dir
from voice_agent.models.protocols import (
    EMOTIONS,
    AudioChunk,
    AudioEvent,
    AudioEventDetector,
    ConversationalModel,
    Emotion,
    EmotionEstimate,
    EmotionEstimator,
    Message,
    Perception,
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
    "AudioEvent",
    "AudioEventDetector",
    "ConversationalModel",
    "Emotion",
    "EmotionEstimate",
    "EmotionEstimator",
    "Message",
    "Perception",
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
    "text_language",
]
