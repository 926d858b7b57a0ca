"""Fun-CosyVoice3-0.5B (FunAudioLLM/Fun-CosyVoice3-0.5B-2512): text + instruction → 24 kHz speech.

One readable file for the checkpoint, our own code on the torch and transformers this project
uses (the official code pins torch 2.3.1 and is not a package). It reads the official model
directory as downloaded — ``cosyvoice3.yaml`` (hyperparameters; read as data, nothing in it is
executed), ``llm.pt``, ``flow.pt``, ``hift.pt`` (state dicts with the official names),
``CosyVoice-BlankEN/`` (the Qwen2 config and tokenizer), ``campplus.onnx`` and
``speech_tokenizer_v3.onnx`` — and runs the three stages:

1. **Speech-token LM** (``llm.pt``): Qwen2 (transformers' ``Qwen2ForCausalLM``, only its
   backbone is run) reads ``[sos] instruct + text [task]`` as embeddings and writes 25 Hz speech
   tokens through ``llm_decoder``; each token is fed back through ``speech_embedding``. Any id ≥
   the codebook size stops. Sampling is repetition-aware nucleus sampling (top-p 0.8, top-k 25;
   a token repeated within the last 10 is re-drawn from the whole distribution), from the yaml.
2. **Flow matching** (``flow.pt``): tokens (the speaker prompt's first) are embedded, passed
   through a causal look-ahead convolution, repeated ×2 (→ 50 Hz mel frames) and turned into an
   80-bin mel by a DiT velocity field integrated with 10 Euler steps on a cosine schedule,
   classifier-free guidance 0.7, from a fixed noise (seed 0) so re-running on a longer prefix
   reproduces the frames already spoken. Streaming uses the DiT's chunk mask (50 frames).
3. **HiFT vocoder** (``hift.pt``): a causal neural-source-filter + iSTFT generator. An f0
   predictor (run in float64, as the official code notes it must be) drives a harmonic sine
   source; mel and source are fused through causal upsampling convolutions and Snake residual
   blocks into an STFT (n_fft 16, hop 4) that is inverted to 24 kHz audio. Weight-normalised
   convolutions are folded into plain weights at load time (either naming torch uses).

The speaker prompt (any recording; by default our Piper voice) gives the flow stage its
prompt tokens (``speech_tokenizer_v3.onnx`` over a 128-bin Whisper log-mel), its prompt mel
(the file read at 24 kHz; the other two at 16 kHz) and a speaker embedding (``campplus.onnx``
over an 80-bin Kaldi fbank); both ONNX models run in onnxruntime. In instruct mode, as in the
official ``inference_instruct2``, the LM sees the instruction text and no prompt tokens.

Text is prepared as the official frontend's default does in spirit (``text_frontend=True``):
English numbers become words ("21.5" → "twenty-one point five") and the text is spoken sentence
by sentence; Chinese numbers are left as written (the official code uses wetext for those).

Streaming follows the official schedule: a first hop of 25 tokens (padded so the prompt and the
first hop fill whole 25-token chunks), hops doubling up to 100, 3 tokens of look-ahead; each hop
re-runs the flow and vocoder over everything so far and emits only the new samples.

On CUDA the LM runs in bf16 and the flow and vocoder in fp32; on the CPU everything is fp32.
What differs from the official code on purpose: the min-length rule suppresses every stop id
(the official v3 code suppresses only one of them), and the vocoder's fixed noise is drawn per
second from seeded generators instead of a 260 MB table (the same role: repeatable prefixes).
"""

from __future__ import annotations

import functools
import math
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch import nn
from torch.nn import functional as F

from voice_agent.audio import load_audio
from voice_agent.errors import ModelLoadError
from voice_agent.log import get_logger
from voice_agent.models._checkpoint import CheckpointMismatch, CheckpointReport, MisShaped
from voice_agent.models._device import ModelStream, resolve_device
from voice_agent.models._text import sentences, spell_numbers

