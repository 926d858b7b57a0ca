"""Spoken queries: synthesized once per text and voice (cached by content hash), then degraded
on request (noise at an SNR, speed) the same way on every run."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voice_agent.audio import Audio, add_noise, change_speed, load_audio
from voice_agent.models import TextToSpeech

__all__ = ["Augmentation", "SpeechCache"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Augmentation:
    """How to degrade clean synthesized speech; None leaves that aspect alone."""

    snr_db: float | None = None
    speed: float | None = None

    @property
    def label(self) -> str:
        """Short text for reports, e.g. ``snr10,speed1.2`` or ``clean``."""
        parts = []
        if self.snr_db is not None:
            parts.append(f"snr{self.snr_db:g}")
        if self.speed is not None:
            parts.append(f"speed{self.speed:g}")
        return ",".join(parts) or "clean"

    def apply(self, audio: Audio, seed_text: str) -> Audio:
        """Degrade ``audio``; the noise seed comes from ``seed_text`` (the sample id)."""
        if self.speed is not None:
            audio = change_speed(audio, self.speed)
        if self.snr_db is not None:
            seed = int.from_bytes(hashlib.sha256(seed_text.encode()).digest()[:4], "big")
            audio = add_noise(audio, self.snr_db, seed=seed)
        return audio


class SpeechCache:
    """Synthesize each query once; later runs (and resumed runs) read the WAV from disk.

    Args:
        tts: the voice.
        folder: where the WAV files live; the name of each is the SHA-256 of voice and text.
    """

    def __init__(self, tts: TextToSpeech, folder: Path) -> None:
        self.tts, self.folder = tts, folder
        folder.mkdir(parents=True, exist_ok=True)
        self.synthesized = 0
        self.reused = 0

    def path_for(self, text: str) -> Path:
        """Where the clean audio of ``text`` is (or will be) cached."""
        key = hashlib.sha256(f"{self.tts.name}\0{text}".encode()).hexdigest()
        return self.folder / f"{key[:32]}.wav"

    async def speech(self, text: str) -> Audio:
        """The clean spoken ``text`` at 16 kHz."""
        path = self.path_for(text)
        if path.exists():
            self.reused += 1
            return load_audio(path)
        chunks = [chunk.audio async for chunk in self.tts.synthesize(text)]
        samples = [c.resampled(16_000).samples for c in chunks]
        audio = Audio(samples=np.concatenate(samples).astype(np.float32), sample_rate=16_000)
        partial = path.with_suffix(".part")
        audio.save(partial)
        partial.replace(path)  # atomic: a killed run never leaves half a WAV behind
        self.synthesized += 1
        return audio
