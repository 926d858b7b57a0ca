"""Audio in and out: validation, resampling, files, augmentation. Imports nothing of ours but
the foundation."""

from voice_agent.audio._audio import (
    MODEL_RATE,
    Audio,
    AudioError,
    load_audio,
    prepare,
    wav_truncation,
)
from voice_agent.audio._augment import add_noise, change_speed
from voice_agent.audio._stream import (
    AudioOutput,
    AudioStream,
    BufferOutput,
    FileStream,
    SoundDeviceInput,
    SoundDeviceOutput,
)

__all__ = [
    "MODEL_RATE",
    "Audio",
    "AudioError",
    "AudioOutput",
    "AudioStream",
    "BufferOutput",
    "FileStream",
    "SoundDeviceInput",
    "SoundDeviceOutput",
    "add_noise",
    "change_speed",
    "load_audio",
    "prepare",
    "wav_truncation",
]
