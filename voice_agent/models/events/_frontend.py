"""YAMNet's input: log-mel patches of 0.96 s, from 16 kHz audio, in numpy.

The published YAMNet front end: a magnitude STFT of 25 ms periodic-Hann frames every 10 ms
(FFT of 512 points), 64 mel bands from 125 to 7500 Hz on the HTK mel scale (triangles linear in
mel, the DC bin left out), ``log(mel + 0.001)``, cut into patches of 96 frames (0.96 s) every
48 frames (0.48 s). Audio shorter than one patch is padded with silence to one.
"""

from __future__ import annotations

from functools import cache

import numpy as np

__all__ = [
    "PATCH_FRAMES",
    "PATCH_HOP_FRAMES",
    "SAMPLE_RATE",
    "log_mel",
    "mel_matrix",
    "patches",
]

SAMPLE_RATE = 16_000
WINDOW = 400
"""25 ms."""
HOP = 160
"""10 ms."""
FFT = 512
BANDS = 64
LOW_HZ, HIGH_HZ = 125.0, 7500.0
LOG_OFFSET = 0.001
PATCH_FRAMES = 96
"""0.96 s of frames: one model input."""
PATCH_HOP_FRAMES = 48
"""0.48 s between patches."""


def _mel(hz: np.ndarray) -> np.ndarray:
    return 1127.0 * np.log1p(hz / 700.0)


@cache
def mel_matrix() -> np.ndarray:
    """``[FFT // 2 + 1, BANDS]`` weights from the magnitude spectrum to the mel bands."""
    bins = np.linspace(0.0, SAMPLE_RATE / 2, FFT // 2 + 1)
    mels = _mel(bins)
    edges = np.linspace(_mel(np.array(LOW_HZ)), _mel(np.array(HIGH_HZ)), BANDS + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (mels[:, None] - lower) / (center - lower)
    falling = (upper - mels[:, None]) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0  # the DC bin carries no band
    matrix: np.ndarray = weights.astype(np.float32)
    return matrix


@cache
def _window() -> np.ndarray:
    n = np.arange(WINDOW)
    return (0.5 - 0.5 * np.cos(2 * np.pi * n / WINDOW)).astype(np.float32)  # periodic Hann


def log_mel(samples: np.ndarray) -> np.ndarray:
    """``[frames, BANDS]`` log-mel energies of 16 kHz mono ``samples`` (at least one patch's
    worth of frames: shorter audio is padded with silence)."""
    samples = np.asarray(samples, dtype=np.float32)
    needed = WINDOW + (PATCH_FRAMES - 1) * HOP
    if len(samples) < needed:
        samples = np.pad(samples, (0, needed - len(samples)))
    count = 1 + (len(samples) - WINDOW) // HOP
    index = np.arange(WINDOW)[None, :] + HOP * np.arange(count)[:, None]
    frames = samples[index] * _window()
    magnitude = np.abs(np.fft.rfft(frames, n=FFT, axis=1)).astype(np.float32)
    energies: np.ndarray = np.log(magnitude @ mel_matrix() + LOG_OFFSET)
    return energies


def patches(samples: np.ndarray) -> np.ndarray:
    """``[n, PATCH_FRAMES, BANDS]`` model inputs: one every 0.48 s; the last patch reaches the
    end of the audio (padded with the quietest value when the frames run out)."""
    energies = log_mel(samples)
    count = 1 + max(0, -(-(len(energies) - PATCH_FRAMES) // PATCH_HOP_FRAMES))
    total = PATCH_FRAMES + (count - 1) * PATCH_HOP_FRAMES
    if total > len(energies):
        quiet = np.full((total - len(energies), BANDS), np.log(LOG_OFFSET), dtype=np.float32)
        energies = np.concatenate([energies, quiet])
    starts = PATCH_HOP_FRAMES * np.arange(count)
    return np.stack([energies[s : s + PATCH_FRAMES] for s in starts])
