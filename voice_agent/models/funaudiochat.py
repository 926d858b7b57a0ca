"""Fun-Audio-Chat (FunAudioLLM/Fun-Audio-Chat-8B), speech in → text and tool calls out.

One readable file for the checkpoint, written for the torch and transformers this project uses
(the official code pins transformers 4.52.3 and torch 2.3.1 and is not a package). It loads the
official ``config.json`` and safetensors shards with the official parameter names; the layout:

- ``continuous_audio_tower``: a Whisper-style encoder. 16 kHz audio → 128-bin log-mel at 100
  frames/s, cut into chunks of ``2 × n_window`` frames; each chunk goes through two convolutions
  (the second with stride 2) and its own sinusoidal positions, and attends only within itself;
  the chunks are joined, average-pooled by 2 (→ 25 frames/s), normalized and projected to the
  language model's width.
- ``audio_tower``: embeds 25 Hz speech-token ids and averages them in groups of 5 (→ 5 Hz); the
  continuous features, averaged the same way, replace (or are added to) those embeddings. For
  speech-to-text the official processor fills the ids with ``<|audio_pad|>``, so what the
  language model sees is the continuous path.
- ``language_model``: Qwen3 (transformers' own ``Qwen3ForCausalLM``, from ``text_config``).
- ``audio_invert_tower`` (the Speech Refined Head, for speech output): not built. Its weights
  are skipped knowingly at load time and counted in the log; the agent speaks through its own
  TTS backend instead (CosyVoice on the GPU profile).

Generation is our own loop over the language model with a key/value cache, decoding under the
tool grammar (``voice_agent.models._grammar``) through llguidance, whose JSON-Schema engine
makes every call schema-valid (names, types, enums, required fields, number bounds) even from a
weak (or random) model. The emotion label is obtained by instruction: the model is
asked for ``{"emotion": …, "transcript": …}`` under a JSON-schema grammar, and the label's
confidence is the probability the model gave to it among the allowed labels.

bf16 on CUDA, fp32 on the CPU.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from voice_agent.audio import MODEL_RATE, Audio
from voice_agent.chat_format import chatml, qwen_tools_block
from voice_agent.errors import BackendError, ModelLoadError
from voice_agent.log import get_logger
from voice_agent.models._checkpoint import CheckpointMismatch, CheckpointReport, MisShaped
from voice_agent.models._device import ModelStream, resolve_device
from voice_agent.models._grammar import tool_call_lark
from voice_agent.models._threads import stream_from_thread
from voice_agent.models._tokenizer import load_tokenizer, tokenizer_form
from voice_agent.models.protocols import (
    EMOTIONS,
    EmotionEstimate,
    Perception,
    Understanding,
    UnderstandingCapabilities,
    UnderstandingRequest,
)

__all__ = [
    "AUDIO_TEMPLATE",
    "S2T_SYSTEM",
    "AudioEncoderConfig",
    "FunAudioChat",
    "FunAudioChatConfig",
    "FunAudioChatModel",
    "FunAudioChatProcessor",
    "resolve_device",
]

log = get_logger(__name__)

S2T_SYSTEM = "You are asked to generate text tokens."
"""The official system prompt for text-only output (REFERENCE.md §2)."""
AUDIO_TEMPLATE = "<|audio_bos|><|AUDIO|><|audio_eos|>"
SPEECH_TOKENS_PER_SECOND = 25
MIN_SECONDS = 1 / SPEECH_TOKENS_PER_SECOND
"""The shortest audio the model can hear: one 25 Hz speech frame (40 ms). Below it the official
processor makes no audio position at all (and under 10 ms the encoder gets no mel frame)."""
SKIPPED_PREFIXES = ("audio_invert_tower.",)
"""Official parameters we do not build: the Speech Refined Head (speech output only)."""
TIED = {"audio_invert_tower.lm_head.weight": "audio_tower.embed_tokens.weight"}
"""The speech head's output layer shares its matrix with the speech-token embedding."""
PERCEIVE_INSTRUCTION = (
    "Write down exactly what the speaker said, and the emotion in their voice, as JSON."
)


# --- configuration ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioEncoderConfig:
    """``audio_config`` of the official ``config.json`` (defaults are the official ones)."""

    num_mel_bins: int = 128
    encoder_layers: int = 32
    encoder_attention_heads: int = 20
    encoder_ffn_dim: int = 5120
    d_model: int = 1280
    activation_function: str = "gelu"
    scale_embedding: bool = False
    max_source_positions: int = 1500
    n_window: int = 100
    output_dim: int = 3584
    codebook_size: int = 6565
    pad_token_id: int | None = None
    group_size: int = 5
    continuous_features_mode: str = "replace"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AudioEncoderConfig:
        """Read the fields we use; the rest (the speech head's settings) is ignored."""
        names = set(cls.__dataclass_fields__)
        values = {k: v for k, v in data.items() if k in names and v is not None}
        config = cls(**values)
        if config.continuous_features_mode not in ("add", "replace"):
            raise ModelLoadError(
                f"audio_config.continuous_features_mode must be 'add' or 'replace', "
                f"not {config.continuous_features_mode!r}"
            )
        return config


