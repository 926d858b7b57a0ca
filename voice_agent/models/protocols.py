"""The roles a model can play, as small protocols, and the values that cross them.

Backends implement these; nothing subclasses anything. Retries, timeouts and fallback are
wrappers around a protocol, never a base class. Understanding models return the model's raw
text: parsing tool calls out of it is the tool layer's job, one level up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from voice_agent.audio import Audio

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
]

Emotion = Literal["neutral", "happy", "sad", "angry", "fearful", "surprised"]
EMOTIONS: tuple[Emotion, ...] = ("neutral", "happy", "sad", "angry", "fearful", "surprised")


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """One chat message of the history."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str
    name: str | None = None
    """The tool's name, for ``role="tool"``."""
    tool_call_id: str | None = None
    """Which call a tool message answers."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Word:
    """One recognized word with its timing."""

    text: str
    start: float
    """Seconds from the start of the audio."""
    end: float
    probability: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Transcript:
    """What was said."""

    text: str
    words: tuple[Word, ...] = ()
    language: str | None = None


@runtime_checkable
class SpeechRecognizer(Protocol):
    """Audio in, transcript out."""

    name: str

    async def transcribe(self, audio: Audio, hints: Sequence[str] = ()) -> Transcript:
        """Transcribe one utterance; ``hints`` are phrases to expect (most useful first), which
        the recognizer may use as far as its model allows, or ignore."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class EmotionEstimate:
    """A label from :data:`EMOTIONS` with how sure the estimator is."""

    label: Emotion
    confidence: float
    """0-1; policies fall back to neutral below their threshold."""
    raw: EmotionEstimate | None = None
    """The estimator's own label when a policy reported this turn as neutral because that label
    was under its confidence threshold (kept for whoever wants it); None otherwise."""
    source: str | None = None
    """Which estimator gave it (e.g. ``sensevoice``, ``prosody``); None when not said."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UnderstandingRequest:
    """One turn to understand: speech or text, the history, the tools on offer."""

    audio: Audio | None = None
    """16 kHz mono speech; None for a text turn."""
    text: str | None = None
    """A typed turn, or a transcript when the caller already has one."""
    history: Sequence[Message] = ()
    tools: Sequence[Mapping[str, Any]] = ()
    """OpenAI-format function dicts (``Tool.schema``)."""
    system: str | None = None
    """Instructions for this turn (the reply style the policies chose). They close the system
    message after the tools block, so the cached system + tools prefix survives a change."""
    instructions: str | None = None
    """Instructions for this step only, placed after the history (e.g. "report the results")."""
    tool_choice: Literal["auto", "none", "required"] = "auto"
    """``none``: answer in words (tools stay in the prompt, so its cached prefix is reused);
    ``required``: answer with calls only."""
    language: str | None = None
    """The user's language when known (``zh``; a recognizer's detection); None: the cascade
    reads it from the script of the turn's text (``voice_agent.models._language``)."""
    asr_hints: Sequence[str] = ()
    """Phrases the speech recognizer should expect, most useful first (the tools' vocabulary
    and recent turns' words, built by the caller); empty: no biasing."""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    """Free-form labels (e.g. an eval sample id) that backends may log; never model input."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Understanding:
    """What an understanding model made of a turn."""

    output: str
    """The model's raw text, tool-call markup included."""
    transcript: str | None = None
    """What the user said, when the backend knows it (cascades do)."""
    emotion: EmotionEstimate | None = None
    timings_ms: Mapping[str, float] = field(default_factory=dict)
    """Per stage, e.g. ``{"asr": 120.0, "llm": 900.0}``."""


@runtime_checkable
class TextModel(Protocol):
    """A chat model that completes a request's text turn (tools included)."""

    name: str

    async def complete(self, request: UnderstandingRequest) -> str:
        """The model's whole reply."""
        ...


@runtime_checkable
class EmotionEstimator(Protocol):
    """Emotion from the voice and the words."""

    name: str

    async def estimate(
        self, audio: Audio | None, transcript: str, speaker: str = "default"
    ) -> EmotionEstimate:
        """Label and confidence; ``speaker`` keys any per-speaker state."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioEvent:
    """A sound heard in the turn's audio (laughter, a doorbell, a smoke alarm …)."""

    label: str
    """A short name (``laughter``, ``smoke_alarm``, ``music``; see
    ``voice_agent.models.events.GROUPS``), or the class's own name in snake case."""
    audioset: str
    """The AudioSet class that scored best, as AudioSet names it (``Belly laugh``)."""
    score: float
    """0-1: the detector's best score for it over the event."""
    start: float
    """Seconds from the start of the audio."""
    end: float


@runtime_checkable
class AudioEventDetector(Protocol):
    """Audio in, the sounds heard in it out."""

    name: str

    async def detect(self, audio: Audio) -> tuple[AudioEvent, ...]:
        """The events in ``audio``, in time order."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Perception:
    """What was heard, before any reply: the transcript and the speaker's emotion."""

    transcript: str
    emotion: EmotionEstimate | None = None
    timings_ms: Mapping[str, float] = field(default_factory=dict)
    language: str | None = None
    """The language the recognizer heard (``en``, ``zh``, …), when it detects one."""
    events: tuple[AudioEvent, ...] | None = None
    """Sounds heard in the audio; None when no detector listened (a typed turn, or a profile
    without the role)."""


@runtime_checkable
class UnderstandingModel(Protocol):
    """Speech or text in, the model's reply (words and tool calls) out."""

    name: str

    async def understand(self, request: UnderstandingRequest) -> Understanding:
        """Understand one turn."""
        ...


@runtime_checkable
class ConversationalModel(UnderstandingModel, Protocol):
    """An understanding model the agent can drive step by step: perceive the turn first (so
    that policies can pick a style), then stream the reply, then continue after tool results."""

    async def perceive(self, request: UnderstandingRequest) -> Perception:
        """Transcript and emotion of the turn."""
        ...

    def respond(self, request: UnderstandingRequest) -> AsyncIterator[str]:
        """The reply to the request's text and history, streamed."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class TTSInstruction:
    """How to say it; each backend maps what it can and logs what it cannot."""

    emotion: Emotion = "neutral"
    style: str | None = None
    """Free text, e.g. "calm and reassuring"."""
    speed: float = 1.0
    """1.0 normal, 0.8 slower, 1.2 faster."""
    volume: float = 1.0
    """1.0 normal, 0.5 softer."""
    pitch: float = 1.0
    """1.0 normal."""
    language: str | None = None
    """The language of the turn (``zh``), when known: a voice per language picks by it when
    the text itself does not say (digits, punctuation)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioChunk:
    """A piece of synthesized speech, in order."""

    audio: Audio
    index: int
    final: bool = False


@runtime_checkable
class TextToSpeech(Protocol):
    """Text in, audio chunks out."""

    name: str
    sample_rate: int

    def synthesize(
        self, text: str, instruction: TTSInstruction | None = None
    ) -> AsyncIterator[AudioChunk]:
        """Speak ``text``; chunks arrive as they are ready."""
        ...
