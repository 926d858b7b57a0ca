"""SenseVoice-Small (FunAudioLLM/SenseVoiceSmall): speech in → text with timestamps, language,
emotion and audio event, in one non-autoregressive pass.

One readable file for the checkpoint as a user downloads it (``model.pt``, ``config.yaml``,
``am.mvn``, ``chn_jpn_yue_eng_ko_spectok.bpe.model``), loaded by the official parameter names
and written for plain torch (the official code needs the ``funasr`` package). The layout:

- Front end (``frontend_conf``): Kaldi-compatible 80-bin log-mel filterbank (25 ms Hamming
  window every 10 ms, samples scaled to the int16 range, DC removed, pre-emphasis 0.97, 512-point
  FFT), then low frame rate stacking (``lfr_m`` = 7 frames every ``lfr_n`` = 6: 560 values per
  60 ms, the first frame repeated 3 times in front), then the global CMVN of ``am.mvn``
  (``(x + AddShift) * Rescale``), as FunASR's ``WavFrontend`` does when ``am.mvn`` sits in the
  model directory. Dither is 0 here (the official default adds random noise): deterministic.
- Four query vectors from ``embed`` (16 × 560) go in front of the features, in this order:
  language (``auto`` 0, ``zh`` 3, ``en`` 4, ``yue`` 7, ``ja`` 11, ``ko`` 12, ``nospeech`` 13),
  rows 1 and 2 (the emotion and the event queries), and text normalization (``withitn`` 14,
  ``woitn`` 15). The CTC output at those four positions is the language tag, the emotion tag,
  the event tag and the text-norm tag; the text follows from position 4.
- ``encoder`` (SAN-M, ``encoder_conf``): inputs scaled by √``output_size`` plus sinusoidal
  positions (counted from 1, over the 560 input channels); ``encoders0`` (one layer, 560 →
  512, no residual round its attention), ``encoders`` (``num_blocks`` - 1 layers),
  ``after_norm``, ``tp_encoders`` (``tp_blocks`` layers), ``tp_norm``. Each layer is pre-norm:
  self-attention from one fused ``linear_q_k_v`` projection plus an FSMN memory (a depthwise
  ``fsmn_block`` convolution of the values over time, with the values added back), then a
  ReLU feed-forward (``w_1``, ``w_2``).
- ``ctc.ctc_lo``: the CTC output layer over the SentencePiece vocabulary (blank = id 0);
  greedy decoding (argmax, repeats merged, blanks dropped).

Emotion confidence is the CTC posterior at the emotion position: the probability of the chosen
label, normalized over all of SenseVoice's emotion tags (so mass on ``EMO_UNKNOWN`` or
``DISGUSTED``, which have no label of ours, lowers it). Timestamps come from the CTC frames
(60 ms each), as the first and last frame of each emitted token. fp32 on every device (the
released weights are fp32 and the model is small).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from voice_agent.audio import MODEL_RATE, Audio
from voice_agent.errors import BackendError, ConfigError, ModelLoadError
from voice_agent.log import get_logger
from voice_agent.models._device import resolve_device
from voice_agent.models.events import SENSEVOICE_AUDIOSET, label_of
from voice_agent.models.protocols import AudioEvent, Emotion, EmotionEstimate, Transcript, Word

__all__ = [
    "EMOTION_TAGS",
    "EVENT_TAGS",
    "LANGUAGE_QUERIES",
    "TEXT_NORM_QUERIES",
    "EventTag",
    "FrontendConfig",
    "SenseVoice",
    "SenseVoiceConfig",
    "SenseVoiceEncoderConfig",
    "SenseVoiceModel",
    "SenseVoiceResult",
    "load_cmvn",
]

log = get_logger(__name__)

LANGUAGE_QUERIES: Mapping[str, int] = {
    "auto": 0,
    "zh": 3,
    "en": 4,
    "yue": 7,
    "ja": 11,
    "ko": 12,
    "nospeech": 13,
}
"""Rows of ``embed`` for the language query (the official ``lid_dict``)."""
EMOTION_QUERY, EVENT_QUERY = 1, 2
TEXT_NORM_QUERIES: Mapping[str, int] = {"withitn": 14, "woitn": 15}
"""Rows of ``embed`` for the text-normalization query: with or without inverse text
normalization (numbers as digits, punctuation)."""
QUERY_ROWS = 7 + len(LANGUAGE_QUERIES) + len(TEXT_NORM_QUERIES)
"""16: the official ``embed`` size."""
QUERIES = 4
LANGUAGE_TAGS = ("zh", "en", "yue", "ja", "ko", "nospeech")
EMOTION_TAGS: Mapping[str, Emotion | None] = {
    "HAPPY": "happy",
    "SAD": "sad",
    "ANGRY": "angry",
    "NEUTRAL": "neutral",
    "FEARFUL": "fearful",
    "SURPRISED": "surprised",
    "DISGUSTED": None,
    "EMO_UNKNOWN": None,
}
"""SenseVoice's emotion tags (``<|HAPPY|>`` …) and our label for each (None: we have none)."""
EVENT_TAGS = ("Speech", "BGM", "Applause", "Laughter", "Cry", "Sneeze", "Breath", "Cough")
"""SenseVoice's audio-event tags; ``Event_UNK`` is its "none of these"."""
_OPTIONAL_EVENT_TAGS = ("Event_UNK",)
_TAG = re.compile(r"^<\|[^|]+\|>$")
FRAME_SECONDS = 0.06
"""One encoder frame: ``lfr_n`` (6) filterbank frames of 10 ms."""


