"""Neutral requests in voices the estimator was never tuned on, rendered once and cached.

Voices: espeak-ng variants, the packaged Piper voice (joe) at two length scales, flite's
voices and festival's default voice (each skipped, with a note, when its program is missing),
plus the recordings in ``examples/home`` (transcribed by Whisper). Rendered WAVs are kept in
``~/.cache/voice-agent/benchmarks/neutral_voices`` keyed by voice and text.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from voice_agent.audio import Audio, load_audio
from voice_agent.models import TTSInstruction
from voice_agent.models.asr import WhisperASR
from voice_agent.models.tts import EspeakTTS, PiperTTS

REQUESTS = [
    "Set a timer for ten minutes.",
    "Turn on the kitchen lights.",
    "What is the weather tomorrow?",
    "Add milk to the shopping list.",
    "Lock the front door.",
    "Play some jazz in the living room.",
    "Set the bedroom thermostat to twenty one degrees.",
    "Remind me to call mom at six pm.",
]
ESPEAK = ["en-us+f3", "en-gb+m3", "en-us+klatt", "en-gb-scotland+f4"]
PIPER_SCALES = [0.8, 1.2]
FLITE = ["kal", "awb", "rms", "slt"]
CACHE = Path.home() / ".cache" / "voice-agent" / "benchmarks" / "neutral_voices"
HOME = Path(__file__).resolve().parents[1] / "examples" / "home"


def _cached(voice: str, text: str) -> Path:
    return CACHE / f"{hashlib.sha256(f'{voice}|{text}'.encode()).hexdigest()[:20]}.wav"


async def _run(*args: str) -> None:
    process = await asyncio.create_subprocess_exec(*args, stderr=asyncio.subprocess.PIPE)
    _, err = await process.communicate()
    if process.returncode:
        raise RuntimeError(f"{args[0]} failed ({process.returncode}): {err.decode()[-300:]}")


async def _render(voice: str, text: str, piper: PiperTTS) -> Audio:
    path = _cached(voice, text)
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        kind, _, arg = voice.partition(":")
        if kind == "espeak":
            audio = await EspeakTTS(arg).speak(text)
            sf.write(path, audio.samples, audio.sample_rate)
        elif kind == "piper":
            speed = TTSInstruction(speed=1 / float(arg))
            chunks = [c.audio async for c in piper.synthesize(text, speed)]
            samples = np.concatenate([c.samples for c in chunks])
            sf.write(path, samples, chunks[0].sample_rate)
        elif kind == "flite":
            await _run("flite", "-voice", arg, "-t", text, "-o", str(path))
        else:  # festival
            with tempfile.NamedTemporaryFile("w", suffix=".txt") as script:
                script.write(text)
                script.flush()
                await _run("text2wave", script.name, "-o", str(path))
    return load_audio(path.read_bytes())


def voices() -> list[str]:
    """The voices this machine can render (a note for each program that is missing)."""
    found = [f"espeak:{v}" for v in ESPEAK] + [f"piper:{s}" for s in PIPER_SCALES]
    for program, names in (("flite", FLITE), ("text2wave", ["default"])):
        if shutil.which(program):
            found += [f"{'flite' if program == 'flite' else 'festival'}:{n}" for n in names]
        else:
            print(f"({program} is not installed: its voices are left out)")
    return found


async def neutral_speech() -> dict[str, list[tuple[Audio, str]]]:
    """Voice → its neutral utterances (audio, transcript), in the order a session hears them."""
    piper = PiperTTS()
    speech = {v: [(await _render(v, t, piper), t) for t in REQUESTS] for v in voices()}
    whisper = WhisperASR()
    recorded = [load_audio(p.read_bytes()) for p in sorted(HOME.glob("*.wav"))]
    speech["examples/home"] = [(a, (await whisper.transcribe(a)).text) for a in recorded]
    return speech