__all__ = [
    "CausalFlow",
    "CosyVoice3",
    "CosyVoice3Config",
    "HiFTVocoder",
    "SpeechLM",
    "fold_weight_norm",
    "read_hyperparameters",
    "text_pieces",
]

log = get_logger(__name__)

SAMPLE_RATE = 24000
END_OF_PROMPT = "<|endofprompt|>"
# The tokens the official CosyVoice3 tokenizer adds to the BlankEN Qwen vocabulary, in its
# order (ids follow from it: <|endofprompt|> is 151646 on the released tokenizer). The
# phoneme tokens that follow these in the official list are not used by instruct mode.
ADDED_TOKENS = [
    "<|im_start|>", "<|im_end|>", "<|endofprompt|>", "[breath]", "<strong>", "</strong>",
    "[noise]", "[laughter]", "[cough]", "[clucking]", "[accent]", "[quick_breath]",
    "<laughter>", "</laughter>", "[hissing]", "[sigh]", "[vocalized-noise]", "[lipsmack]",
    "[mn]", "<|endofsystem|>",
]  # fmt: skip
# Codebook ids of silence and breath; more than 5 in a row are dropped (as the official code).
SILENT_TOKENS = frozenset({1, 2, 28, 29, 55, 248, 494, 2241, 2242, 2322, 2323})
MAX_SILENT_RUN = 5
TOKEN_HOP, MAX_TOKEN_HOP = 25, 100


# ---------------------------------------------------------------------------------------------
# Hyperparameters: cosyvoice3.yaml read as data
# ---------------------------------------------------------------------------------------------


class _Ref:
    """A ``!ref`` expression, resolved against the top-level keys after loading."""

    def __init__(self, text: str) -> None:
        self.text = text


class _HyperLoader(yaml.SafeLoader):
    """PyYAML's safe loader, plus hyperpyyaml's tags kept as plain data (never executed)."""


def _tagged(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return {"_target": tag_suffix, **loader.construct_mapping(node, deep=True)}
    if isinstance(node, yaml.SequenceNode):
        return {"_target": tag_suffix, "_args": loader.construct_sequence(node, deep=True)}
    return {"_target": tag_suffix, "_value": loader.construct_scalar(node)}  # type: ignore[arg-type]


for _prefix in ("!new:", "!name:", "!apply:"):
    _HyperLoader.add_multi_constructor(_prefix, _tagged)
_HyperLoader.add_constructor(
    "!ref",
    lambda loader, node: _Ref(str(loader.construct_scalar(node))),  # type: ignore[arg-type]
)

_TERM = re.compile(r"\s*(<[\w.]+>|-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*([*/+-]?)")


def _resolve(value: Any, top: Mapping[str, Any], depth: int = 0) -> Any:
    if depth > 20:
        raise ModelLoadError("cosyvoice3.yaml: !ref references loop")
    if isinstance(value, dict):
        return {k: _resolve(v, top, depth) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, top, depth) for v in value]
    if not isinstance(value, _Ref):
        return value
    # "<name>" or arithmetic of refs and numbers ("<chunk_size> * <token_mel_ratio>"), left to
    # right; parsed, never evaluated as code.
    result: Any = None
    op = ""
    position = 0
    text = value.text.strip()
    while position < len(text):
        match = _TERM.match(text, position)
        if match is None:
            raise ModelLoadError(f"cosyvoice3.yaml: cannot read !ref {value.text!r}")
        term, next_op = match.groups()
        operand: Any
        if term.startswith("<"):
            operand = top
            for part in term[1:-1].split("."):
                if not isinstance(operand, Mapping) or part not in operand:
                    raise ModelLoadError(f"cosyvoice3.yaml: !ref to unknown key {term}")
                operand = operand[part]
            operand = _resolve(operand, top, depth + 1)
        else:
            operand = float(term) if any(c in term for c in ".e") else int(term)
        if result is None:
            result = operand
        elif op == "*":
            result = result * operand
        elif op == "/":
            result = result / operand
        elif op == "+":
            result = result + operand
        elif op == "-":
            result = result - operand
        op, position = next_op, match.end()
    return result


