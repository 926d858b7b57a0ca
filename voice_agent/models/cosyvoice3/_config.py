"""Hyperparameters: ``cosyvoice3.yaml`` read as data (its ``!new``/``!ref`` tags resolved
without executing anything), and the constants of the official model."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from voice_agent.errors import ModelLoadError

__all__ = [
    "ADDED_TOKENS",
    "END_OF_PROMPT",
    "MAX_SILENT_RUN",
    "MAX_TOKEN_HOP",
    "SAMPLE_RATE",
    "SILENT_TOKENS",
    "TOKEN_HOP",
    "CosyVoice3Config",
    "read_hyperparameters",
]

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
