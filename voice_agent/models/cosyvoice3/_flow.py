"""Stage 2, flow matching (``flow.pt``): speech tokens → 80-bin mel through a DiT velocity
field integrated with Euler steps, with the chunk mask streaming uses."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from voice_agent.models.cosyvoice3._config import CosyVoice3Config

__all__ = ["CausalFlow", "DiT", "PreLookaheadLayer"]

# ---------------------------------------------------------------------------------------------
# 2. Flow matching: tokens → mel
# ---------------------------------------------------------------------------------------------


class PreLookaheadLayer(nn.Module):
    """Causal convolution that also sees ``pre_lookahead_len`` future tokens, with a residual."""

    def __init__(self, channels: int, hidden: int, lookahead: int) -> None:
        super().__init__()
        self.lookahead = lookahead
        self.conv1 = nn.Conv1d(channels, hidden, kernel_size=lookahead + 1)
        self.conv2 = nn.Conv1d(hidden, channels, kernel_size=3)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` (B, T, C); ``context`` the look-ahead tokens that are not output yet."""
        h = x.transpose(1, 2)
        if context is None or context.shape[1] == 0:
            h = F.pad(h, (0, self.lookahead))
        else:
            h = torch.cat([h, context.transpose(1, 2)], dim=2)
            h = F.pad(h, (0, self.lookahead - context.shape[1]))
        h = F.leaky_relu(self.conv1(h))
        h = self.conv2(F.pad(h, (2, 0)))
        out: torch.Tensor = h.transpose(1, 2) + x
        return out