def read_hyperparameters(path: Path) -> dict[str, Any]:
    """``cosyvoice3.yaml`` as plain data: ``!new:``/``!name:`` become ``{"_target": …, …}``
    mappings, ``!ref`` expressions are resolved."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_HyperLoader)  # noqa: S506
    except (OSError, yaml.YAMLError) as e:
        raise ModelLoadError(f"cannot read {path}: {e}") from e
    if not isinstance(raw, dict):
        raise ModelLoadError(f"{path} is not a mapping of hyperparameters")
    resolved: dict[str, Any] = _resolve(raw, raw)
    return resolved


@dataclass(frozen=True, slots=True)
class CosyVoice3Config:
    """The numbers the three stages are built from (defaults: the released model)."""

    speech_token_size: int = 6561
    top_p: float = 0.8
    top_k: int = 25
    win_size: int = 10
    tau_r: float = 0.1
    # flow
    flow_input_size: int = 80
    mel_bins: int = 80
    spk_embed_dim: int = 192
    token_mel_ratio: int = 2
    pre_lookahead_len: int = 3
    pre_lookahead_channels: int = 1024
    cfg_rate: float = 0.7
    cosine_schedule: bool = True
    n_timesteps: int = 10
    dit_dim: int = 1024
    dit_depth: int = 22
    dit_heads: int = 16
    dit_dim_head: int = 64
    dit_ff_mult: int = 2
    dit_mu_dim: int = 80
    dit_spk_dim: int = 80
    static_chunk_size: int = 50
    # vocoder
    base_channels: int = 512
    nb_harmonics: int = 8
    nsf_alpha: float = 0.1
    nsf_sigma: float = 0.003
    nsf_voiced_threshold: float = 10.0
    upsample_rates: tuple[int, ...] = (8, 5, 3)
    upsample_kernel_sizes: tuple[int, ...] = (16, 11, 7)
    n_fft: int = 16
    hop_len: int = 4
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))
    source_resblock_kernel_sizes: tuple[int, ...] = (7, 7, 11)
    source_resblock_dilation_sizes: tuple[tuple[int, ...], ...] = (
        (1, 3, 5),
        (1, 3, 5),
        (1, 3, 5),
    )
    lrelu_slope: float = 0.1
    audio_limit: float = 0.99
    conv_pre_look_right: int = 4
    f0_channels: int = 512
    # prompt mel (matcha's mel_spectrogram settings)
    mel_n_fft: int = 1920
    mel_hop: int = 480
    mel_win: int = 1920
    mel_fmin: float = 0.0
    mel_fmax: float | None = None
    sample_rate: int = SAMPLE_RATE

    @classmethod
    def from_yaml(cls, path: Path) -> CosyVoice3Config:
        """Read the official ``cosyvoice3.yaml``; refuse other model classes by name."""
        h = read_hyperparameters(path)
        try:
            llm, flow, hift = h["llm"], h["flow"], h["hift"]
            for part, want in ((llm, "CosyVoice3LM"), (flow, "CausalMaskedDiffWithDiT")):
                if not str(part.get("_target", "")).endswith(want):
                    raise ModelLoadError(
                        f"{path}: expected {want}, found {part.get('_target')}; this file reads "
                        "Fun-CosyVoice3 model directories"
                    )
            sampling = llm.get("sampling", {})
            cfm = flow["decoder"]
            cfm_params = cfm["cfm_params"].get("content", cfm["cfm_params"])
            dit = cfm["estimator"]
            mel = h.get("feat_extractor", {})
            lookahead = flow["pre_lookahead_layer"]
            return cls(
                speech_token_size=int(llm["speech_token_size"]),
                top_p=float(sampling.get("top_p", 0.8)),
                top_k=int(sampling.get("top_k", 25)),
                win_size=int(sampling.get("win_size", 10)),
                tau_r=float(sampling.get("tau_r", 0.1)),
                flow_input_size=int(flow["input_size"]),
                mel_bins=int(flow["output_size"]),
                spk_embed_dim=int(flow["spk_embed_dim"]),
                token_mel_ratio=int(flow["token_mel_ratio"]),
                pre_lookahead_len=int(flow["pre_lookahead_len"]),
                pre_lookahead_channels=int(lookahead["channels"]),
                cfg_rate=float(cfm_params["inference_cfg_rate"]),
                cosine_schedule=cfm_params.get("t_scheduler") == "cosine",
                dit_dim=int(dit["dim"]),
                dit_depth=int(dit["depth"]),
                dit_heads=int(dit["heads"]),
                dit_dim_head=int(dit["dim_head"]),
                dit_ff_mult=int(dit["ff_mult"]),
                dit_mu_dim=int(dit.get("mu_dim") or dit["mel_dim"]),
                dit_spk_dim=int(dit["spk_dim"]),
                static_chunk_size=int(dit["static_chunk_size"]),
                base_channels=int(hift["base_channels"]),
                nb_harmonics=int(hift["nb_harmonics"]),
                nsf_alpha=float(hift["nsf_alpha"]),
                nsf_sigma=float(hift["nsf_sigma"]),
                nsf_voiced_threshold=float(hift["nsf_voiced_threshold"]),
                upsample_rates=tuple(hift["upsample_rates"]),
                upsample_kernel_sizes=tuple(hift["upsample_kernel_sizes"]),
                n_fft=int(hift["istft_params"]["n_fft"]),
                hop_len=int(hift["istft_params"]["hop_len"]),
                resblock_kernel_sizes=tuple(hift["resblock_kernel_sizes"]),
                resblock_dilation_sizes=tuple(tuple(d) for d in hift["resblock_dilation_sizes"]),
                source_resblock_kernel_sizes=tuple(hift["source_resblock_kernel_sizes"]),
                source_resblock_dilation_sizes=tuple(
                    tuple(d) for d in hift["source_resblock_dilation_sizes"]
                ),
                lrelu_slope=float(hift["lrelu_slope"]),
                audio_limit=float(hift["audio_limit"]),
                conv_pre_look_right=int(hift["conv_pre_look_right"]),
                f0_channels=int(hift["f0_predictor"]["cond_channels"]),
                mel_n_fft=int(mel.get("n_fft", 1920)),
                mel_hop=int(mel.get("hop_size", 480)),
                mel_win=int(mel.get("win_size", 1920)),
                mel_fmin=float(mel.get("fmin", 0) or 0),
                mel_fmax=None if mel.get("fmax") is None else float(mel["fmax"]),
                sample_rate=int(h.get("sample_rate", SAMPLE_RATE)),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ModelLoadError(f"{path} lacks a hyperparameter this model needs: {e!r}") from e


# ---------------------------------------------------------------------------------------------
# 1. Speech-token LM
# ---------------------------------------------------------------------------------------------


class _Qwen2(nn.Module):
    """Holds the Qwen2 model under the official name (``llm.model.…``)."""

    def __init__(self, qwen_config: Any) -> None:
        super().__init__()
        from transformers import Qwen2ForCausalLM

        self.model = Qwen2ForCausalLM(qwen_config)


class SpeechLM(nn.Module):
    """Qwen2 writing speech tokens (the official ``CosyVoice3LM``'s inference path).

    Ids ``speech_token_size + k`` are control ids: k=0 start, k=1 end, k=2 "task" (start of
    speech), the rest unused; all of them stop generation.
    """

    def __init__(self, qwen_config: Any, config: CosyVoice3Config) -> None:
        super().__init__()
        hidden = int(qwen_config.hidden_size)
        self.speech_token_size = config.speech_token_size
        self.config = config
        self.llm = _Qwen2(qwen_config)
        self.llm_decoder = nn.Linear(hidden, config.speech_token_size + 200, bias=False)
        self.speech_embedding = nn.Embedding(config.speech_token_size + 200, hidden)

    def _sample(self, logp: torch.Tensor, history: list[int], generator: torch.Generator) -> int:
        """Repetition-aware nucleus sampling (VALL-E 2), on log-probabilities."""
        c = self.config
        probs = logp.float().softmax(-1)
        sorted_probs, order = probs.sort(descending=True, stable=True)
        keep = min(c.top_k, int((sorted_probs.cumsum(0) < c.top_p).sum().item()) + 1)
        pick = int(torch.multinomial(sorted_probs[:keep], 1, generator=generator).item())
        token = int(order[pick].item())
        if sum(t == token for t in history[-c.win_size :]) >= c.win_size * c.tau_r:
            probs[token] = 0.0
            if float(probs.sum()) > 0:
                token = int(torch.multinomial(probs, 1, generator=generator).item())
        return token

    @torch.inference_mode()
    def generate(
        self,
        ids: torch.Tensor,
        *,
        text_tokens: int,
        min_ratio: float = 2.0,
        max_ratio: float = 20.0,
        seed: int = 0,
        stopped: Callable[[], bool] = lambda: False,
    ) -> Iterator[int]:
        """Speech tokens for ``ids`` (instruction + text token ids, shape ``(1, n)``); between
        ``min_ratio`` and ``max_ratio`` tokens per text token."""
        from transformers import DynamicCache

        backbone = self.llm.model.model
        weight = self.speech_embedding.weight
        s = self.speech_token_size
        inputs = torch.cat(
            [weight[s].view(1, 1, -1), backbone.embed_tokens(ids), weight[s + 2].view(1, 1, -1)],
            dim=1,
        )
        min_len, max_len = int(text_tokens * min_ratio), max(1, int(text_tokens * max_ratio))
        generator = torch.Generator().manual_seed(seed)
        cache = DynamicCache()
        history: list[int] = []
        for step in range(max_len):
            if stopped():
                return
            out = backbone(inputs_embeds=inputs, past_key_values=cache, use_cache=True)
            logp = self.llm_decoder(out.last_hidden_state[:, -1]).float().log_softmax(-1)[0].cpu()
            if step < min_len:
                logp[s:] = -math.inf
            token = self._sample(logp, history, generator)
            if token >= s:
                return
            history.append(token)
            yield token
            inputs = weight[token].view(1, 1, -1)


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


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


def fold_weight_norm(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Weight-normalised tensors (``X.parametrizations.weight.original0/1`` as torch ≥ 2.1 saves
    them, or ``X.weight_g/X.weight_v`` as older torch did) → ``X.weight = g · v / ‖v‖``."""
    out: dict[str, torch.Tensor] = {}
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for name, tensor in state.items():
        for g_suffix, v_suffix in (
            (".parametrizations.weight.original0", ".parametrizations.weight.original1"),
            (".weight_g", ".weight_v"),
        ):
            if name.endswith(g_suffix):
                pairs.setdefault(name[: -len(g_suffix)], {})["g"] = tensor
                break
            if name.endswith(v_suffix):
                pairs.setdefault(name[: -len(v_suffix)], {})["v"] = tensor
                break
        else:
            out[name] = tensor
    for base, pair in pairs.items():
        if set(pair) != {"g", "v"}:
            raise ModelLoadError(f"weight-normalised {base} has only its {'/'.join(pair)} part")
        g, v = pair["g"].float(), pair["v"].float()
        norm = v.flatten(1).norm(dim=1).view(-1, *([1] * (v.dim() - 1)))
        out[base + ".weight"] = (g * v / norm).to(pair["v"].dtype)
    return out


def _load_state(module: nn.Module, path: Path, *, strip: str = "") -> CheckpointReport:
    """Copy a ``.pt`` state dict into ``module`` by name, the tensors that fit; the report
    lists every unknown, missing or mis-shaped one (the caller refuses the directory then).
    Tied (``lm_head``) and derivable (``inv_freq``) copies may be absent."""
    if not path.is_file():
        raise ModelLoadError(f"{path.name} is missing from {path.parent}; download it again")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ModelLoadError(f"{path} is not a readable torch state dict: {e}") from e
    if not isinstance(raw, dict):
        raise ModelLoadError(f"{path} holds a {type(raw).__name__}, not a state dict")
    state = fold_weight_norm({k.removeprefix(strip): v for k, v in raw.items()})
    own = module.state_dict()
    optional = ("lm_head.weight", "rotary_embed.inv_freq")
    report = CheckpointReport(
        file=path.name,
        unknown=sorted(set(state) - set(own)),
        missing=sorted(k for k in set(own) - set(state) if not k.endswith(optional)),
        mis_shaped=[
            MisShaped(name=k, checkpoint=tuple(v.shape), expected=tuple(own[k].shape))
            for k, v in sorted(state.items())
            if k in own and tuple(v.shape) != tuple(own[k].shape)
        ],
    )
    wrong = {m.name for m in report.mis_shaped}
    fitting = {k: v for k, v in state.items() if k in own and k not in wrong}
    module.load_state_dict(fitting, strict=False)
    report.loaded = len(fitting)
    return report


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


# ---------------------------------------------------------------------------------------------
# The runtime
# ---------------------------------------------------------------------------------------------


class CosyVoice3:
    """A loaded Fun-CosyVoice3 model directory, with the official ``inference_instruct2``
    signature (so :class:`~voice_agent.models.cosyvoice.CosyVoiceTTS` drives it)."""

    accepts_stop = True
    """``inference_instruct2`` takes ``stopped``, checked before every speech token."""

    def __init__(self, directory: str | Path, *, device: str = "cpu", seed: int = 0) -> None:
        self.directory = Path(directory).expanduser()
        self.device, self.dtype = resolve_device(device)
        self.seed = seed
        d = self.directory
        if not (d / "cosyvoice3.yaml").is_file():
            raise ModelLoadError(f"{d} has no cosyvoice3.yaml: not a Fun-CosyVoice3 directory")
        blank = d / "CosyVoice-BlankEN"
        if not (blank / "config.json").is_file():
            raise ModelLoadError(f"{blank}/config.json is missing (the Qwen2 configuration)")
        self.config = CosyVoice3Config.from_yaml(d / "cosyvoice3.yaml")
        self.sample_rate = self.config.sample_rate
        from transformers import AutoConfig, AutoTokenizer

        qwen_config = AutoConfig.from_pretrained(str(blank))
        qwen_config._attn_implementation = "sdpa"
        self.tokenizer = AutoTokenizer.from_pretrained(str(blank))
        self.tokenizer.add_special_tokens(
            {"additional_special_tokens": ADDED_TOKENS}, replace_extra_special_tokens=False
        )
        self.end_of_prompt_id = self.tokenizer.convert_tokens_to_ids(END_OF_PROMPT)
        with torch.device("cpu"):
            self.lm = SpeechLM(qwen_config, self.config).eval()
            self.flow = CausalFlow(self.config).eval()
            self.hift = HiFTVocoder(self.config).eval()
        self.checkpoint = [
            _load_state(self.lm, d / "llm.pt"),
            _load_state(self.flow, d / "flow.pt"),
            _load_state(self.hift, d / "hift.pt", strip="generator."),
        ]
        """What each of llm.pt, flow.pt and hift.pt held against the yaml's modules."""
        if not all(r.ok for r in self.checkpoint):
            raise CheckpointMismatch(
                str(d),
                self.checkpoint,
                "tensor names or shapes differ from the yaml's sizes: is this a Fun-CosyVoice3 "
                "directory, complete and unmodified?",
            )
        counts = {r.file.removesuffix(".pt"): r.loaded for r in self.checkpoint}
        if self.lm.llm.model.config.tie_word_embeddings:
            self.lm.llm.model.tie_weights()
        self.lm.to(self.device, self.dtype)
        self.flow.to(self.device)
        self.hift.to(self.device)
        self._campplus = _onnx_session(d / "campplus.onnx", "cpu")
        self._speech_tokenizer = _onnx_session(d / "speech_tokenizer_v3.onnx", device)
        self._prompts: dict[str, SpeakerPrompt] = {}
        self._lock = threading.Lock()
        self._stream = ModelStream(self.device)
        log.info("cosyvoice3.loaded", directory=str(d), device=str(self.device), **counts)

    # -- prompt ----------------------------------------------------------------------------

    def speaker_prompt(self, wav: str | Path) -> SpeakerPrompt:
        """Tokens, mel and speaker embedding of a recording (computed once per file)."""
        key = str(Path(wav).resolve())
        if key in self._prompts:
            return self._prompts[key]
        # The mel at the model's own rate, from the file (as the official frontend loads it):
        # made from a 16 kHz copy it would be empty above 8 kHz and the voice muffled. The
        # speech tokenizer and the speaker embedding were trained on 16 kHz, so they get that.
        full = load_audio(wav, rate=self.sample_rate, max_seconds=30.0)
        audio = load_audio(wav, rate=16000, max_seconds=30.0)
        feats = whisper_log_mel(audio.samples)
        inputs = self._speech_tokenizer.get_inputs()
        tokens = self._speech_tokenizer.run(
            None,
            {
                inputs[0].name: feats.numpy(),
                inputs[1].name: np.array([feats.shape[2]], dtype=np.int32),
            },
        )[0]
        token_tensor = torch.as_tensor(np.asarray(tokens).reshape(1, -1), dtype=torch.long)
        fbank = kaldi_fbank(audio.samples)
        fbank = fbank - fbank.mean(dim=0, keepdim=True)
        name = self._campplus.get_inputs()[0].name
        embedding = self._campplus.run(None, {name: fbank.unsqueeze(0).numpy()})[0]
        mel = prompt_mel(full.samples, self.config)
        # As the official frontend: two mel frames per token, cut to the shorter of the two.
        n = min(mel.shape[1] // self.config.token_mel_ratio, token_tensor.shape[1])
        prompt = SpeakerPrompt(
            tokens=token_tensor[:, :n].to(self.device),
            mel=mel[:, : n * self.config.token_mel_ratio].to(self.device),
            embedding=torch.as_tensor(np.asarray(embedding, np.float32).reshape(1, -1)).to(
                self.device
            ),
        )
        self._prompts[key] = prompt
        return prompt

    # -- synthesis -------------------------------------------------------------------------

    def speech_tokens(
        self, text: str, instruct_text: str, stopped: Callable[[], bool] = lambda: False
    ) -> Iterator[int]:
        """The LM's speech tokens for ``text`` said as ``instruct_text`` asks (runs of more
        than five silence tokens shortened)."""
        if END_OF_PROMPT not in instruct_text:
            instruct_text += END_OF_PROMPT
        prompt_ids = self.tokenizer(instruct_text, add_special_tokens=False)["input_ids"]
        text_ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([prompt_ids + text_ids], dtype=torch.long, device=self.device)
        silent = 0
        for token in self.lm.generate(
            ids, text_tokens=len(text_ids), seed=self.seed, stopped=stopped
        ):
            silent = silent + 1 if token in SILENT_TOKENS else 0
            if silent <= MAX_SILENT_RUN:
                yield token

    def token2wav(
        self,
        tokens: list[int],
        prompt: SpeakerPrompt,
        state: dict[str, Any],
        *,
        streaming: bool,
        finalize: bool,
        speed: float = 1.0,
    ) -> torch.Tensor:
        """New samples for ``tokens`` (all so far) after ``state["offset"]`` tokens already
        spoken; ``state`` keeps the mel so far and the samples already returned."""
        token_tensor = torch.tensor([tokens], dtype=torch.long, device=self.device)
        mel = self.flow.mel(
            token_tensor,
            prompt.tokens,
            prompt.mel,
            prompt.embedding,
            streaming=streaming,
            finalize=finalize,
        )[:, :, state["offset"] * self.config.token_mel_ratio :]
        if state.get("mel") is not None:
            mel = torch.cat([state["mel"], mel], dim=2)
        state["mel"] = mel
        if speed != 1.0:
            mel = F.interpolate(mel, size=max(1, int(mel.shape[2] / speed)), mode="linear")
        audio: torch.Tensor = self.hift(mel, finalize=finalize)[:, state.get("samples", 0) :]
        state["samples"] = state.get("samples", 0) + audio.shape[1]
        return audio

    def inference_instruct2(
        self,
        tts_text: str,
        instruct_text: str,
        prompt_wav: Any,
        zero_shot_spk_id: str = "",
        stream: bool = False,
        speed: float = 1.0,
        text_frontend: bool = True,
        stopped: Callable[[], bool] = lambda: False,
    ) -> Iterator[dict[str, torch.Tensor]]:
        """Speech for ``tts_text`` as ``instruct_text`` asks, in the voice of ``prompt_wav``:
        ``{"tts_speech": (1, n) float tensor}`` chunks at 24 kHz.

        With ``text_frontend`` (the official default) English numbers are written out as words
        and each sentence is synthesized in turn, so the first sentence is heard while the next
        is made and the LM never sees a paragraph; without streaming each sentence is one chunk.
        """
        del zero_shot_spk_id  # the official signature; no speaker table here
        if stream and speed != 1.0:
            raise ValueError("speed ≠ 1 works only on whole replies (stream=False)")
        pieces = text_pieces(tts_text) if text_frontend else [tts_text]
        # One synthesis at a time per loaded model, on the model's own CUDA stream (so the
        # understanding model on the same GPU is not queued behind the flow and vocoder).
        with self._lock, self._stream():
            prompt = self.speaker_prompt(prompt_wav)
            for piece in pieces:
                if stopped():
                    return
                yield from self._sentence(piece, instruct_text, prompt, stream, speed, stopped)

    def _sentence(
        self,
        text: str,
        instruct_text: str,
        prompt: SpeakerPrompt,
        stream: bool,
        speed: float,
        stopped: Callable[[], bool],
    ) -> Iterator[dict[str, torch.Tensor]]:
        """One sentence: streaming hops while its speech tokens come, then the rest."""
        state: dict[str, Any] = {"offset": 0}
        tokens: list[int] = []
        lookahead = self.config.pre_lookahead_len
        hop = TOKEN_HOP
        # The first hop is padded so prompt + first hop fill whole chunks of the DiT's mask.
        pad = -prompt.tokens.shape[1] % TOKEN_HOP
        for token in self.speech_tokens(text, instruct_text, stopped):
            tokens.append(token)
            this_hop = hop + pad if state["offset"] == 0 else hop
            if stream and len(tokens) - state["offset"] >= this_hop + lookahead:
                chunk = tokens[: state["offset"] + this_hop + lookahead]
                audio = self.token2wav(chunk, prompt, state, streaming=True, finalize=False)
                state["offset"] += this_hop
                hop = min(MAX_TOKEN_HOP, hop * 2)
                yield {"tts_speech": audio.cpu()}
        if stopped() or not tokens:
            return
        # The last piece with full attention, as the official code does.
        audio = self.token2wav(tokens, prompt, state, streaming=False, finalize=True, speed=speed)
        yield {"tts_speech": audio.cpu()}


def text_pieces(text: str) -> list[str]:
    """What the text front end speaks, piece by piece: sentences with English numbers in words.

    As the official front end: text carrying ``<|…|>`` markup is left untouched (one piece,
    not normalized), and pieces of punctuation only are dropped (nothing to say). Unlike it we
    split per sentence instead of into 60–80-token paragraphs, for the first audio's sake.
    """
    if "<|" in text and "|>" in text:
        return [text]
    return [p for p in sentences(spell_numbers(text)) if any(c.isalnum() for c in p)]


def _onnx_session(path: Path, device: str) -> Any:
    if not path.is_file():
        raise ModelLoadError(f"{path.name} is missing from {path.parent}; download it again")
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    providers = ["CPUExecutionProvider"]
    available = onnxruntime.get_available_providers()
    if device.startswith("cuda") and "CUDAExecutionProvider" in available:
        providers.insert(0, "CUDAExecutionProvider")
    try:
        return onnxruntime.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as e:
        raise ModelLoadError(f"{path} is not a loadable ONNX model: {e}") from e
