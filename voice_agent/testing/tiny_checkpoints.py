"""Tiny random checkpoints in the official layouts, for running the GPU backends' real loading and
generation code on a CPU (tests, CI, trying the ``gpu`` profile without the weights).

The files are the ones a user downloads — ``config.json`` with the official keys, sharded
safetensors with the official tensor names (the speech head's included, which the loader must
skip), the tokenizers and the feature-extractor config — with every dimension made small and
every weight random. Nothing here comes from the real checkpoints.

    python -m voice_agent.testing.tiny_checkpoints funaudiochat OUTDIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["write_tiny_funaudiochat"]

_CORPUS = [
    "You are asked to generate text tokens. You are a voice assistant.",
    '{"name": "set_light", "arguments": {"room": "kitchen", "on": true, "brightness": 40}}',
    '{"type": "function", "function": {"name": "x", "description": "y", "parameters": {}}}',
    "Turn on the kitchen light, please. The living room is too warm; add milk to the list.",
    '{"emotion": "neutral", "transcript": "what time is it"} happy sad angry fearful surprised',
    "# Tools You may call one or more functions to assist with the user query.",
]
_SPECIAL = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|AUDIO|>",
    "<|audio_bos|>",
    "<|audio_eos|>",
]


def _text_tokenizer(path: Path) -> Any:
    """A byte-level BPE (any text encodes) with Qwen's ChatML, audio and tool-call tokens."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=700,
        special_tokens=_SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_CORPUS * 20, trainer)
    # As in Qwen's tokenizer: single tokens, but not "special" (they are part of the text).
    tokenizer.add_tokens(
        [AddedToken(t, special=False, normalized=False) for t in ("<tool_call>", "</tool_call>")]
    )
    tokenizer.save(str(path))
    (path.parent / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "Qwen2Tokenizer", "eos_token": "<|im_end|>"}, indent=1)
    )
    return tokenizer


def _speech_tokenizer(directory: Path, codebook_size: int) -> int:
    """Speech-token vocabulary: ``<|s_i|>`` codes and ``<|audio_pad|>`` (its id is returned)."""
    from tokenizers import Tokenizer, models

    vocab = {f"<|s_{i}|>": i for i in range(codebook_size - 1)}
    vocab["<|audio_pad|>"] = codebook_size - 1
    directory.mkdir(parents=True, exist_ok=True)
    pad = "<|audio_pad|>"
    Tokenizer(models.WordLevel(vocab, unk_token=pad)).save(str(directory / "tokenizer.json"))
    return codebook_size - 1


def write_tiny_funaudiochat(directory: str | Path, *, seed: int = 0) -> Path:
    """A random Fun-Audio-Chat checkpoint of the official layout in ``directory``."""
    import torch
    from safetensors.torch import save_file
    from transformers import WhisperFeatureExtractor

    from voice_agent.models.funaudiochat import FunAudioChatConfig, FunAudioChatModel

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = _text_tokenizer(out / "tokenizer.json")
    codebook = 64
    pad = _speech_tokenizer(out / "speech_tokenizer", codebook)
    extractor = WhisperFeatureExtractor(feature_size=128)  # type: ignore[no-untyped-call]
    extractor.save_pretrained(str(out))
    hidden = 64
    config: dict[str, Any] = {
        "architectures": ["FunAudioChatForConditionalGeneration"],
        "model_type": "funaudiochat",
        "audio_token_index": tokenizer.token_to_id("<|AUDIO|>"),
        "ignore_index": -100,
        "torch_dtype": "bfloat16",
        "audio_config": {
            "model_type": "funaudiochat_audio_encoder",
            "num_mel_bins": 128,
            "encoder_layers": 2,
            "encoder_attention_heads": 4,
            "encoder_ffn_dim": 64,
            "d_model": 32,
            "max_source_positions": 1500,
            "n_window": 50,
            "output_dim": hidden,
            "codebook_size": codebook,
            "pad_token_id": pad,
            "group_size": 5,
            "continuous_features_mode": "replace",
            "enable_audio_invert_tower": True,
            "crq_transformer_config": {"model_type": "qwen3", "hidden_size": 32},
        },
        "text_config": {
            "model_type": "qwen3",
            "vocab_size": tokenizer.get_vocab_size() + 6,  # rows past the tokenizer, as in Qwen
            "hidden_size": hidden,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": 16,
            "max_position_embeddings": 8192,
            "rope_theta": 1000000.0,
            "tie_word_embeddings": False,
            "eos_token_id": tokenizer.token_to_id("<|im_end|>"),
        },
    }
    (out / "config.json").write_text(json.dumps(config, indent=2))
    torch.manual_seed(seed)
    model = FunAudioChatModel(FunAudioChatConfig.from_dict(config))
    tensors = {k: v.detach().to(torch.bfloat16).contiguous() for k, v in model.state_dict().items()}
    speech_head = {  # the Speech Refined Head, which a text-only loader skips
        "audio_invert_tower.pre_matching.weight": torch.randn(hidden * 5, hidden),
        "audio_invert_tower.pre_matching.bias": torch.zeros(hidden * 5),
        "audio_invert_tower.input_matching.weight": torch.randn(32, hidden),
        "audio_invert_tower.output_matching.weight": torch.randn(hidden, 32),
        "audio_invert_tower.lm_head.weight": torch.randn(codebook, hidden),
        "audio_invert_tower.crq_transformer.layers.0.self_attn.q_proj.weight": torch.randn(32, 32),
        "audio_invert_tower.crq_transformer.norm.weight": torch.ones(32),
    }
    tensors.update({k: v.to(torch.bfloat16) for k, v in speech_head.items()})
    names = sorted(tensors)
    shards = {
        "model-00001-of-00002.safetensors": names[::2],
        "model-00002-of-00002.safetensors": names[1::2],
    }
    weight_map = {}
    for shard, keys in shards.items():
        save_file({k: tensors[k] for k in keys}, str(out / shard), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(keys, shard))
    (out / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": 0}, "weight_map": weight_map}, indent=1)
    )
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "funaudiochat":
        print("usage: python -m voice_agent.testing.tiny_checkpoints funaudiochat OUTDIR")
        return 2
    print(write_tiny_funaudiochat(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
