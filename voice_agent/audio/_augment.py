"""Degrade clean speech on purpose, to measure robustness: noise at a given SNR, speed change."""

from __future__ import annotations

import numpy as np

from voice_agent.audio._audio import Audio, AudioError

__all__ = ["add_noise", "change_speed"]


def add_noise(audio: Audio, snr_db: float, *, seed: int = 0) -> Audio:
    """White Gaussian noise scaled so that speech power / noise power = ``snr_db`` dB.

    The seed makes the same sample degrade the same way on every run (results stay comparable).
    """
    power = float(np.mean(np.square(audio.samples)))
    if power == 0.0:
        raise AudioError("cannot set an SNR on silent audio")
    noise_power = power / (10 ** (snr_db / 10))
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, np.sqrt(noise_power), len(audio.samples)).astype(np.float32)
    mixed = audio.samples + noise
    peak = float(np.max(np.abs(mixed)))
    if peak > 1.0:
        mixed = mixed / peak
    return Audio(samples=mixed.astype(np.float32), sample_rate=audio.sample_rate)


def change_speed(audio: Audio, factor: float) -> Audio:
    """Play ``factor`` times faster (pitch moves with it, like a tape): 1.2 is 20 % faster."""
    if not 0.25 <= factor <= 4.0:
        raise AudioError(f"speed factor {factor} is outside 0.25-4")
    if factor == 1.0:
        return audio
    faster = Audio(samples=audio.samples, sample_rate=round(audio.sample_rate * factor))
    resampled = faster.resampled(audio.sample_rate)
    return Audio(samples=resampled.samples, sample_rate=audio.sample_rate)