@dataclass(frozen=True, slots=True, kw_only=True)
class FunAudioChatConfig:
    """The official ``config.json``: an audio encoder config and a Qwen3 text config."""

    audio: AudioEncoderConfig
    text: Any
    """A transformers config for ``text_config`` (Qwen3 in the released checkpoint)."""
    audio_token_index: int = 151646

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FunAudioChatConfig:
        from transformers import AutoConfig

        if data.get("model_type") != "funaudiochat":
            raise ModelLoadError(
                f"config.json has model_type {data.get('model_type')!r}, not 'funaudiochat': "
                "point --funaudiochat at the Fun-Audio-Chat-8B checkpoint directory"
            )
        text = dict(data.get("text_config") or {})
        model_type = text.pop("model_type", "qwen3")
        try:
            text_config = AutoConfig.for_model(model_type, **text)
        except (KeyError, ValueError) as e:
            raise ModelLoadError(f"text_config: unknown model_type {model_type!r} ({e})") from e
        return cls(
            audio=AudioEncoderConfig.from_dict(data.get("audio_config") or {}),
            text=text_config,
            audio_token_index=int(data.get("audio_token_index", 151646)),
        )

    @classmethod
    def from_file(cls, path: Path) -> FunAudioChatConfig:
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError) as e:
            raise ModelLoadError(f"cannot read {path}: {e}") from e


# --- the continuous audio tower (Whisper-style encoder) --------------------------------------


class AudioAttention(nn.Module):
    """Multi-head self-attention of the audio encoder (``k_proj`` has no bias, as in Whisper)."""

    def __init__(self, config: AudioEncoderConfig) -> None:
        super().__init__()
        self.heads = config.encoder_attention_heads
        dim = config.d_model
        self.k_proj = nn.Linear(dim, dim, bias=False)
        self.v_proj = nn.Linear(dim, dim)
        self.q_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """``x``: (chunks, frames, d_model); ``keep``: (chunks, frames), False on padding."""
        chunks, frames, dim = x.shape

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(chunks, frames, self.heads, dim // self.heads).transpose(1, 2)

        out = nn.functional.scaled_dot_product_attention(
            heads(self.q_proj(x)),
            heads(self.k_proj(x)),
            heads(self.v_proj(x)),
            attn_mask=keep[:, None, None, :],
        )
        projected: torch.Tensor = self.out_proj(out.transpose(1, 2).reshape(chunks, frames, dim))
        return projected


class AudioEncoderLayer(nn.Module):
    """Pre-norm transformer layer: attention, then a GELU MLP, each with a residual."""

    def __init__(self, config: AudioEncoderConfig) -> None:
        super().__init__()
        from transformers.activations import ACT2FN

        self.self_attn = AudioAttention(config)
        self.self_attn_layer_norm = nn.LayerNorm(config.d_model)
        self.fc1 = nn.Linear(config.d_model, config.encoder_ffn_dim)
        self.fc2 = nn.Linear(config.encoder_ffn_dim, config.d_model)
        self.final_layer_norm = nn.LayerNorm(config.d_model)
        self.activation = ACT2FN[config.activation_function]

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.self_attn_layer_norm(x), keep)
        mlp: torch.Tensor = self.fc2(self.activation(self.fc1(self.final_layer_norm(x))))
        return x + mlp


