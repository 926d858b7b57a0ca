"""Spoken queries: synthesized once per text and voice (cached by content hash), or read from a
folder of a user's own recordings (one file per entry id), then degraded on request (noise at
an SNR, speed) the same way on every run."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from voice_agent.audio import Audio, add_noise, change_speed, load_audio
from voice_agent.errors import ConfigError
from voice_agent.models import TextToSpeech, TTSInstruction

__all__ = ["RECORDING_SUFFIXES", "Augmentation", "RecordedSpeech", "SpeechCache", "SpeechSource"]

RECORDING_SUFFIXES = (".wav", ".flac", ".ogg")
"""The file types a recordings folder may hold (what libsndfile reads without extra codecs)."""


class SpeechSource(Protocol):
    """Where a spoken sample's audio comes from: a voice, or recordings."""

    async def speech(self, text: str, sample_id: str = "") -> Audio:
        """The clean spoken ``text`` of sample ``sample_id``, at 16 kHz."""
        ...


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

    A file is named by the key of everything that renders it: the voice's
    :attr:`~voice_agent.models.TextToSpeech.fingerprint` (its model and config, espeak-ng's
    version, our text-to-speakable code), the instruction it speaks with (speed, volume, …)
    and the text. Change any of them and the audio is rendered anew; the old files stay
    beside (remove the folder to reclaim them). An :class:`Augmentation` (noise, speed
    change) is not part of the key: it is applied to the clean audio read from here, on
    every run, so one cached file serves every condition of a sweep.

    Args:
        tts: the voice.
        folder: where the WAV files live.
        instruction: how the voice speaks the queries (default: as it speaks by default).
    """

    def __init__(
        self, tts: TextToSpeech, folder: Path, instruction: TTSInstruction | None = None
    ) -> None:
        self.tts, self.folder = tts, folder
        self.instruction = instruction or TTSInstruction()
        self.voice = tts.fingerprint
        """The voice's fingerprint, read once: a run's keys stay the same while it runs."""
        folder.mkdir(parents=True, exist_ok=True)
        self.synthesized = 0
        self.reused = 0

    def key(self, text: str) -> str:
        """The cache key of ``text`` spoken by this voice with this instruction."""
        parts = (self.tts.name, self.voice, repr(self.instruction), text)
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()

    def path_for(self, text: str) -> Path:
        """Where the clean audio of ``text`` is (or will be) cached."""
        return self.folder / f"{self.key(text)[:32]}.wav"

    async def speech(self, text: str, sample_id: str = "") -> Audio:
        """The clean spoken ``text`` at 16 kHz (``sample_id`` is not needed: the voice reads
        the text)."""
        path = self.path_for(text)
        if path.exists():
            self.reused += 1
            return load_audio(path)
        chunks = [c.audio async for c in self.tts.synthesize(text, self.instruction)]
        samples = [c.resampled(16_000).samples for c in chunks]
        audio = Audio(samples=np.concatenate(samples).astype(np.float32), sample_rate=16_000)
        # A name of its own: two samples in flight with the same text each write their own
        # file, and the rename is atomic, so a killed run never leaves half a WAV behind.
        partial = path.with_suffix(f".{uuid.uuid4().hex[:8]}.part")
        audio.save(partial)
        partial.replace(path)
        self.synthesized += 1
        return audio


class RecordedSpeech:
    """A folder of a user's own recordings, one per entry: ``<entry id>.wav`` (or ``.flac``,
    ``.ogg``), any rate or channel count (converted to 16 kHz mono as every input is), so the
    spoken suites run on real speakers unchanged, e.g. ACEBench's Mandarin read aloud.

    Args:
        folder: the recordings.

    Raises:
        ConfigError: the folder does not exist.
    """

    def __init__(self, folder: Path) -> None:
        if not folder.is_dir():
            raise ConfigError(
                f"no recordings folder {folder}; pass --audio-dir with one file per entry id"
            )
        self.folder = folder
        self.read = 0

    def path_for(self, sample_id: str) -> Path | None:
        """The recording of ``sample_id``, or None when there is none."""
        for suffix in RECORDING_SUFFIXES:
            path = self.folder / f"{sample_id}{suffix}"
            if path.is_file():
                return path
        return None

    def check(self, sample_ids: list[str]) -> None:
        """Refuse before a run starts when an entry has no recording.

        Raises:
            ConfigError: naming how many are missing and the first few files expected.
        """
        missing = [i for i in sample_ids if self.path_for(i) is None]
        if missing:
            shown = ", ".join(f"{i}.wav" for i in missing[:5])
            raise ConfigError(
                f"{len(missing)} of {len(sample_ids)} entries have no recording in "
                f"{self.folder} (expected e.g. {shown}); record them, or pass --limit / "
                "--category to run the ones you have"
            )

    async def speech(self, text: str, sample_id: str = "") -> Audio:
        """The recording of ``sample_id`` at 16 kHz (``text`` is what it should say, kept for
        the word error rate by the caller).

        Raises:
            ConfigError: no recording of that entry (the message names the file expected).
        """
        path = self.path_for(sample_id)
        if path is None:
            raise ConfigError(
                f"no recording of {sample_id} in {self.folder}: expected {sample_id}.wav "
                f"(or {', '.join(RECORDING_SUFFIXES[1:])}) saying {text!r}"
            )
        self.read += 1
        return load_audio(path)