def _tag(name: str) -> str:
    return f"<|{name}|>"


# --- configuration ---------------------------------------------------------------------------


def _pick(cls: Any, data: Mapping[str, Any]) -> Any:
    """``cls`` from the keys of ``data`` it has (the training-only keys are ignored)."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names and v is not None})


@dataclass(frozen=True, slots=True, kw_only=True)
class SenseVoiceEncoderConfig:
    """``encoder_conf`` of the official ``config.yaml`` (defaults are SenseVoice-Small's)."""

    output_size: int = 512
    attention_heads: int = 4
    linear_units: int = 2048
    num_blocks: int = 50
    tp_blocks: int = 20
    kernel_size: int = 11
    sanm_shfit: int = 0
    normalize_before: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class FrontendConfig:
    """``frontend_conf`` of the official ``config.yaml``."""

    fs: int = 16_000
    window: str = "hamming"
    n_mels: int = 80
    frame_length: int = 25
    frame_shift: int = 10
    lfr_m: int = 7
    lfr_n: int = 6

    @property
    def input_size(self) -> int:
        """Values per encoder input frame (560)."""
        return self.n_mels * self.lfr_m


@dataclass(frozen=True, slots=True, kw_only=True)
class SenseVoiceConfig:
    """What we read of ``config.yaml``; the vocabulary size comes from the tokenizer."""

    encoder: SenseVoiceEncoderConfig
    frontend: FrontendConfig
    vocab_size: int

    @classmethod
    def from_yaml(cls, path: Path, vocab_size: int) -> SenseVoiceConfig:
        """Read the official file.

        Raises:
            ModelLoadError: not YAML, another model, or settings this implementation lacks.
        """
        import yaml

        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as e:
            raise ModelLoadError(f"{path}: not readable as YAML ({e})") from e
        if not isinstance(data, dict):
            raise ModelLoadError(f"{path}: expected a mapping at the top level")
        model, encoder = data.get("model"), data.get("encoder")
        if model not in (None, "SenseVoiceSmall") or encoder not in (
            None,
            "SenseVoiceEncoderSmall",
        ):
            raise ModelLoadError(
                f"{path}: model {model!r} with encoder {encoder!r}; this loader reads "
                "SenseVoiceSmall with SenseVoiceEncoderSmall (FunAudioLLM/SenseVoiceSmall)"
            )
        enc_conf = data.get("encoder_conf") or {}
        if enc_conf.get("selfattention_layer_type", "sanm") != "sanm":
            raise ModelLoadError(f"{path}: selfattention_layer_type must be 'sanm'")
        frontend = _pick(FrontendConfig, data.get("frontend_conf") or {})
        if frontend.window != "hamming" or frontend.fs != MODEL_RATE:
            raise ModelLoadError(
                f"{path}: frontend window {frontend.window!r} at {frontend.fs} Hz; "
                f"this front end computes a Hamming window at {MODEL_RATE} Hz"
            )
        return cls(
            encoder=_pick(SenseVoiceEncoderConfig, enc_conf),
            frontend=frontend,
            vocab_size=vocab_size,
        )


# --- front end -------------------------------------------------------------------------------


def load_cmvn(path: Path, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``<AddShift>`` and ``<Rescale>`` vectors of a Kaldi nnet ``am.mvn`` file.

    Raises:
        ModelLoadError: unreadable, or a vector missing or not ``dim`` long.
    """
    try:
        tokens = path.read_text(encoding="utf-8").split()
    except OSError as e:
        raise ModelLoadError(f"{path}: cannot read the CMVN file ({e})") from e
    vectors = []
    for component in ("<AddShift>", "<Rescale>"):
        try:
            start = tokens.index("[", tokens.index(component)) + 1
            values = [float(t) for t in tokens[start : tokens.index("]", start)]]
        except ValueError as e:
            raise ModelLoadError(
                f"{path}: no {component} vector in [ … ] (a Kaldi nnet am.mvn is expected)"
            ) from e
        if len(values) != dim:
            raise ModelLoadError(
                f"{path}: {component} has {len(values)} values, the front end makes {dim}"
            )
        vectors.append(torch.tensor(values, dtype=torch.float32))
    return vectors[0], vectors[1]


def _mel_banks(n_mels: int, n_fft: int, rate: int) -> torch.Tensor:
    """Kaldi's triangular mel filters (20 Hz to Nyquist, mel = 1127 ln(1 + f/700)) over the
    ``n_fft // 2`` lowest FFT bins, as an (n_mels, n_fft // 2 + 1) matrix (Nyquist bin 0)."""

    def mel(f: np.ndarray | float) -> np.ndarray:
        return 1127.0 * np.log1p(np.asarray(f, dtype=np.float64) / 700.0)

    low, high = mel(20.0), mel(rate / 2)
    centers = low + (high - low) / (n_mels + 1) * np.arange(n_mels + 2)
    bins = mel(np.arange(n_fft // 2) * rate / n_fft)
    left, center, right = centers[:-2, None], centers[1:-1, None], centers[2:, None]
    up = (bins[None, :] - left) / (center - left)
    down = (right - bins[None, :]) / (right - center)
    weights = np.clip(np.minimum(up, down), 0.0, None)
    weights = np.concatenate([weights, np.zeros((n_mels, 1))], axis=1)
    return torch.from_numpy(weights.astype(np.float32))


class SenseVoiceFrontend:
    """Audio → the encoder's input frames: fbank, LFR, CMVN (see the module docstring)."""

    def __init__(self, config: FrontendConfig, shift: torch.Tensor, scale: torch.Tensor) -> None:
        self.config = config
        self.window_size = config.fs * config.frame_length // 1000
        self.hop = config.fs * config.frame_shift // 1000
        self.n_fft = 1 << (self.window_size - 1).bit_length()
        self.window = torch.hamming_window(self.window_size, periodic=False, dtype=torch.float64)
        self.banks = _mel_banks(config.n_mels, self.n_fft, config.fs).double()
        self.shift, self.scale = shift, scale

    def fbank(self, samples: torch.Tensor) -> torch.Tensor:
        """(frames, n_mels) log-mel energies; frames only where a whole window fits."""
        if samples.numel() < self.window_size:
            return samples.new_zeros(0, self.config.n_mels)
        x = samples.double() * 32768.0
        frames = x.unfold(0, self.window_size, self.hop)
        frames = frames - frames.mean(dim=1, keepdim=True)
        previous = torch.cat([frames[:, :1], frames[:, :-1]], dim=1)
        frames = (frames - 0.97 * previous) * self.window
        power: torch.Tensor = torch.fft.rfft(frames, n=self.n_fft).abs().square()
        energies = power @ self.banks.T
        eps = torch.finfo(torch.float32).eps
        return energies.clamp_min(eps).log().float()

    def lfr(self, feats: torch.Tensor) -> torch.Tensor:
        """Stack ``lfr_m`` frames every ``lfr_n``: the first frame repeated ``(m - 1) // 2``
        times in front, the last repeated at the end as far as the last window needs."""
        m, n = self.config.lfr_m, self.config.lfr_n
        count = math.ceil(feats.shape[0] / n)
        padded = torch.cat([feats[:1].expand((m - 1) // 2, -1), feats])
        short = (count - 1) * n + m - padded.shape[0]
        if short > 0:
            padded = torch.cat([padded, padded[-1:].expand(short, -1)])
        return padded.unfold(0, m, n)[:count].transpose(1, 2).reshape(count, -1)

    def __call__(self, audio: Audio) -> torch.Tensor:
        """(frames, 560) normalized features of 16 kHz (or resampled) mono audio."""
        samples = torch.from_numpy(np.ascontiguousarray(audio.resampled(self.config.fs).samples))
        feats = self.fbank(samples)
        if feats.shape[0] == 0:
            return feats.new_zeros(0, self.config.input_size)
        return (self.lfr(feats) + self.shift) * self.scale


# --- encoder ---------------------------------------------------------------------------------


def sinusoidal_positions(length: int, depth: int, dtype: torch.dtype) -> torch.Tensor:
    """FunASR's encoding: positions 1…length, [sin | cos] halves, timescales spread over
    ``depth / 2 - 1`` steps up to 10000."""
    positions = torch.arange(1, length + 1, dtype=torch.float32)[:, None]
    step = math.log(10000.0) / (depth / 2 - 1)
    inv = torch.exp(torch.arange(depth // 2, dtype=torch.float32) * -step)
    angles = positions * inv[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1).to(dtype)


class SANMAttention(nn.Module):
    """Multi-head self-attention plus an FSMN memory over the values (``self_attn``)."""

    def __init__(self, in_size: int, size: int, heads: int, kernel_size: int, shift: int) -> None:
        super().__init__()
        self.heads = heads
        self.linear_q_k_v = nn.Linear(in_size, size * 3)
        self.linear_out = nn.Linear(size, size)
        self.fsmn_block = nn.Conv1d(size, size, kernel_size, groups=size, bias=False)
        left = (kernel_size - 1) // 2 + max(shift, 0)
        self.padding = (left, kernel_size - 1 - left)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, time, in_size) → (batch, time, size)."""
        batch, time, _ = x.shape
        q, k, v = self.linear_q_k_v(x).chunk(3, dim=-1)
        memory: torch.Tensor = self.fsmn_block(F.pad(v.transpose(1, 2), self.padding))
        memory = memory.transpose(1, 2) + v
        q, k, heads_v = (t.view(batch, time, self.heads, -1).transpose(1, 2) for t in (q, k, v))
        attended = F.scaled_dot_product_attention(q, k, heads_v)
        out: torch.Tensor = self.linear_out(attended.transpose(1, 2).reshape(batch, time, -1))
        return out + memory


class FeedForward(nn.Module):
    """``feed_forward``: Linear → ReLU → Linear."""

    def __init__(self, size: int, hidden: int) -> None:
        super().__init__()
        self.w_1 = nn.Linear(size, hidden)
        self.w_2 = nn.Linear(hidden, size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Same shape out as in."""
        out: torch.Tensor = self.w_2(torch.relu(self.w_1(x)))
        return out


class SANMLayer(nn.Module):
    """One pre-norm encoder layer; when it changes the width (``encoders0``) the attention
    output replaces its input instead of being added to it."""

    def __init__(self, in_size: int, config: SenseVoiceEncoderConfig) -> None:
        super().__init__()
        size = config.output_size
        self.residual = in_size == size
        self.self_attn = SANMAttention(
            in_size, size, config.attention_heads, config.kernel_size, config.sanm_shfit
        )
        self.feed_forward = FeedForward(size, config.linear_units)
        self.norm1 = nn.LayerNorm(in_size, eps=1e-5)
        self.norm2 = nn.LayerNorm(size, eps=1e-5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, time, in_size) → (batch, time, output_size)."""
        attended = self.self_attn(self.norm1(x))
        x = x + attended if self.residual else attended
        out: torch.Tensor = x + self.feed_forward(self.norm2(x))
        return out


class SenseVoiceEncoder(nn.Module):
    """``encoder``: SAN-M layers in three stacks (see the module docstring)."""

    def __init__(self, input_size: int, config: SenseVoiceEncoderConfig) -> None:
        super().__init__()
        size = config.output_size
        self.size = size
        self.encoders0 = nn.ModuleList([SANMLayer(input_size, config)])
        self.encoders = nn.ModuleList(
            [SANMLayer(size, config) for _ in range(config.num_blocks - 1)]
        )
        self.after_norm = nn.LayerNorm(size, eps=1e-5)
        self.tp_encoders = nn.ModuleList([SANMLayer(size, config) for _ in range(config.tp_blocks)])
        self.tp_norm = nn.LayerNorm(size, eps=1e-5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, time, input_size) → (batch, time, output_size)."""
        x = x * self.size**0.5
        x = x + sinusoidal_positions(x.shape[1], x.shape[2], x.dtype).to(x.device)
        for layer in [*self.encoders0, *self.encoders]:
            x = layer(x)
        x = self.after_norm(x)
        for layer in self.tp_encoders:
            x = layer(x)
        out: torch.Tensor = self.tp_norm(x)
        return out


class CTCHead(nn.Module):
    """``ctc``: the output layer over the vocabulary."""

    def __init__(self, size: int, vocab_size: int) -> None:
        super().__init__()
        self.ctc_lo = nn.Linear(size, vocab_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Log-probabilities per frame."""
        return torch.log_softmax(self.ctc_lo(x), dim=-1)


class SenseVoiceModel(nn.Module):
    """``SenseVoiceSmall``: query embeddings, encoder, CTC head, by the official names."""

    def __init__(self, config: SenseVoiceConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(QUERY_ROWS, config.frontend.input_size)
        self.encoder = SenseVoiceEncoder(config.frontend.input_size, config.encoder)
        self.ctc = CTCHead(config.encoder.output_size, config.vocab_size)

    def forward(self, features: torch.Tensor, language: int, text_norm: int) -> torch.Tensor:
        """(time, 560) features → (4 + time, vocab) CTC log-probabilities; rows 0-3 answer the
        language, emotion, event and text-norm queries."""
        rows = torch.tensor(
            [language, EMOTION_QUERY, EVENT_QUERY, text_norm], device=features.device
        )
        x = torch.cat([self.embed(rows), features])[None]
        out: torch.Tensor = self.ctc(self.encoder(x))[0]
        return out


def load_state(model: SenseVoiceModel, path: Path, device: torch.device) -> None:
    """Copy ``model.pt`` into ``model`` by name.

    Raises:
        ModelLoadError: unreadable, or a tensor unknown, missing or of another shape (named).
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many kinds for a bad file
        raise ModelLoadError(f"{path}: not a torch checkpoint ({type(e).__name__}: {e})") from e
    for key in ("state_dict", "model"):  # FunASR's training checkpoints nest the weights
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ModelLoadError(f"{path}: expected a state dict, found {type(state).__name__}")
    params = model.state_dict()
    unknown = sorted(set(state) - set(params))
    missing = sorted(set(params) - set(state))
    if unknown or missing:
        raise ModelLoadError(
            f"{path}: {len(unknown)} unknown tensors {unknown[:5]}, {len(missing)} missing "
            f"{missing[:5]}; is this FunAudioLLM/SenseVoiceSmall, with its config.yaml?"
        )
    for name, tensor in state.items():
        if tuple(tensor.shape) != tuple(params[name].shape):
            raise ModelLoadError(
                f"{path}: {name} has shape {tuple(tensor.shape)}, config.yaml and the "
                f"tokenizer say {tuple(params[name].shape)}"
            )
    model.load_state_dict(state)
    model.to(device=device, dtype=torch.float32)


# --- tokenizer and decoding ------------------------------------------------------------------


class SenseVoiceTokenizer:
    """The checkpoint's SentencePiece model, with the ids of the tags the decoder reads."""

    def __init__(self, path: Path) -> None:
        try:
            import sentencepiece
        except ImportError as e:
            raise ModelLoadError(
                "SenseVoice needs the sentencepiece package: pip install 'voice-agent[sensevoice]'"
            ) from e
        self.processor = sentencepiece.SentencePieceProcessor()
        try:
            self.processor.Load(str(path))
        except (OSError, RuntimeError) as e:
            raise ModelLoadError(f"{path}: not a SentencePiece model ({e})") from e
        self.size: int = self.processor.GetPieceSize()
        self.languages = self._ids(path, LANGUAGE_TAGS)
        self.emotions = self._ids(path, tuple(EMOTION_TAGS))
        self.events = self._ids(path, EVENT_TAGS)
        self.events.update(self._ids(path, _OPTIONAL_EVENT_TAGS, required=False))
        self.specials = {i for i in range(self.size) if _TAG.match(self.processor.IdToPiece(i))}

    def _ids(self, path: Path, names: Sequence[str], *, required: bool = True) -> dict[str, int]:
        found = {}
        for name in names:
            piece = _tag(name)
            index = int(self.processor.PieceToId(piece))
            if self.processor.IdToPiece(index) == piece:
                found[name] = index
            elif required:
                raise ModelLoadError(
                    f"{path}: the tokenizer has no {piece} piece; it is not SenseVoice's "
                    "(chn_jpn_yue_eng_ko_spectok.bpe.model)"
                )
        return found

    def piece(self, index: int) -> str:
        """The piece of one id (``▁`` starts a word)."""
        return str(self.processor.IdToPiece(index))

    def decode(self, ids: Sequence[int]) -> str:
        """Text of text-piece ids."""
        return str(self.processor.DecodeIds([int(i) for i in ids])) if ids else ""


@dataclass(frozen=True, slots=True, kw_only=True)
class EventTag:
    """The audio event SenseVoice heard (its event tag); :meth:`SenseVoice.detect` tells it
    as the :class:`~voice_agent.models.protocols.AudioEvent` every detector gives."""

    label: str
    """One of :data:`EVENT_TAGS` (``Speech``, ``Laughter``, ``Cry``, …)."""
    probability: float
    """CTC posterior at the event position, normalized over the event tags."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SenseVoiceResult:
    """Everything one pass of SenseVoice gives."""

    transcript: Transcript
    """Text, words with times (seconds from the start of the audio) and the language."""
    emotion_tag: str
    """SenseVoice's own emotion tag (``HAPPY``, ``DISGUSTED``, ``EMO_UNKNOWN``, …)."""
    emotion: EmotionEstimate
    """The best of our labels, with its posterior (see the module docstring)."""
    event: EventTag
    """The most likely event tag."""
    emotion_probabilities: Mapping[str, float]
    """Posterior of each emotion tag, normalized over the emotion tags."""


def _normalized(log_probs: torch.Tensor, ids: Mapping[str, int]) -> dict[str, float]:
    """Posteriors of ``ids`` at one position, renormalized among themselves."""
    values = torch.softmax(log_probs[list(ids.values())].double(), dim=0).tolist()
    return dict(zip(ids, (round(float(v), 4) for v in values), strict=True))


def _words(
    tokenizer: SenseVoiceTokenizer, spans: Sequence[tuple[int, int, int, float]]
) -> tuple[Word, ...]:
    """Words from (token, first frame, last frame, posterior) spans of the text positions:
    a piece starting with ``▁`` starts a word."""
    groups: list[list[tuple[int, int, int, float]]] = []
    for span in spans:
        if not groups or tokenizer.piece(span[0]).startswith("▁"):
            groups.append([])
        groups[-1].append(span)
    words = []
    for group in groups:
        text = tokenizer.decode([s[0] for s in group]).strip()
        if text:
            words.append(
                Word(
                    text=text,
                    start=round(max(group[0][1] * FRAME_SECONDS - 0.03, 0.0), 3),
                    end=round(max((group[-1][2] + 1) * FRAME_SECONDS - 0.03, 0.0), 3),
                    probability=round(sum(s[3] for s in group) / len(group), 4),
                )
            )
    return tuple(words)


def decode(tokenizer: SenseVoiceTokenizer, log_probs: torch.Tensor) -> SenseVoiceResult:
    """One result from the (4 + time, vocab) CTC log-probabilities of one utterance."""
    language = max(tokenizer.languages, key=lambda k: float(log_probs[0, tokenizer.languages[k]]))
    emotions = _normalized(log_probs[1], tokenizer.emotions)
    events = _normalized(log_probs[2], tokenizer.events)
    tag = max(emotions, key=emotions.__getitem__)
    ours = {EMOTION_TAGS[t]: p for t, p in emotions.items() if EMOTION_TAGS[t] is not None}
    label = max(ours, key=ours.__getitem__)
    assert label is not None
    probs, best = log_probs[QUERIES:].max(dim=-1)
    spans: list[tuple[int, int, int, float]] = []
    previous = -1
    for frame, (index, logp) in enumerate(zip(best.tolist(), probs.tolist(), strict=True)):
        if index != previous and index != 0 and index not in tokenizer.specials:
            spans.append((index, frame, frame, math.exp(logp)))
        elif index == previous and index != 0 and spans and spans[-1][2] == frame - 1:
            token, first, _, p = spans[-1]
            spans[-1] = (token, first, frame, max(p, math.exp(logp)))
        previous = index
    event = max(events, key=events.__getitem__)
    transcript = Transcript(
        text=tokenizer.decode([s[0] for s in spans]).strip(),
        words=_words(tokenizer, spans),
        language=None if language == "nospeech" else language,
    )
    return SenseVoiceResult(
        transcript=transcript,
        emotion_tag=tag,
        emotion=EmotionEstimate(label=label, confidence=ours[label], source="sensevoice"),
        event=EventTag(label=event, probability=events[event]),
        emotion_probabilities=emotions,
    )


# --- the backend -----------------------------------------------------------------------------


def _tokenizer_path(directory: Path, config: Path) -> Path:
    """``tokenizer_conf.bpemodel`` when set, else the one ``*.bpe.model`` of the directory."""
    import yaml

    try:
        data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        data = {}  # SenseVoiceConfig.from_yaml reports it
    named = (data.get("tokenizer_conf") or {}).get("bpemodel") if isinstance(data, dict) else None
    if named and (directory / Path(named).name).exists():
        return directory / Path(named).name
    found = sorted(directory.glob("*.bpe.model")) or sorted(directory.glob("*.model"))
    if not found:
        raise ModelLoadError(
            f"{directory}: no SentencePiece model (chn_jpn_yue_eng_ko_spectok.bpe.model); "
            "download the whole FunAudioLLM/SenseVoiceSmall directory"
        )
    return found[0]


def _pick_device(device: str) -> torch.device:
    """``auto``: cuda when torch sees one, else cpu; otherwise as :func:`resolve_device`."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return resolve_device(device)[0]


class SenseVoice:
    """SenseVoice-Small as a speech recognizer, an emotion estimator and an audio-event
    detector at once.

    One pass gives all three, so the result of the last utterance is kept: the emotion and the
    event of the audio just transcribed cost nothing.

    Args:
        directory: the downloaded ``FunAudioLLM/SenseVoiceSmall`` (or ``iic/SenseVoiceSmall``)
            directory: ``model.pt``, ``config.yaml``, ``am.mvn``, the ``.bpe.model``.
        device: ``auto`` (cuda when present), ``cpu``, ``cuda`` or ``cuda:N``.
        language: the language query, one of :data:`LANGUAGE_QUERIES` (``auto`` detects it).
        use_itn: ask for inverse text normalization (digits, punctuation).

    Raises:
        ModelLoadError: a file missing or not what SenseVoice ships (named in the message).
        ConfigError: an unknown language or device.
    """

    name = "sensevoice-small"

    def __init__(
        self,
        directory: str | Path,
        *,
        device: str = "auto",
        language: str = "auto",
        use_itn: bool = False,
    ) -> None:
        if language not in LANGUAGE_QUERIES:
            raise ConfigError(
                f"SenseVoice language {language!r}; choose from {', '.join(LANGUAGE_QUERIES)}"
            )
        self.device = _pick_device(device)
        root = Path(directory).expanduser()
        if not root.is_dir():
            raise ModelLoadError(
                f"{root} is not a directory; download FunAudioLLM/SenseVoiceSmall (model.pt, "
                "config.yaml, am.mvn, the .bpe.model) and point --sensevoice at it"
            )
        for file in ("model.pt", "config.yaml", "am.mvn"):
            if not (root / file).is_file():
                raise ModelLoadError(
                    f"{root / file} is missing; download the whole FunAudioLLM/SenseVoiceSmall "
                    "directory (README, SenseVoice section)"
                )
        self.tokenizer = SenseVoiceTokenizer(_tokenizer_path(root, root / "config.yaml"))
        self.config = SenseVoiceConfig.from_yaml(root / "config.yaml", self.tokenizer.size)
        shift, scale = load_cmvn(root / "am.mvn", self.config.frontend.input_size)
        self.frontend = SenseVoiceFrontend(self.config.frontend, shift, scale)
        self.model = SenseVoiceModel(self.config)
        load_state(self.model, root / "model.pt", self.device)
        self.model.eval()
        self.queries = (
            LANGUAGE_QUERIES[language],
            TEXT_NORM_QUERIES["withitn" if use_itn else "woitn"],
        )
        self._lock = threading.Lock()
        self._last: tuple[bytes, SenseVoiceResult] | None = None
        log.info(
            "sensevoice.loaded",
            directory=str(root),
            device=str(self.device),
            layers=self.config.encoder.num_blocks + self.config.encoder.tp_blocks,
            vocab=self.config.vocab_size,
        )

    def recognize(self, audio: Audio) -> SenseVoiceResult:
        """One pass over one utterance (blocking; the async methods run it in a thread).

        Raises:
            BackendError: the audio is shorter than one filterbank window (25 ms).
        """
        key = hashlib.blake2b(audio.samples.tobytes(), digest_size=16).digest()
        key += audio.sample_rate.to_bytes(4, "little")
        with self._lock:
            if self._last is not None and self._last[0] == key:
                return self._last[1]
            features = self.frontend(audio)
            if features.shape[0] == 0:
                raise BackendError(
                    f"{audio.duration * 1000:.0f} ms of audio is too short for SenseVoice "
                    "(one 25 ms window at least)",
                    retryable=False,
                )
            with torch.inference_mode():
                log_probs = self.model(features.to(self.device), *self.queries).float().cpu()
            result = decode(self.tokenizer, log_probs)
            self._last = (key, result)
        log.info(
            "sensevoice.recognized",
            seconds=round(audio.duration, 2),
            language=result.transcript.language,
            emotion=result.emotion_tag,
            audio_event=result.event.label,
            pii_text=result.transcript.text,
        )
        return result

    async def transcribe(self, audio: Audio, hints: Sequence[str] = ()) -> Transcript:
        """The transcript (``SpeechRecognizer``); SenseVoice takes no hints."""
        return (await asyncio.to_thread(self.recognize, audio)).transcript

    async def estimate(
        self, audio: Audio | None, transcript: str, speaker: str = "default"
    ) -> EmotionEstimate:
        """The emotion in the voice (``EmotionEstimator``); without audio, neutral at 0."""
        if audio is None:
            return EmotionEstimate(label="neutral", confidence=0.0, source="sensevoice")
        return (await asyncio.to_thread(self.recognize, audio)).emotion

    async def warm_up(self) -> None:
        """Nothing to do (``AudioEventDetector``): the weights load with the object."""

    async def detect(self, audio: Audio) -> tuple[AudioEvent, ...]:
        """The utterance's event tag as an event over the whole audio (``AudioEventDetector``),
        labelled as YAMNet's are (:data:`~voice_agent.models.events.SENSEVOICE_AUDIOSET`);
        ``Event_UNK`` is none. The same pass as the transcript's: no second run."""
        tag = (await asyncio.to_thread(self.recognize, audio)).event
        audioset = SENSEVOICE_AUDIOSET.get(tag.label)
        if audioset is None:
            return ()
        event = AudioEvent(
            label=label_of(audioset),
            audioset=audioset,
            score=tag.probability,
            start=0.0,
            end=round(audio.duration, 3),
        )
        return (event,)