def sinusoids(length: int, channels: int, max_timescale: float = 10000.0) -> torch.Tensor:
    """Whisper's fixed positions: sines then cosines over log-spaced timescales."""
    increment = math.log(max_timescale) / (channels // 2 - 1)
    inverse = torch.exp(-increment * torch.arange(channels // 2, dtype=torch.float32))
    scaled = torch.arange(length, dtype=torch.float32)[:, None] * inverse[None, :]
    return torch.cat([torch.sin(scaled), torch.cos(scaled)], dim=1)


class ContinuousAudioEncoder(nn.Module):
    """``continuous_audio_tower``: log-mel frames (100/s) → embeddings at 25/s."""

    def __init__(self, config: AudioEncoderConfig) -> None:
        super().__init__()
        self.config = config
        dim = config.d_model
        self.conv1 = nn.Conv1d(config.num_mel_bins, dim, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(dim, dim, kernel_size=3, stride=2, padding=1)
        self.layers = nn.ModuleList(AudioEncoderLayer(config) for _ in range(config.encoder_layers))
        self.ln_post = nn.LayerNorm(dim)
        self.proj = nn.Linear(dim, config.output_dim)
        self.audio_bos_eos_token = nn.Embedding(2, config.output_dim)  # in the checkpoint; unused
        self.register_buffer(
            "positions", sinusoids(config.max_source_positions, dim), persistent=False
        )
        self.embed_scale = math.sqrt(dim) if config.scale_embedding else 1.0

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``features``: (mel bins, frames) of one audio, padding removed → (frames/4, out)."""
        window = 2 * self.config.n_window
        chunks = list(torch.split(features, window, dim=1))
        embedded = []
        for chunk in chunks:  # each chunk is encoded on its own, as in the official model
            h = nn.functional.gelu(self.conv1(chunk[None]))
            h = nn.functional.gelu(self.conv2(h))[0].transpose(0, 1)
            positions: torch.Tensor = self.positions  # type: ignore[assignment]
            embedded.append(h * self.embed_scale + positions[: h.shape[0]].to(h.dtype))
        lengths = [e.shape[0] for e in embedded]
        x = nn.utils.rnn.pad_sequence(embedded, batch_first=True)
        keep = (
            torch.arange(x.shape[1], device=x.device)[None, :]
            < torch.tensor(lengths, device=x.device)[:, None]
        )
        for layer in self.layers:
            x = layer(x, keep)
        joined = x[keep]  # (all frames, d_model), chunk after chunk
        if joined.shape[0] >= 2:
            joined = nn.functional.avg_pool1d(joined.T[None], 2, 2)[0].T
        out: torch.Tensor = self.proj(self.ln_post(joined))
        return out


# --- the discrete audio tower (5x grouping) --------------------------------------------------


class DiscreteAudioEncoder(nn.Module):
    """``audio_tower``: 25 Hz speech ids (and continuous features) → 5 Hz LLM embeddings."""

    def __init__(self, config: AudioEncoderConfig) -> None:
        super().__init__()
        self.config = config
        width = config.output_dim
        self.embed_tokens = nn.Embedding(config.codebook_size, width, config.pad_token_id)
        self.output_matching = nn.Linear(width, width, bias=False)
        self.continual_output_matching = nn.Linear(width, width, bias=False)

    def forward(self, speech_ids: torch.Tensor, continuous: torch.Tensor | None) -> torch.Tensor:
        """``speech_ids``: (n,) with n a multiple of the group size; ``continuous``: (n, width)."""
        group, width = self.config.group_size, self.config.output_dim
        hidden: torch.Tensor = self.output_matching(
            self.embed_tokens(speech_ids).view(-1, group, width).mean(1)
        )
        if continuous is None:
            return hidden
        audio: torch.Tensor = self.continual_output_matching(
            continuous.view(-1, group, width).mean(1)
        )
        return hidden + audio if self.config.continuous_features_mode == "add" else audio


# --- the whole model --------------------------------------------------------------------------


class FunAudioChatModel(nn.Module):
    """The speech-to-text part of ``FunAudioChatForConditionalGeneration``, with its names."""

    def __init__(self, config: FunAudioChatConfig) -> None:
        super().__init__()
        from transformers import AutoModelForCausalLM

        self.config = config
        self.continuous_audio_tower = ContinuousAudioEncoder(config.audio)
        self.audio_tower = DiscreteAudioEncoder(config.audio)
        config.text._attn_implementation = "sdpa"
        self.language_model = AutoModelForCausalLM.from_config(config.text)  # type: ignore[no-untyped-call]

    def audio_embeddings(self, features: torch.Tensor, speech_ids: torch.Tensor) -> torch.Tensor:
        """One audio's embeddings for its ``<|AUDIO|>`` positions: (len(speech_ids)/5, width).

        ``features``: (mel bins, valid frames); ``speech_ids``: the processor's padded ids.
        """
        continuous = self.continuous_audio_tower(features)
        n = speech_ids.shape[0]
        fitted = continuous.new_zeros(n, continuous.shape[1])
        fitted[: min(n, continuous.shape[0])] = continuous[:n]
        out: torch.Tensor = self.audio_tower(speech_ids, fitted)
        return out

    def embed(self, input_ids: torch.Tensor, audio: torch.Tensor | None) -> torch.Tensor:
        """Token embeddings with the ``<|AUDIO|>`` positions replaced by ``audio``."""
        embeds: torch.Tensor = self.language_model.get_input_embeddings()(input_ids)
        slots = input_ids == self.config.audio_token_index
        count = int(slots.sum())
        if audio is None and count == 0:
            return embeds
        if audio is None or audio.shape[0] != count:
            raise BackendError(
                f"the prompt has {count} audio positions but the audio gave "
                f"{0 if audio is None else audio.shape[0]} embeddings",
                retryable=False,
            )
        embeds = embeds.clone()
        embeds[slots] = audio.to(embeds.dtype)
        return embeds


def load_weights(model: nn.Module, directory: Path) -> CheckpointReport:
    """Copy the checkpoint's tensors into ``model``, shard by shard, tensor by tensor (so the
    peak memory is the model plus one tensor). Every tensor is compared before anything is
    refused, so the error names all unknown, missing and mis-shaped ones at once.

    Returns:
        The report: tensors loaded, and skipped (the speech head's).

    Raises:
        ModelLoadError: no safetensors.
        CheckpointMismatch: a tensor of an unknown name or shape, or a missing one.
    """
    from safetensors import safe_open

    index = directory / "model.safetensors.index.json"
    if index.exists():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
    elif (directory / "model.safetensors").exists():
        shards = ["model.safetensors"]
    else:
        raise ModelLoadError(f"no model.safetensors(.index.json) in {directory}")
    params = model.state_dict()
    seen: set[str] = set()
    report = CheckpointReport(file="model*.safetensors")
    with torch.no_grad():
        for shard in shards:
            with safe_open(str(directory / shard), framework="pt") as f:
                for name in f.keys():  # noqa: SIM118 - safe_open is not a mapping
                    if name.startswith(SKIPPED_PREFIXES):
                        report.skipped += 1
                        target = TIED.get(name)  # a tied copy may be the only one saved
                        if target in params and target not in seen:
                            params[target].copy_(f.get_tensor(name))
                            seen.add(target)
                        continue
                    if name not in params:
                        report.unknown.append(name)
                        continue
                    shape, expected = tuple(f.get_slice(name).get_shape()), params[name].shape
                    if shape != tuple(expected):
                        report.mis_shaped.append(
                            MisShaped(name=name, checkpoint=shape, expected=tuple(expected))
                        )
                        seen.add(name)  # present, if wrong: not also "missing"
                        continue
                    params[name].copy_(f.get_tensor(name))
                    seen.add(name)
    tied = set()
    if getattr(model, "config", None) is not None:
        text = model.config.text  # type: ignore[union-attr]
        if getattr(text, "tie_word_embeddings", False):
            tied = {"language_model.lm_head.weight"}
    report.missing = sorted(set(params) - seen - tied)
    report.loaded = len(seen) - len(report.mis_shaped)
    if not report.ok:
        raise CheckpointMismatch(
            str(directory),
            [report],
            "the Fun-Audio-Chat layout differs (config.json and weights disagree, or the "
            "download is incomplete or of another model)",
        )
    return report


# --- the processor ----------------------------------------------------------------------------


class FunAudioChatProcessor:
    """Audio → Whisper features and speech ids; messages → token ids with the audio positions.

    Reads the checkpoint's text tokenizer (``tokenizer.json``, or ``vocab.json`` +
    ``merges.txt`` with ``tokenizer_config.json``: see :mod:`voice_agent.models._tokenizer`),
    the speech tokenizer under ``speech_tokenizer/`` (either form) for the id of
    ``<|audio_pad|>``, and ``preprocessor_config.json``; nothing from a hub. Without a speech
    tokenizer the pad id is ``audio_config.pad_token_id``, the id the official model pads
    speech ids with; the speech tokenizer's own id wins when both are there (it is what the
    official processor writes).
    """

    def __init__(self, directory: Path, config: FunAudioChatConfig) -> None:
        from transformers import WhisperFeatureExtractor

        self.directory = directory
        self.tokenizer = load_tokenizer(directory)
        self.speech_pad_id = _speech_pad_id(directory, config)
        try:
            self.features = WhisperFeatureExtractor.from_pretrained(str(directory))
        except Exception as e:  # transformers raises plain Exception subclasses
            raise ModelLoadError(
                f"cannot read the feature extractor (preprocessor_config.json) in {directory}: {e}"
            ) from e
        audio = self.tokenizer.token_to_id("<|AUDIO|>")
        if audio is None:
            raise ModelLoadError(
                f"{directory}: the tokenizer lacks <|AUDIO|>; not a Fun-Audio-Chat checkpoint"
            )
        if audio != config.audio_token_index:
            raise ModelLoadError(
                f"<|AUDIO|> is token {audio} but config.json says audio_token_index "
                f"{config.audio_token_index}"
            )
        self.audio_id = audio
        self.group = config.audio.group_size
        self.eos_ids = [
            i
            for i in (self.tokenizer.token_to_id(t) for t in ("<|im_end|>", "<|endoftext|>"))
            if i is not None
        ]

    def audio_inputs(self, audio: Audio) -> tuple[np.ndarray, np.ndarray]:
        """(features (mel, valid frames), speech ids padded to the group size) for one audio.

        Audio longer than 30 s is cut to 30 s (the encoder's window), with a log line.

        Raises:
            BackendError: not 16 kHz, or shorter than :data:`MIN_SECONDS` (too short).
        """
        samples = audio.samples
        if audio.sample_rate != MODEL_RATE:
            raise BackendError(
                f"Fun-Audio-Chat needs {MODEL_RATE} Hz audio, got {audio.sample_rate} Hz; "
                "use voice_agent.audio.prepare()",
                retryable=False,
            )
        if audio.duration < MIN_SECONDS:
            raise BackendError(
                f"the audio is {audio.duration * 1000:.0f} ms long: too short for Fun-Audio-Chat, "
                f"which hears speech in {MIN_SECONDS * 1000:.0f} ms frames; record at least "
                f"{MIN_SECONDS * 1000:.0f} ms",
                retryable=False,
            )
        if len(samples) > 30 * MODEL_RATE:
            log.warning("funaudiochat.audio_cut", seconds=round(len(samples) / MODEL_RATE, 1))
            samples = samples[: 30 * MODEL_RATE]
        out = self.features(
            samples,
            sampling_rate=MODEL_RATE,
            return_attention_mask=True,
            padding="max_length",
            return_tensors="np",
        )
        valid = int(out["attention_mask"][0].sum())
        features = out["input_features"][0][:, :valid].astype(np.float32)
        frames = int(len(samples) / MODEL_RATE * SPEECH_TOKENS_PER_SECOND)
        padded = -(-frames // self.group) * self.group
        return features, np.full(padded, self.speech_pad_id, dtype=np.int64)

    def encode(self, text: str, audio_positions: int = 0) -> list[int]:
        """Token ids of a prompt whose single ``<|AUDIO|>`` stands for ``audio_positions``."""
        if audio_positions:
            text = text.replace("<|AUDIO|>", "<|AUDIO|>" * audio_positions, 1)
        ids: list[int] = self.tokenizer.encode(text, add_special_tokens=False).ids
        return ids


def _speech_pad_id(directory: Path, config: FunAudioChatConfig) -> int:
    """The id of ``<|audio_pad|>``: the speech tokenizer's, else ``audio_config.pad_token_id``."""
    speech = directory / "speech_tokenizer"
    if tokenizer_form(speech) is not None:
        pad = load_tokenizer(speech).token_to_id("<|audio_pad|>")
        if pad is None:
            raise ModelLoadError(
                f"{speech}: the speech tokenizer lacks <|audio_pad|>; not a Fun-Audio-Chat "
                "checkpoint"
            )
        if config.audio.pad_token_id is not None and pad != config.audio.pad_token_id:
            log.warning(
                "funaudiochat.pad_ids_differ",
                speech_tokenizer=pad,
                audio_config=config.audio.pad_token_id,
            )
        return int(pad)
    if config.audio.pad_token_id is None:
        raise ModelLoadError(
            f"{directory}: no speech_tokenizer/ (tokenizer.json or vocab.json + merges.txt) and "
            "no audio_config.pad_token_id in config.json, so the id of <|audio_pad|> is unknown; "
            "the download may be incomplete"
        )
    return config.audio.pad_token_id


# --- the backend ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Generated:
    text: str
    steps: list[tuple[int, float]] = field(default_factory=list)
    """(text length before the step, probability of the chosen token among allowed ones)."""
    reused: int = 0
    """Prompt tokens whose keys and values came from the previous call's cache."""


class FunAudioChat:
    """Fun-Audio-Chat as a :class:`~voice_agent.models.protocols.ConversationalModel`.

    Args:
        directory: the checkpoint directory (``config.json``, ``model*.safetensors``, the
            tokenizer as ``tokenizer.json`` or ``vocab.json`` + ``merges.txt``,
            ``speech_tokenizer/`` (optional), ``preprocessor_config.json``).
        device: ``cuda`` (bf16) or ``cpu`` (fp32).
        max_new_tokens: generation budget per reply.
        temperature: 0 for greedy decoding.
        use_grammar: decode under the tool grammar (calls are then always schema-valid).
    """

    capabilities = UnderstandingCapabilities(streaming=True, audio_in=True)
    """It hears the user's speech in every reply step, and writes the reply token by token."""

    def __init__(
        self,
        directory: str | Path,
        *,
        device: str = "cuda",
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        use_grammar: bool = True,
        system: str | None = None,
    ) -> None:
        self.directory = Path(directory).expanduser()
        self.device_name = device
        self.max_new_tokens, self.temperature, self.use_grammar = (
            max_new_tokens,
            temperature,
            use_grammar,
        )
        self.system = system
        self.name = f"fun-audio-chat:{self.directory.name}"
        self._lock = threading.Lock()
        self._model: FunAudioChatModel | None = None
        self._processor: FunAudioChatProcessor | None = None
        self._lltokenizer: Any = None
        self._stream = ModelStream(torch.device("cpu"))  # replaced by the device's at load
        self._grammars: dict[str, str] = {}
        self._prefix: tuple[list[int], Audio | None, Any] | None = None
        """The token ids whose keys/values the last call's cache holds, the audio heard in them
        and the cache: the next call reuses the longest common prefix (system prompt, tools,
        history), so a turn's later steps and the next turn only prefill what is new."""
        self.checkpoint: CheckpointReport | None = None
        """What loading found in the safetensors shards (None until loaded)."""
        self._heard: tuple[Audio, torch.Tensor] | None = None
        """The last audio and its embeddings: a turn's perceive step and reply steps hear the
        same audio, which is encoded once."""

    # loading

    def load(self) -> None:
        """Read config, tokenizers and weights (once)."""
        with self._lock:
            if self._model is not None:
                return
            if not (self.directory / "config.json").exists():
                raise ModelLoadError(
                    f"no config.json in {self.directory}: download FunAudioLLM/Fun-Audio-Chat-8B "
                    "(see the README's GPU section) and point --funaudiochat at it"
                )
            device, dtype = resolve_device(self.device_name)
            start = time.perf_counter()
            config = FunAudioChatConfig.from_file(self.directory / "config.json")
            processor = FunAudioChatProcessor(self.directory, config)
            previous = torch.get_default_dtype()
            torch.set_default_dtype(dtype)  # build in the final dtype: an 8B model in fp32
            try:  # first would need twice the memory
                with device:
                    model = FunAudioChatModel(config)
            finally:
                torch.set_default_dtype(previous)
            counts = load_weights(model, self.directory)
            model.eval()
            import llguidance

            self._lltokenizer = llguidance.LLTokenizer(
                processor.tokenizer.to_str(),
                n_vocab=model.language_model.get_input_embeddings().num_embeddings,
                eos_token=processor.eos_ids[0] if processor.eos_ids else None,
            )
            self._model, self._processor = model, processor
            self.checkpoint = counts
            self._stream = ModelStream(device)
            log.info(
                "funaudiochat.loaded",
                directory=str(self.directory),
                device=str(device),
                dtype=str(dtype),
                seconds=round(time.perf_counter() - start, 2),
                speech_head_tensors_skipped=counts.skipped,
                tensors=counts.loaded,
            )

    async def warm_up(
        self, tools: Sequence[Mapping[str, Any]] = (), system: str | None = None
    ) -> None:
        """Load the weights and compile the tool grammar before the first turn."""

        def run() -> None:
            self.load()
            self._grammar(tools, "auto")

        await asyncio.to_thread(run)

    def close(self) -> None:
        """Free the model's memory; it loads again on next use."""
        with self._lock:
            self._model, self._heard = None, None
            if torch.cuda.is_available():
                torch.cuda.empty_cache()

    # prompts

    def _system(self, request: UnderstandingRequest) -> str:
        """The official system prompt, with our persona and style where it allows them.

        The official text-output prompt is ``You are asked to generate text tokens.``; with
        tools, a single newline and the Qwen ``# Tools`` block follow it (the official
        ``FUNCTION_CALLING_PROMPT``). Those bytes are kept exactly. Our persona and the turn's
        reply style follow the mode sentence after one space, where the official spoken persona
        prompt puts its persona (``SPOKEN_S2M_PROMPT`` = mode sentence + " " + persona); with
        neither, the prompt is the official one byte for byte.
        """
        extra = " ".join(p for p in (self.system, request.system) if p)
        head = f"{S2T_SYSTEM} {extra}" if extra else S2T_SYSTEM
        return f"{head}\n{qwen_tools_block(request.tools)}" if request.tools else head

    def prompt(self, request: UnderstandingRequest) -> str:
        """ChatML for a reply: system + tools, history, the user's turn (their audio when the
        request carries it, in place of its transcript).

        The step's instructions follow the user's last turn after a newline, inside it, as the
        official examples give an instruction with audio (``AUDIO_TEMPLATE + "\\n" +
        instruction``); a system turn after the audio is not a format the model was trained on.
        Earlier user turns stay as their transcripts (the official multi-turn demo keeps their
        audio): one recording is encoded per turn, and a transcript is what the history stores.
        """
        turns: list[tuple[str, str]] = [("system", self._system(request))]
        history = list(request.history)
        last_user = max((i for i, m in enumerate(history) if m.role == "user"), default=None)
        for i, message in enumerate(history):
            content = message.content
            if request.audio is not None and i == last_user:
                content = AUDIO_TEMPLATE
            turns.append((message.role, content))
        if request.text is not None:
            turns.append(("user", request.text))
        elif request.audio is not None and last_user is None:
            turns.append(("user", AUDIO_TEMPLATE))
        if request.instructions:
            users = [i for i, (role, _) in enumerate(turns) if role == "user"]
            if users:
                role, content = turns[users[-1]]
                turns[users[-1]] = (role, f"{content}\n{request.instructions}")
            else:
                turns.append(("user", request.instructions))
        return chatml(turns)

    def _grammar(self, tools: Sequence[Mapping[str, Any]], choice: str) -> str:
        """The tool grammar as llguidance Lark, with ``<tool_call>`` matched as the model's own
        single token when its tokenizer has one (Qwen's does)."""
        key = choice + json.dumps(list(tools), sort_keys=True)
        if key in self._grammars:
            return self._grammars[key]
        import llguidance

        assert self._processor is not None
        tokenizer = self._processor.tokenizer
        open_id = tokenizer.token_to_id("<tool_call>")
        close_id = tokenizer.token_to_id("</tool_call>")
        tags = {}
        if open_id is not None and close_id is not None:
            tags = {"open_tag": f"<[{open_id}]>", "close_tag": f"<[{close_id}]>"}
        lark = tool_call_lark(tools, choice, **tags)
        grammar: str = llguidance.grammar_from("lark", lark)
        error = llguidance.LLMatcher.validate_grammar(grammar, self._lltokenizer)
        if error:
            raise BackendError(f"tool grammar rejected by llguidance: {error}", retryable=False)
        self._grammars[key] = grammar
        if len(self._grammars) > 64:
            self._grammars.pop(next(iter(self._grammars)))
        return grammar

    # generation

    def _generate(
        self,
        prompt: str,
        audio: Audio | None,
        grammar: str | None,
        on_text: Callable[[str], None],
        should_stop: Callable[[], bool] = lambda: False,
    ) -> _Generated:
        self.load()
        with self._stream():  # its own CUDA stream: the TTS on the same GPU does not block it
            return self._generate_here(prompt, audio, grammar, on_text, should_stop)

    def _generate_here(
        self,
        prompt: str,
        audio: Audio | None,
        grammar: str | None,
        on_text: Callable[[str], None],
        should_stop: Callable[[], bool],
    ) -> _Generated:
        model, processor = self._model, self._processor
        assert model is not None
        assert processor is not None
        import llguidance
        import llguidance.torch as lltorch
        from transformers import DynamicCache

        device = next(model.parameters()).device
        with self._lock, torch.inference_mode():
            audio_embeds = None
            if audio is not None and "<|AUDIO|>" in prompt:
                audio_embeds = self._hear(audio)
            positions = 0 if audio_embeds is None else audio_embeds.shape[0]
            ids = processor.encode(prompt, positions)
            input_ids = torch.tensor(ids, device=device)
            embeds = model.embed(input_ids, audio_embeds)[None]
            matcher = None
            mask = None
            if grammar is not None:
                matcher = llguidance.LLMatcher(self._lltokenizer, grammar)
                mask = lltorch.allocate_token_bitmask(1, self._lltokenizer.vocab_size)
            cache, reused = self._reusable_prefix(ids, audio if audio_embeds is not None else None)
            if cache is None:
                cache = DynamicCache()
            self._prefix = None  # until this call finishes, the cache is in flux
            out = model.language_model(
                inputs_embeds=embeds[:, reused:], past_key_values=cache, use_cache=True
            )
            fed = list(ids)
            generated: list[int] = []
            result = _Generated(text="", reused=reused)
            for _ in range(self.max_new_tokens):
                logits = out.logits[0, -1].float()
                if matcher is not None and mask is not None:
                    lltorch.fill_next_token_bitmask(matcher, mask, 0)
                    allowed = _unpack(mask[0], logits.shape[0]).to(logits.device)
                    logits = logits.masked_fill(~allowed, float("-inf"))
                probs = torch.softmax(logits, dim=-1)
                if self.temperature > 0:
                    token = int(torch.multinomial(torch.softmax(logits / self.temperature, -1), 1))
                else:
                    token = int(torch.argmax(logits))
                if not math.isfinite(float(logits[token])):
                    break  # nothing allowed: the grammar is complete
                if token in processor.eos_ids:
                    break
                before = len(result.text)
                generated.append(token)
                # As the official decode: special tokens (<|audio_bos|>, …) are dropped; the
                # <tool_call> tags are not special in Qwen's tokenizer and stay.
                text = processor.tokenizer.decode(generated, skip_special_tokens=True)
                if not text.endswith("\ufffd"):  # wait for the rest of a multi-byte character
                    piece, result.text = text[before:], text
                    if piece:
                        on_text(piece)
                result.steps.append((before, float(probs[token])))
                if matcher is not None:
                    if not matcher.consume_token(token):
                        raise BackendError(
                            f"grammar refused token {token}: {matcher.get_error()}", retryable=False
                        )
                    if matcher.is_stopped():
                        break
                if should_stop():
                    break
                out = model.language_model(
                    input_ids=torch.tensor([[token]], device=device),
                    past_key_values=out.past_key_values,
                    use_cache=True,
                )
                fed.append(token)
            self._prefix = (fed, audio if audio_embeds is not None else None, cache)
            return result

    def _reusable_prefix(self, ids: list[int], audio: Audio | None) -> tuple[Any, int]:
        """The previous call's cache cut to the prefix it shares with ``ids`` (and that
        prefix's length), or ``(None, 0)``. Audio positions count as shared only when they
        hold the same recording; at least one token is left to prefill for the next logits."""
        if self._prefix is None or self._processor is None:
            return None, 0
        old, old_audio, cache = self._prefix
        shared = 0
        for a, b in zip(old, ids, strict=False):
            if a != b:
                break
            shared += 1
        if old_audio is not audio:
            audio_id = self._processor.audio_id
            first_audio = next((i for i, t in enumerate(ids) if t == audio_id), len(ids))
            shared = min(shared, first_audio)
        shared = min(shared, len(ids) - 1)
        if shared <= 0:
            return None, 0
        surplus = int(cache.get_seq_length()) - shared
        if surplus > 0:
            cache.crop(-surplus)  # transformers 5: crop takes how many tokens to drop
        return cache, shared

    def _hear(self, audio: Audio) -> torch.Tensor:
        """The embeddings of ``audio`` for its ``<|AUDIO|>`` positions (cached for the turn)."""
        if self._heard is not None and self._heard[0] is audio:
            return self._heard[1]
        model, processor = self._model, self._processor
        assert model is not None
        assert processor is not None
        parameter = next(model.parameters())
        features, speech_ids = processor.audio_inputs(audio)
        embeds = model.audio_embeddings(
            torch.from_numpy(features).to(parameter.device, parameter.dtype),
            torch.from_numpy(speech_ids).to(parameter.device),
        )
        self._heard = (audio, embeds)
        return embeds

    # the ConversationalModel protocol

    async def perceive(self, request: UnderstandingRequest) -> Perception:
        """Transcript and emotion of the user's speech, in one constrained generation."""
        if request.audio is None:
            return Perception(transcript=request.text or "")
        if request.audio.duration < MIN_SECONDS:
            # As the cascade does when the recognizer hears nothing: an empty transcript, which
            # the agent answers with "did not catch that" instead of a reply to no speech.
            log.info("funaudiochat.audio_too_short", ms=round(request.audio.duration * 1000))
            return Perception(transcript="")
        start = time.perf_counter()
        result = await asyncio.to_thread(self._perceive, request.audio)
        transcript, emotion = result
        return Perception(
            transcript=transcript,
            emotion=emotion,
            timings_ms={"perceive": (time.perf_counter() - start) * 1000},
        )

    def _perceive(self, audio: Audio) -> tuple[str, EmotionEstimate | None]:
        import llguidance

        self.load()
        schema = {
            "type": "object",
            "properties": {
                "emotion": {"enum": list(EMOTIONS)},
                "transcript": {"type": "string", "maxLength": 600},
            },
            "required": ["emotion", "transcript"],
            "additionalProperties": False,
            "x-guidance": {"whitespace_flexible": False},  # compact JSON: no runaway spaces
        }
        grammar = llguidance.grammar_from("json_schema", json.dumps(schema))
        prompt = chatml(
            [("system", S2T_SYSTEM), ("user", f"{AUDIO_TEMPLATE}\n{PERCEIVE_INSTRUCTION}")]
        )
        generated = self._generate(prompt, audio, grammar, lambda _: None)
        return read_perception(generated.text, generated.steps)

    async def respond(self, request: UnderstandingRequest) -> AsyncGenerator[str, None]:
        """The reply token by token (words or ``<tool_call>`` blocks), hearing the user's
        audio itself when the request carries it."""
        prompt = self.prompt(request)

        def run(push: Callable[[str], None], stopped: Callable[[], bool]) -> None:
            self.load()
            grammar = (
                self._grammar(request.tools, request.tool_choice) if self.use_grammar else None
            )
            self._generate(prompt, request.audio, grammar, push, stopped)

        async for token in stream_from_thread(run):
            yield token

    async def complete(self, request: UnderstandingRequest) -> str:
        """The whole reply."""
        return "".join([piece async for piece in self.respond(request)])

    async def understand(self, request: UnderstandingRequest) -> Understanding:
        """Perceive (transcript, emotion), then reply to the audio itself."""
        timings: dict[str, float] = {}
        perception = await self.perceive(request)
        timings.update(perception.timings_ms)
        if request.audio is not None and not perception.transcript.strip():
            log.info("understanding.nothing_said", backend=self.name)  # as the cascade
            return Understanding(output="", transcript="", timings_ms=timings)
        start = time.perf_counter()
        output = await self.complete(request)
        timings["llm"] = (time.perf_counter() - start) * 1000
        return Understanding(
            output=output,
            transcript=perception.transcript if request.audio is not None else None,
            emotion=perception.emotion,
            timings_ms=timings,
        )


def _unpack(bitmask: torch.Tensor, vocab: int) -> torch.Tensor:
    """llguidance's packed int32 bitmask → a boolean mask over ``vocab`` tokens."""
    bits = torch.arange(32, dtype=torch.int32)
    unpacked = (bitmask.cpu()[:, None] >> bits[None, :]) & 1
    flat = unpacked.flatten().bool()
    if flat.shape[0] < vocab:
        flat = torch.cat([flat, torch.zeros(vocab - flat.shape[0], dtype=torch.bool)])
    return flat[:vocab]


def read_perception(
    text: str, steps: Sequence[tuple[int, float]]
) -> tuple[str, EmotionEstimate | None]:
    """The transcript and emotion from the perceive step's JSON; the emotion's confidence is
    the product of the probabilities the model gave the label's tokens (among those the
    grammar allowed). Output the grammar cut short (token budget) gives what could be read."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        import json_repair  # the token budget ran out inside the transcript: keep what came

        data = json_repair.loads(text)
        log.warning("funaudiochat.perception_cut_short", output=text[:200])
    if not isinstance(data, dict) or "emotion" not in text:
        return "", None
    transcript = str(data.get("transcript", "")).strip()
    label = data.get("emotion")
    if label not in EMOTIONS:
        return transcript, None
    colon = text.index(":", text.index('"emotion"'))
    begin = text.index('"', colon) + 1
    end = begin + len(label)
    confidence = 1.0
    ends = [offset for offset, _ in steps[1:]] + [len(text)]
    for (offset, probability), stop in zip(steps, ends, strict=True):
        if offset < end and stop > begin:  # this token wrote part of the label
            confidence *= probability
    return transcript, EmotionEstimate(
        label=label, confidence=round(confidence, 4), source="funaudiochat"
    )
