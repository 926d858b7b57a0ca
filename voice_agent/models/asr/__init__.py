"""Speech recognition backends."""

from voice_agent.models.asr.whisper import WhisperASR

__all__ = ["WhisperASR"]
