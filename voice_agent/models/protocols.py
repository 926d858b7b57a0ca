"""The roles a model can play, as small protocols, and the values that cross them.

Backends implement these; nothing subclasses anything. Retries, timeouts and fallback are
wrappers around a protocol, never a base class. Understanding models return the model's raw
text: parsing tool calls out of it is the tool layer's job, one level up.

What a backend can do is declared, never probed: every role that can warm up has a
``warm_up`` (a no-op where there is nothing to load), and what differs between backends of a
role (streaming, hearing audio) is a capabilities value the backend states.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

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
    "TextModelCapabilities",
    "TextToSpeech",
    "Transcript",
    "Understanding",
    "UnderstandingCapabilities",
    "UnderstandingModel",
    "UnderstandingRequest",
    "VADSettings",
    "VoiceActivityDetector",
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
    """Instructions for this turn (the reply style the policies chose). llama.cpp puts them
    after its cached prefix (system text, tools, shown exchange), so a change of style costs
    the few tokens after it, not a re-read of every tool; Fun-Audio-Chat puts them where the
    official prompt has its persona, after the mode sentence and before the tools."""
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
    unwanted: Callable[[str, Mapping[str, Any]], str | None] | None = None
    """Asked about each call as soon as the model has written it whole (tool name,
    arguments): the name of an argument whose value the caller would refuse, e.g. a
    description's example the user did not say (the agent asks its registry). A backend that
    can take tokens back (llama.cpp) decodes that value again; others ignore it. None: no
    check."""


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


@dataclass(frozen=True, slots=True, kw_only=True)
class TextModelCapabilities:
    """What a text model can do."""

    streaming: bool
    """``stream`` yields the reply as it is generated; False: in one piece when it is done."""


@runtime_checkable
class TextModel(Protocol):
    """A chat model that completes a request's text turn (tools included)."""

    name: str
    capabilities: TextModelCapabilities

    async def warm_up(self, tools: Sequence[Mapping[str, Any]] = ()) -> None:
        """Load now what the first request would load (weights, the tools' grammar, the cached
        prompt prefix); nothing for a model that has nothing to load."""
        ...

    async def complete(self, request: UnderstandingRequest) -> str:
        """The model's whole reply."""
        ...

    def stream(self, request: UnderstandingRequest) -> AsyncGenerator[str, None]:
        """The reply in pieces (as generated when ``capabilities.streaming``, else the whole
        reply as one piece); closing the generator stops the generation."""
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

    async def warm_up(self) -> None:
        """Load the model now, so the first turn does not wait for it."""
        ...

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


@dataclass(frozen=True, slots=True, kw_only=True)
class UnderstandingCapabilities:
    """What an understanding model can do."""

    streaming: bool
    """``respond`` yields the reply as it is generated (the voice starts on its first sentence
    while the rest is written); False: in one piece when it is done."""
    audio_in: bool
    """``respond`` hears the user's speech itself (a speech-native model), so the agent sends
    the turn's audio with every step; False: it reads the transcript from the history."""


@runtime_checkable
class UnderstandingModel(Protocol):
    """Speech or text in, the model's reply (words and tool calls) out."""

    name: str
    capabilities: UnderstandingCapabilities

    async def warm_up(self, tools: Sequence[Mapping[str, Any]] = ()) -> None:
        """Load now what the first turn would load (weights, the tools' grammar, a cached
        prompt prefix), so that the first turn is as quick as the next."""
        ...

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

    def respond(self, request: UnderstandingRequest) -> AsyncGenerator[str, None]:
        """The reply to the request's text and history, in pieces (see ``capabilities``)."""
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

    @property
    def fingerprint(self) -> str:
        """What renders this voice's speech, as a digest: it changes when the voice's model,
        its config, the programs it runs or our code that makes text speakable change, so a
        cache of synthesized speech keyed on it never serves audio rendered before the change
        (see ``voice_agent.models._fingerprint``)."""
        ...

    async def warm_up(self) -> None:
        """Load the voice now (otherwise on first use); nothing for a voice with nothing to
        load."""
        ...

    def synthesize(
        self, text: str, instruction: TTSInstruction | None = None
    ) -> AsyncIterator[AudioChunk]:
        """Speak ``text``; chunks arrive as they are ready."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class VADSettings:
    """How eagerly speech starts and how patiently it ends (the endpointer's smoothing of a
    detector's per-window probabilities)."""

    threshold: float = 0.5
    """Probability above which a window counts as speech."""
    off_threshold: float = 0.35
    """Probability below which a window counts as silence (hysteresis)."""
    min_speech_ms: float = 200
    """Shorter bursts (clicks, coughs) are not speech."""
    hangover_ms: float = 600
    """Silence needed before speech is declared over: the end-of-turn delay."""
    pad_ms: float = 100
    """Kept around each segment so that word edges are not clipped."""


@runtime_checkable
class VoiceActivityDetector(Protocol):
    """Speech probability, window by window, of a live 16 kHz stream.

    One instance follows one stream (a detector may carry state from window to window); the
    listening loop cuts utterances out of the probabilities with an endpointer built from
    ``settings``.
    """

    name: str
    settings: VADSettings
    """The endpointing that suits this detector's probabilities."""

    @property
    def window_samples(self) -> int:
        """Samples per probability, at 16 kHz."""
        ...

    def reset(self) -> None:
        """Forget the stream so far, before a new one."""
        ...

    def stream_probability(self, window: npt.NDArray[np.float32]) -> float:
        """The speech probability (0-1) of the stream's next ``window_samples`` samples."""
        ...
