"""Text-to-speech backends."""

from voice_agent.models.tts.espeak import EspeakTTS
from voice_agent.models.tts.fallback import FallbackTTS
from voice_agent.models.tts.language import LanguageTTS
from voice_agent.models.tts.piper import PiperTTS

__all__ = ["EspeakTTS", "FallbackTTS", "LanguageTTS", "PiperTTS"]