class _TimestepEmbedding(nn.Module):
    def __init__(self, dim: int, freq_dim: int = 256) -> None:
        super().__init__()
        self.freq_dim = freq_dim
        self.time_mlp = nn.Sequential(nn.Linear(freq_dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.freq_dim // 2
        scale = math.log(10000) / (half - 1)
        freqs = torch.exp(torch.arange(half, device=t.device).float() * -scale)
        angles = 1000.0 * t.float().unsqueeze(1) * freqs.unsqueeze(0)
        sinus = torch.cat([angles.sin(), angles.cos()], dim=-1).to(t.dtype)
        out: torch.Tensor = self.time_mlp(sinus)
        return out


class _CausalConvPositionEmbedding(nn.Module):
    def __init__(self, dim: int, kernel_size: int = 31, groups: int = 16) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.conv1 = nn.Sequential(nn.Conv1d(dim, dim, kernel_size, groups=groups), nn.Mish())
        self.conv2 = nn.Sequential(nn.Conv1d(dim, dim, kernel_size, groups=groups), nn.Mish())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.transpose(1, 2)
        h = self.conv1(F.pad(h, (self.kernel_size - 1, 0)))
        h = self.conv2(F.pad(h, (self.kernel_size - 1, 0)))
        out: torch.Tensor = h.transpose(1, 2)
        return out


class _InputEmbedding(nn.Module):
    def __init__(self, mel_dim: int, mu_dim: int, dim: int, spk_dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(mel_dim * 2 + mu_dim + spk_dim, dim)
        self.conv_pos_embed = _CausalConvPositionEmbedding(dim)

    def forward(
        self, x: torch.Tensor, cond: torch.Tensor, mu: torch.Tensor, spks: torch.Tensor
    ) -> torch.Tensor:
        spks = spks.unsqueeze(1).expand(-1, x.shape[1], -1)
        h = self.proj(torch.cat([x, cond, mu, spks], dim=-1))
        out: torch.Tensor = self.conv_pos_embed(h) + h
        return out


class _RotaryEmbedding(nn.Module):
    """Interleaved rotary positions applied to the first ``dim`` channels only (so, with the
    released sizes, to the first head): how the released DiT was trained."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("inv_freq", 1.0 / (10000 ** (torch.arange(0, dim, 2).float() / dim)))

    def forward(self, length: int) -> torch.Tensor:
        inv_freq: torch.Tensor = self.inv_freq  # type: ignore[assignment]
        t = torch.arange(length, device=inv_freq.device).float()
        freqs = torch.outer(t, inv_freq)
        return torch.stack([freqs, freqs], dim=-1).flatten(-2)  # (T, dim): f0 f0 f1 f1 …

    @staticmethod
    def rotate(x: torch.Tensor, freqs: torch.Tensor) -> torch.Tensor:
        width = freqs.shape[-1]
        head, rest = x[..., :width], x[..., width:]
        pairs = head.float().reshape(*head.shape[:-1], -1, 2)
        rotated = torch.stack([-pairs[..., 1], pairs[..., 0]], dim=-1).flatten(-2)
        head = head.float() * freqs.cos() + rotated * freqs.sin()
        return torch.cat([head.to(x.dtype), rest], dim=-1)


class _AdaLayerNorm(nn.Module):
    """LayerNorm modulated by the time embedding (``chunks`` = 6 in blocks, 2 at the end)."""

    def __init__(self, dim: int, chunks: int) -> None:
        super().__init__()
        self.silu = nn.SiLU()
        self.linear = nn.Linear(dim, dim * chunks)
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)

    def forward(self, t: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.linear(self.silu(t)).chunk(self.linear.out_features // t.shape[-1], 1))


class _Attention(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int) -> None:
        super().__init__()
        self.heads, inner = heads, heads * dim_head
        self.to_q, self.to_k, self.to_v = (nn.Linear(dim, inner) for _ in range(3))
        self.to_out = nn.ModuleList([nn.Linear(inner, dim), nn.Dropout(0.0)])

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None, rope: torch.Tensor
    ) -> torch.Tensor:
        b, n, _ = x.shape
        q = _RotaryEmbedding.rotate(self.to_q(x), rope)
        k = _RotaryEmbedding.rotate(self.to_k(x), rope)
        v = self.to_v(x)
        q, k, v = (y.view(b, n, self.heads, -1).transpose(1, 2) for y in (q, k, v))
        h = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        out: torch.Tensor = self.to_out[0](h.transpose(1, 2).reshape(b, n, -1))
        return out


class _FeedForward(nn.Module):
    def __init__(self, dim: int, mult: int) -> None:
        super().__init__()
        inner = dim * mult
        self.ff = nn.Sequential(
            nn.Sequential(nn.Linear(dim, inner), nn.GELU(approximate="tanh")),
            nn.Dropout(0.0),
            nn.Linear(inner, dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.ff(x)
        return out


class _DiTBlock(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int, ff_mult: int) -> None:
        super().__init__()
        self.attn_norm = _AdaLayerNorm(dim, 6)
        self.attn = _Attention(dim, heads, dim_head)
        self.ff_norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.ff = _FeedForward(dim, ff_mult)

    def forward(
        self, x: torch.Tensor, t: torch.Tensor, mask: torch.Tensor | None, rope: torch.Tensor
    ) -> torch.Tensor:
        shift_a, scale_a, gate_a, shift_f, scale_f, gate_f = self.attn_norm(t)
        h = self.attn_norm.norm(x) * (1 + scale_a[:, None]) + shift_a[:, None]
        x = x + gate_a[:, None] * self.attn(h, mask, rope)
        h = self.ff_norm(x) * (1 + scale_f[:, None]) + shift_f[:, None]
        out: torch.Tensor = x + gate_f[:, None] * self.ff(h)
        return out


class DiT(nn.Module):
    """The velocity field: ``(x_t, mask, mu, t, speaker, prompt mel) → dx/dt``, all (B, 80, T)."""

    def __init__(self, c: CosyVoice3Config) -> None:
        super().__init__()
        self.static_chunk_size = c.static_chunk_size
        self.time_embed = _TimestepEmbedding(c.dit_dim)
        self.input_embed = _InputEmbedding(c.mel_bins, c.dit_mu_dim, c.dit_dim, c.dit_spk_dim)
        self.rotary_embed = _RotaryEmbedding(c.dit_dim_head)
        self.transformer_blocks = nn.ModuleList(
            _DiTBlock(c.dit_dim, c.dit_heads, c.dit_dim_head, c.dit_ff_mult)
            for _ in range(c.dit_depth)
        )
        self.norm_out = _AdaLayerNorm(c.dit_dim, 2)
        self.proj_out = nn.Linear(c.dit_dim, c.mel_bins)

    def attention_mask(
        self, length: int, streaming: bool, device: torch.device
    ) -> torch.Tensor | None:
        """Full attention (no mask), or (streaming) each frame sees its own and all earlier
        chunks of ``static_chunk_size`` frames."""
        if not streaming:
            return None
        chunk = torch.arange(length, device=device) // self.static_chunk_size
        return (chunk[None, :] <= chunk[:, None]).view(1, 1, length, length)

    def forward(
        self,
        x: torch.Tensor,
        mu: torch.Tensor,
        t: torch.Tensor,
        spks: torch.Tensor,
        cond: torch.Tensor,
        mask: torch.Tensor | None,
    ) -> torch.Tensor:
        x, mu, cond = x.transpose(1, 2), mu.transpose(1, 2), cond.transpose(1, 2)
        temb = self.time_embed(t)
        h = self.input_embed(x, cond, mu, spks)
        rope = self.rotary_embed(h.shape[1])
        for block in self.transformer_blocks:
            h = block(h, temb, mask, rope)
        scale, shift = self.norm_out(temb)
        h = self.norm_out.norm(h) * (1 + scale[:, None]) + shift[:, None]
        out: torch.Tensor = self.proj_out(h).transpose(1, 2)
        return out


class _CFM(nn.Module):
    """Holds the estimator under the official name (``decoder.estimator.…``); the Euler solver
    with classifier-free guidance."""

    def __init__(self, c: CosyVoice3Config) -> None:
        super().__init__()
        self.config = c
        self.estimator = DiT(c)
        generator = torch.Generator().manual_seed(0)
        self.noise = torch.randn(1, c.mel_bins, 50 * 300, generator=generator)  # 300 s of frames

    def solve(
        self, mu: torch.Tensor, spks: torch.Tensor, cond: torch.Tensor, *, streaming: bool
    ) -> torch.Tensor:
        c = self.config
        length = mu.shape[2]
        if length > self.noise.shape[2]:
            raise ValueError(f"{length} mel frames is over the 300 s this model speaks at once")
        x = self.noise[:, :, :length].to(mu.device, mu.dtype)
        t_span = torch.linspace(0, 1, c.n_timesteps + 1, device=mu.device, dtype=torch.float32)
        if c.cosine_schedule:
            t_span = 1 - torch.cos(t_span * 0.5 * math.pi)
        mask = self.estimator.attention_mask(length, streaming, mu.device)
        zeros = (torch.zeros_like(mu), torch.zeros_like(spks), torch.zeros_like(cond))
        pairs = zip((mu, spks, cond), zeros, strict=True)
        mu2, spks2, cond2 = (torch.cat([a, z]) for a, z in pairs)
        for step in range(c.n_timesteps):
            t, dt = t_span[step], t_span[step + 1] - t_span[step]
            v = self.estimator(torch.cat([x, x]), mu2, t.expand(2).to(mu.dtype), spks2, cond2, mask)
            v_cond, v_free = v.chunk(2)
            x = x + dt * ((1.0 + c.cfg_rate) * v_cond - c.cfg_rate * v_free)
        return x


class CausalFlow(nn.Module):
    """Speech tokens → mel (the official ``CausalMaskedDiffWithDiT``'s inference path)."""

    def __init__(self, c: CosyVoice3Config) -> None:
        super().__init__()
        self.config = c
        self.input_embedding = nn.Embedding(c.speech_token_size, c.flow_input_size)
        self.spk_embed_affine_layer = nn.Linear(c.spk_embed_dim, c.mel_bins)
        self.pre_lookahead_layer = PreLookaheadLayer(
            c.flow_input_size, c.pre_lookahead_channels, c.pre_lookahead_len
        )
        self.decoder = _CFM(c)

    @torch.inference_mode()
    def mel(
        self,
        tokens: torch.Tensor,
        prompt_tokens: torch.Tensor,
        prompt_mel: torch.Tensor,
        speaker: torch.Tensor,
        *,
        streaming: bool,
        finalize: bool,
    ) -> torch.Tensor:
        """Mel frames (1, 80, 2·n) for ``tokens`` (1, n), after the prompt's; when not
        ``finalize`` the last ``pre_lookahead_len`` tokens are only look-ahead."""
        c = self.config
        spks = self.spk_embed_affine_layer(F.normalize(speaker, dim=1))
        all_tokens = torch.cat([prompt_tokens, tokens], dim=1).clamp(0, c.speech_token_size - 1)
        emb = self.input_embedding(all_tokens)
        if finalize:
            h = self.pre_lookahead_layer(emb)
        else:
            n = c.pre_lookahead_len
            h = self.pre_lookahead_layer(emb[:, :-n], context=emb[:, -n:])
        h = h.repeat_interleave(c.token_mel_ratio, dim=1).transpose(1, 2)
        prompt_frames = prompt_mel.shape[1]
        cond = torch.zeros_like(h)
        cond[:, :, :prompt_frames] = prompt_mel.transpose(1, 2)
        mel = self.decoder.solve(h, spks, cond, streaming=streaming)
        return mel[:, :, prompt_frames:].float()
