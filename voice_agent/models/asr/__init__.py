"""Speech recognition backends."""

from voice_agent.models.asr.whisper import WHISPER_BASE, WhisperASR, whisper_base_dir

__all__ = ["WHISPER_BASE", "WhisperASR", "whisper_base_dir"]
