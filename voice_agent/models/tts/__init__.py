"""Text-to-speech backends."""

from voice_agent.models.tts.espeak import EspeakTTS

__all__ = ["EspeakTTS"]
