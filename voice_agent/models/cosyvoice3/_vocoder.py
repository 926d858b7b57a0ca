"""Stage 3, the causal HiFT vocoder (``hift.pt``): mel → 24 kHz audio through an f0-driven sine
source, causal upsampling, Snake residual blocks and an iSTFT."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from voice_agent.models.cosyvoice3._config import CosyVoice3Config

__all__ = ["HiFTVocoder"]

# ---------------------------------------------------------------------------------------------
# 3. HiFT vocoder: mel → 24 kHz
# ---------------------------------------------------------------------------------------------


def _causal_padding(kernel: int, dilation: int = 1) -> int:
    return (kernel * dilation - dilation) // 2 * 2 + (kernel + 1) % 2


class _CausalConv(nn.Conv1d):
    """Stride-1 convolution padded on one side: the past (``left``) or the future (``right``,
    a look-ahead that streaming fills with real frames instead of zeros)."""

    def __init__(
        self, cin: int, cout: int, kernel: int, dilation: int = 1, *, side: str = "left"
    ) -> None:
        super().__init__(cin, cout, kernel, dilation=dilation)
        self.pad, self.side = _causal_padding(kernel, dilation), side

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        if context is not None:
            x = torch.cat([x, context], dim=2)
        elif self.side == "left":
            x = F.pad(x, (self.pad, 0))
        else:
            x = F.pad(x, (0, self.pad))
        return super().forward(x)


class _CausalDownsample(nn.Conv1d):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int) -> None:
        super().__init__(cin, cout, kernel, stride)
        self.pad = stride - 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, (self.pad, 0)))


class _CausalUpsample(nn.Conv1d):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int) -> None:
        super().__init__(cin, cout, kernel)
        self.stride_up = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=float(self.stride_up), mode="nearest")
        return super().forward(F.pad(x, (self.kernel_size[0] - 1, 0)))


class _Snake(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        alpha = self.alpha.view(1, -1, 1)
        return x + (1.0 / (alpha + 1e-9)) * torch.sin(x * alpha) ** 2


class _ResBlock(nn.Module):
    def __init__(self, channels: int, kernel: int, dilations: Sequence[int]) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(_CausalConv(channels, channels, kernel, d) for d in dilations)
        self.convs2 = nn.ModuleList(_CausalConv(channels, channels, kernel) for _ in dilations)
        self.activations1 = nn.ModuleList(_Snake(channels) for _ in dilations)
        self.activations2 = nn.ModuleList(_Snake(channels) for _ in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c1, c2, a1, a2 in zip(
            self.convs1, self.convs2, self.activations1, self.activations2, strict=True
        ):
            x = x + c2(a2(c1(a1(x))))
        return x


class _F0Predictor(nn.Module):
    def __init__(self, mel_bins: int, channels: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(5):
            if i == 0:
                layers.append(_CausalConv(mel_bins, channels, 4, side="right"))
            else:
                layers.append(_CausalConv(channels, channels, 3))
            layers.append(nn.ELU())
        self.condnet = nn.Sequential(*layers)
        self.classifier = nn.Linear(channels, 1)

    @property
    def lookahead(self) -> int:
        first: _CausalConv = self.condnet[0]  # type: ignore[assignment]
        return first.pad

    def forward(self, mel: torch.Tensor, finalize: bool) -> torch.Tensor:
        if finalize:
            h = self.condnet[0](mel)
        else:
            n = self.lookahead
            h = self.condnet[0](mel[:, :, :-n], mel[:, :, -n:])
        for layer in list(self.condnet)[1:]:
            h = layer(h)
        return torch.abs(self.classifier(h.transpose(1, 2)).squeeze(-1))


class _SineSource(nn.Module):
    """Harmonic sine source from f0 (neural source filter), merged into one excitation."""

    def __init__(self, c: CosyVoice3Config, upsample: int) -> None:
        super().__init__()
        self.c, self.upsample = c, upsample
        self.l_linear = nn.Linear(c.nb_harmonics + 1, 1)
        phases = torch.rand(1, c.nb_harmonics + 1, generator=torch.Generator().manual_seed(1))
        phases[:, 0] = 0.0
        self.initial_phase = phases

    def _noise(self, length: int, channels: int) -> torch.Tensor:
        """Uniform noise, the same for the same sample index whatever the call (so streaming
        re-runs reproduce the audio already played); drawn per second from seeded generators."""
        blocks = [
            torch.rand(self.c.sample_rate, channels, generator=torch.Generator().manual_seed(i))
            for i in range(math.ceil(length / self.c.sample_rate))
        ]
        return torch.cat(blocks)[:length].unsqueeze(0)

    def forward(self, f0: torch.Tensor) -> torch.Tensor:
        """``f0`` (B, L, 1) at the audio rate → excitation (B, L, 1)."""
        c = self.c
        harmonics = f0 * torch.arange(1, c.nb_harmonics + 2, device=f0.device, dtype=f0.dtype)
        rad = (harmonics / c.sample_rate) % 1
        rad[:, 0, :] = rad[:, 0, :] + self.initial_phase.to(rad)
        rad = F.interpolate(rad.transpose(1, 2), scale_factor=1 / self.upsample, mode="linear")
        phase = torch.cumsum(rad, dim=2) * 2 * math.pi
        phase = F.interpolate(phase * self.upsample, scale_factor=float(self.upsample))
        sines = torch.sin(phase).transpose(1, 2)[:, : f0.shape[1]] * c.nsf_alpha
        voiced = (f0 > c.nsf_voiced_threshold).to(sines.dtype)
        noise_amp = voiced * c.nsf_sigma + (1 - voiced) * c.nsf_alpha / 3
        noise = noise_amp * self._noise(sines.shape[1], sines.shape[2]).to(sines)
        return torch.tanh(self.l_linear(sines * voiced + noise))


class HiFTVocoder(nn.Module):
    """Mel → waveform (the official ``CausalHiFTGenerator``'s inference path)."""

    def __init__(self, c: CosyVoice3Config) -> None:
        super().__init__()
        self.c = c
        self.upsample_total = int(np.prod(c.upsample_rates))
        self.samples_per_frame = self.upsample_total * c.hop_len
        self.m_source = _SineSource(c, self.samples_per_frame)
        self.conv_pre = _CausalConv(
            c.mel_bins, c.base_channels, c.conv_pre_look_right + 1, side="right"
        )
        self.ups = nn.ModuleList(
            _CausalUpsample(c.base_channels // 2**i, c.base_channels // 2 ** (i + 1), k, u)
            for i, (u, k) in enumerate(zip(c.upsample_rates, c.upsample_kernel_sizes, strict=True))
        )
        down_rates = np.cumprod([1, *c.upsample_rates[::-1][:-1]])[::-1]
        self.source_downs = nn.ModuleList()
        self.source_resblocks = nn.ModuleList()
        for i, (u, k, d) in enumerate(
            zip(
                down_rates,
                c.source_resblock_kernel_sizes,
                c.source_resblock_dilation_sizes,
                strict=True,
            )
        ):
            ch = c.base_channels // 2 ** (i + 1)
            stft_bins = c.n_fft + 2
            self.source_downs.append(
                _CausalConv(stft_bins, ch, 1)
                if u == 1
                else _CausalDownsample(stft_bins, ch, int(u) * 2, int(u))
            )
            self.source_resblocks.append(_ResBlock(ch, k, d))
        self.resblocks = nn.ModuleList(
            _ResBlock(c.base_channels // 2 ** (i + 1), k, d)
            for i in range(len(c.upsample_rates))
            for k, d in zip(c.resblock_kernel_sizes, c.resblock_dilation_sizes, strict=True)
        )
        last = c.base_channels // 2 ** len(c.upsample_rates)
        self.conv_post = _CausalConv(last, c.n_fft + 2, 7)
        # f0 in float64: the official code notes causal inference needs that precision
        self.f0_predictor = _F0Predictor(c.mel_bins, c.f0_channels).double()
        self.window = torch.hann_window(c.n_fft, periodic=True)

    @torch.inference_mode()
    def forward(self, mel: torch.Tensor, *, finalize: bool = True) -> torch.Tensor:
        """Samples (1, n) for ``mel`` (1, 80, T); 480 per frame when ``finalize``, else the last
        frames are look-ahead and their samples are not returned yet."""
        c = self.c
        f0 = self.f0_predictor(mel.double(), finalize).to(mel.dtype)
        f0_audio = f0.repeat_interleave(self.samples_per_frame, dim=1).unsqueeze(-1)
        source = self.m_source(f0_audio).squeeze(-1)
        if not finalize:
            mel = mel[:, :, : -self.f0_predictor.lookahead]
        window = self.window.to(source.device)
        spec = torch.stft(source, c.n_fft, c.hop_len, c.n_fft, window=window, return_complex=True)
        s = torch.cat([spec.real, spec.imag], dim=1)
        if finalize:
            x = self.conv_pre(mel)
        else:
            look = c.conv_pre_look_right
            x = self.conv_pre(mel[:, :, :-look], mel[:, :, -look:])
            s = s[:, :, : -self.upsample_total * look]
        kernels = len(c.resblock_kernel_sizes)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, c.lrelu_slope))
            if i == len(self.ups) - 1:
                x = F.pad(x, (1, 0), mode="reflect")
            x = x + self.source_resblocks[i](self.source_downs[i](s))
            x = sum(self.resblocks[i * kernels + j](x) for j in range(kernels)) / kernels
        x = self.conv_post(F.leaky_relu(x))
        bins = c.n_fft // 2 + 1
        magnitude = torch.exp(x[:, :bins]).clamp(max=1e2)
        phase = torch.sin(x[:, bins:])
        audio = torch.istft(
            torch.polar(magnitude, phase), c.n_fft, c.hop_len, c.n_fft, window=window
        )
        if not finalize:
            audio = audio[:, : -self.samples_per_frame]
        return audio.clamp(-c.audio_limit, c.audio_limit)
