"""Profiles: named bundles of backends, chosen on the command line or in code.

Models are loaded lazily and once per process: every session (and every eval sample) asking
for the same profile shares the same loaded weights.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from voice_agent.errors import ConfigError
from voice_agent.models.protocols import TextToSpeech, UnderstandingModel

__all__ = ["PROFILES", "Profile", "load_profile"]

PROFILES = ("cpu-default", "gpu", "remote")


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """The backends an agent or an eval run uses."""

    name: str
    understanding: UnderstandingModel
    tts: TextToSpeech


_shared: dict[str, Profile] = {}
_lock = threading.Lock()


def _cpu_default() -> Profile:
    from voice_agent.models.asr import WhisperASR
    from voice_agent.models.cascade import CascadeUnderstanding
    from voice_agent.models.emotion import ProsodyEmotion
    from voice_agent.models.llm import LlamaCppLLM
    from voice_agent.models.tts import EspeakTTS, FallbackTTS, PiperTTS

    understanding = CascadeUnderstanding(WhisperASR(), LlamaCppLLM(), ProsodyEmotion())
    return Profile(
        name="cpu-default", understanding=understanding, tts=FallbackTTS(PiperTTS(), EspeakTTS())
    )


def _remote(url: str, **options: Any) -> Profile:
    from voice_agent.models.asr import WhisperASR
    from voice_agent.models.cascade import CascadeUnderstanding
    from voice_agent.models.remote import OpenAICompatibleLLM
    from voice_agent.models.tts import PiperTTS

    llm = OpenAICompatibleLLM(url, **options)
    return Profile(
        name=f"remote:{url}", understanding=CascadeUnderstanding(WhisperASR(), llm), tts=PiperTTS()
    )


def load_profile(name: str, **options: Any) -> Profile:
    """The profile called ``name``, built on first use and shared afterwards.

    ``remote:URL`` (or ``remote`` with ``url=``) uses an OpenAI-compatible server at URL for
    the language model, with the embedded speech recognition and voice.

    Raises:
        ConfigError: unknown profile, or one that is not available yet.
    """
    key = f"{name} {sorted(options.items())}"
    with _lock:
        if key in _shared:
            return _shared[key]
        if name == "cpu-default":
            profile = _cpu_default()
        elif name.startswith("remote:") or (name == "remote" and "url" in options):
            url = options.pop("url", None) or name.removeprefix("remote:")
            profile = _remote(url, **options)
        elif name in ("gpu", "remote"):
            raise ConfigError(
                f"the {name} profile is not available yet; use cpu-default (embedded, offline)"
            )
        else:
            raise ConfigError(f"unknown profile {name!r}; choose from {', '.join(PROFILES)}")
        _shared[key] = profile
        return profile
