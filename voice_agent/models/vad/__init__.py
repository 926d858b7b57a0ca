"""Voice activity detection (Silero by default, or any
:class:`~voice_agent.models.protocols.VoiceActivityDetector`) and endpointing."""

from voice_agent.models.protocols import VADSettings, VoiceActivityDetector
from voice_agent.models.vad.endpointer import Endpointer, VADEvent
from voice_agent.models.vad.energy import EnergyVAD
from voice_agent.models.vad.silero import SileroVAD, SpeechSegment

__all__ = [
    "Endpointer",
    "EnergyVAD",
    "SileroVAD",
    "SpeechSegment",
    "VADEvent",
    "VADSettings",
    "VoiceActivityDetector",
]
