"""The speaker prompt's features: Whisper log-mel (speech tokenizer), Kaldi fbank (speaker
embedding), the flow's prompt mel at 24 kHz."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from voice_agent.models.cosyvoice3._config import CosyVoice3Config

__all__ = ["SpeakerPrompt", "kaldi_fbank", "prompt_mel", "whisper_log_mel"]

# ---------------------------------------------------------------------------------------------
# Speaker prompt features
# ---------------------------------------------------------------------------------------------


def _mel_filters(n_fft: int, bins: int, rate: int, fmin: float, fmax: float) -> torch.Tensor:
    """Slaney-style mel filters (librosa's defaults), (bins, n_fft // 2 + 1)."""
    from transformers.audio_utils import mel_filter_bank

    filters = mel_filter_bank(
        num_frequency_bins=n_fft // 2 + 1,
        num_mel_filters=bins,
        min_frequency=fmin,
        max_frequency=fmax,
        sampling_rate=rate,
        norm="slaney",
        mel_scale="slaney",
    )
    return torch.from_numpy(np.asarray(filters, np.float32).T)


@functools.cache
def _whisper_extractor(bins: int) -> Any:
    from transformers import WhisperFeatureExtractor

    return WhisperFeatureExtractor(feature_size=bins)  # type: ignore[no-untyped-call]


def whisper_log_mel(samples: np.ndarray, bins: int = 128) -> torch.Tensor:
    """Whisper's log-mel of 16 kHz audio, (1, bins, frames at 100 Hz): transformers' extractor
    (the one Fun-Audio-Chat's processor uses), without its padding to 30 s."""
    features = _whisper_extractor(bins)(
        np.asarray(samples, np.float32),
        sampling_rate=16000,
        padding="longest",
        return_tensors="np",
    )["input_features"]
    return torch.from_numpy(features)


def kaldi_fbank(samples: np.ndarray, bins: int = 80, rate: int = 16000) -> torch.Tensor:
    """Kaldi-style log mel filterbank (25 ms frames every 10 ms, Povey window, pre-emphasis
    0.97, DC removed, no dither), (frames, bins): the speaker-embedding model's input."""
    x = torch.from_numpy(np.asarray(samples, np.float64))
    size, shift, n_fft = 400, 160, 512
    if len(x) < size:
        raise ValueError("the speaker prompt is shorter than one 25 ms frame")
    frames = x.unfold(0, size, shift)
    frames = frames - frames.mean(dim=1, keepdim=True)
    frames = torch.cat([frames[:, :1] * (1 - 0.97), frames[:, 1:] - 0.97 * frames[:, :-1]], 1)
    frames = frames * torch.hann_window(size, periodic=False, dtype=torch.float64) ** 0.85
    power = torch.fft.rfft(frames, n=n_fft).abs() ** 2

    def mel(f: torch.Tensor) -> torch.Tensor:
        return 1127.0 * torch.log(1.0 + f / 700.0)

    edges = torch.linspace(
        float(mel(torch.tensor(20.0))), float(mel(torch.tensor(rate / 2))), bins + 2,
        dtype=torch.float64,
    )  # fmt: skip
    freqs = mel(torch.arange(n_fft // 2, dtype=torch.float64) * rate / n_fft)
    left, center, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs - left) / (center - left)
    down = (right - freqs) / (right - center)
    weights = torch.clamp(torch.minimum(up, down), min=0.0)
    energies = power[:, : n_fft // 2] @ weights.T
    eps = torch.finfo(torch.float32).eps
    return torch.log(torch.clamp(energies, min=eps)).float()


def prompt_mel(samples: np.ndarray, c: CosyVoice3Config) -> torch.Tensor:
    """The flow's prompt mel of 24 kHz audio, (1, frames at 50 Hz, 80): matcha's settings."""
    audio = torch.from_numpy(np.asarray(samples, np.float32)).view(1, 1, -1)
    pad = (c.mel_n_fft - c.mel_hop) // 2
    audio = F.pad(audio, (pad, pad), mode="reflect").view(1, -1)
    spec = torch.stft(
        audio, c.mel_n_fft, c.mel_hop, c.mel_win, window=torch.hann_window(c.mel_win),
        center=False, return_complex=True,
    )  # fmt: skip
    magnitude = torch.sqrt(spec.real**2 + spec.imag**2 + 1e-9)
    fmax = c.mel_fmax if c.mel_fmax is not None else c.sample_rate / 2
    mel = _mel_filters(c.mel_n_fft, c.mel_bins, c.sample_rate, c.mel_fmin, fmax) @ magnitude
    return torch.log(torch.clamp(mel, min=1e-5)).transpose(1, 2)


@dataclass(frozen=True, slots=True)
class SpeakerPrompt:
    """What the flow stage needs from a recording of the voice to speak in."""

    tokens: torch.Tensor
    """(1, n) speech tokens at 25 Hz."""
    mel: torch.Tensor
    """(1, 2n, 80) mel frames at 50 Hz."""
    embedding: torch.Tensor
    """(1, 192) speaker embedding."""
