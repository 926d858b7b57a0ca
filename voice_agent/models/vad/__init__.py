"""Voice activity detection and endpointing."""

from voice_agent.models.vad.silero import Endpointer, SileroVAD, SpeechSegment, VADSettings

__all__ = ["Endpointer", "SileroVAD", "SpeechSegment", "VADSettings"]
