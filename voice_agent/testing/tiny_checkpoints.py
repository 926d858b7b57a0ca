"""Tiny random checkpoints in the official layouts, for running the GPU backends' real loading and
generation code on a CPU (tests, CI, trying the ``gpu`` profile without the weights).

The files are the ones a user downloads — ``config.json`` with the official keys, sharded
safetensors with the official tensor names (the speech head's included, which the loader must
skip), the tokenizers and the feature-extractor config — with every dimension made small and
every weight random. Nothing here comes from the real checkpoints.

    python -m voice_agent.testing.tiny_checkpoints funaudiochat OUTDIR
    python -m voice_agent.testing.tiny_checkpoints cosyvoice3 OUTDIR
    python -m voice_agent.testing.tiny_checkpoints sensevoice OUTDIR

The SenseVoice directory is ``FunAudioLLM/SenseVoiceSmall``'s: ``model.pt`` (a flat state dict by
the official names), ``config.yaml``, a Kaldi nnet ``am.mvn`` and a SentencePiece model holding
every ``<|…|>`` tag the official vocabulary has (built with the ``sentencepiece`` package).

The CosyVoice3 directory's two ONNX models (speaker embedding, speech tokenizer) are tiny graphs
with the official inputs and outputs, built with the ``onnx`` package (a dev dependency).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "TOKENIZER_FORMS",
    "TokenizerForm",
    "write_tiny_cosyvoice3",
    "write_tiny_funaudiochat",
    "write_tiny_sensevoice",
]

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


TokenizerForm = Literal["tokenizer.json", "vocab.json+merges.txt"]
"""The two forms a Hugging Face tokenizer is saved in (``voice_agent.models._tokenizer``)."""
TOKENIZER_FORMS: tuple[TokenizerForm, ...] = ("tokenizer.json", "vocab.json+merges.txt")


def _added_token(content: str, *, special: bool) -> dict[str, Any]:
    """One ``added_tokens_decoder`` entry of ``tokenizer_config.json``."""
    return {
        "content": content,
        "lstrip": False,
        "normalized": False,
        "rstrip": False,
        "single_word": False,
        "special": special,
    }


def _save_tokenizer(
    directory: Path,
    vocab: dict[str, int],
    merges: list[str],
    added: list[tuple[str, bool]],
    form: TokenizerForm,
) -> Any:
    """A Qwen2-style byte-level BPE (``vocab``, ``merges`` as "a b" lines) with ``added``
    tokens (content, special) numbered after the vocabulary, saved in ``form``; returns it as
    loaded."""
    from tokenizers import AddedToken
    from transformers import Qwen2Tokenizer

    directory.mkdir(parents=True, exist_ok=True)
    first, names = len(vocab), [t for t, _ in added]
    pad = names[0]  # transformers adds its special tokens first: they are the first added
    config: dict[str, Any] = {
        "tokenizer_class": "Qwen2Tokenizer",
        "eos_token": "<|im_end|>" if "<|im_end|>" in names else pad,
        "pad_token": pad,
        "unk_token": None,
        "added_tokens_decoder": {
            str(first + i): _added_token(t, special=special) for i, (t, special) in enumerate(added)
        },
    }
    if form == "tokenizer.json":
        pairs = [tuple(m.split(" ")) for m in merges]  # the BPE model takes pairs
        tokenizer = Qwen2Tokenizer(
            vocab=vocab,
            merges=pairs,  # type: ignore[arg-type]
            unk_token=pad,
            eos_token=pad,
            pad_token=pad,
        )
        for content, special in added:  # one at a time: each takes the next id
            tokenizer.add_tokens(
                [AddedToken(content, special=special, normalized=False)], special_tokens=special
            )
        backend = tokenizer.backend_tokenizer
        backend.save(str(directory / "tokenizer.json"))
    else:
        (directory / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
        (directory / "merges.txt").write_text("\n".join(["#version: 0.2", *merges]) + "\n")
    (directory / "tokenizer_config.json").write_text(json.dumps(config, indent=1))
    from voice_agent.models._tokenizer import load_tokenizer

    return load_tokenizer(directory)


def _text_tokenizer(directory: Path, form: TokenizerForm = "tokenizer.json") -> Any:
    """A byte-level BPE (any text encodes) with Qwen's pre-tokenizer, and its ChatML, audio
    and tool-call tokens added after the vocabulary, as in Qwen's release."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=700, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    bpe.train_from_iterator(_CORPUS * 20, trainer)
    model = json.loads(bpe.to_str())["model"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    # As in Qwen's tokenizer, <tool_call> and </tool_call> are single tokens but not "special"
    # (they are part of the text a decode keeps).
    added = [(t, True) for t in _SPECIAL] + [("<tool_call>", False), ("</tool_call>", False)]
    return _save_tokenizer(directory, model["vocab"], merges, added, form)


def _speech_tokenizer(directory: Path, codebook_size: int, form: TokenizerForm) -> int:
    """Speech-token vocabulary: ``<|s_i|>`` codes and ``<|audio_pad|>`` (its id is returned)."""
    vocab = {f"<|s_{i}|>": i for i in range(codebook_size - 1)}
    tokenizer = _save_tokenizer(directory, vocab, [], [("<|audio_pad|>", True)], form)
    pad: int = tokenizer.token_to_id("<|audio_pad|>")
    assert pad == codebook_size - 1
    return pad


def write_tiny_funaudiochat(
    directory: str | Path,
    *,
    seed: int = 0,
    tokenizer: TokenizerForm = "tokenizer.json",
    speech_tokenizer: TokenizerForm | None = "tokenizer.json",
) -> Path:
    """A random Fun-Audio-Chat checkpoint of the official layout in ``directory``.

    Args:
        directory: where to write (created if needed).
        seed: the weights' random seed.
        tokenizer: the text tokenizer's form (``tokenizer.json``, or ``vocab.json`` +
            ``merges.txt`` with the added tokens in ``tokenizer_config.json``).
        speech_tokenizer: the form of ``speech_tokenizer/``, or None to leave it out (the
            loader then takes ``<|audio_pad|>`` from ``audio_config.pad_token_id``).
    """
    import torch
    from safetensors.torch import save_file
    from transformers import WhisperFeatureExtractor

    from voice_agent.models.funaudiochat import FunAudioChatConfig, FunAudioChatModel

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    text_tokenizer = _text_tokenizer(out, tokenizer)
    codebook = 64
    pad = codebook - 1
    if speech_tokenizer is not None:
        pad = _speech_tokenizer(out / "speech_tokenizer", codebook, speech_tokenizer)
    extractor = WhisperFeatureExtractor(feature_size=128)  # type: ignore[no-untyped-call]
    extractor.save_pretrained(str(out))
    hidden = 64
    config: dict[str, Any] = {
        "architectures": ["FunAudioChatForConditionalGeneration"],
        "model_type": "funaudiochat",
        "audio_token_index": text_tokenizer.token_to_id("<|AUDIO|>"),
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
            "vocab_size": text_tokenizer.get_vocab_size() + 6,  # rows past it, as in Qwen
            "hidden_size": hidden,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": 16,
            "max_position_embeddings": 8192,
            "rope_theta": 1000000.0,
            "tie_word_embeddings": False,
            "eos_token_id": text_tokenizer.token_to_id("<|im_end|>"),
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


# The official cosyvoice3.yaml's structure (tags, keys, !ref arithmetic), every size made small.
_COSYVOICE3_YAML = """\
# Tiny random Fun-CosyVoice3 for tests; the layout of the official cosyvoice3.yaml.
sample_rate: 24000
llm_input_size: 64
llm_output_size: 64
spk_embed_dim: 192
qwen_pretrain_path: ''
token_frame_rate: 25
token_mel_ratio: 2
chunk_size: 25
num_decoding_left_chunks: -1

llm: !new:cosyvoice.llm.llm.CosyVoice3LM
    llm_input_size: !ref <llm_input_size>
    llm_output_size: !ref <llm_output_size>
    speech_token_size: 6561
    length_normalized_loss: True
    lsm_weight: 0
    mix_ratio: [5, 15]
    llm: !new:cosyvoice.llm.llm.Qwen2Encoder
        pretrain_path: !ref <qwen_pretrain_path>
    sampling: !name:cosyvoice.utils.common.ras_sampling
        top_p: 0.8
        top_k: 25
        win_size: 10
        tau_r: 0.1

flow: !new:cosyvoice.flow.flow.CausalMaskedDiffWithDiT
    input_size: 80
    output_size: 80
    spk_embed_dim: !ref <spk_embed_dim>
    output_type: 'mel'
    vocab_size: 6561
    input_frame_rate: !ref <token_frame_rate>
    only_mask_loss: True
    token_mel_ratio: !ref <token_mel_ratio>
    pre_lookahead_len: 3
    pre_lookahead_layer: !new:cosyvoice.transformer.upsample_encoder.PreLookaheadLayer
        in_channels: 80
        channels: 32
        pre_lookahead_len: 3
    decoder: !new:cosyvoice.flow.flow_matching.CausalConditionalCFM
        in_channels: 240
        n_spks: 1
        spk_emb_dim: 80
        cfm_params: !new:omegaconf.DictConfig
            content:
                sigma_min: 1e-06
                solver: 'euler'
                t_scheduler: 'cosine'
                training_cfg_rate: 0.2
                inference_cfg_rate: 0.7
                reg_loss_type: 'l1'
        estimator: !new:cosyvoice.flow.DiT.dit.DiT
            dim: 64
            depth: 2
            heads: 2
            dim_head: 32
            ff_mult: 2
            mel_dim: 80
            mu_dim: 80
            spk_dim: 80
            out_channels: 80
            static_chunk_size: !ref <chunk_size> * <token_mel_ratio>
            num_decoding_left_chunks: !ref <num_decoding_left_chunks>

hift: !new:cosyvoice.hifigan.generator.CausalHiFTGenerator
    in_channels: 80
    base_channels: 32
    nb_harmonics: 8
    sampling_rate: !ref <sample_rate>
    nsf_alpha: 0.1
    nsf_sigma: 0.003
    nsf_voiced_threshold: 10
    upsample_rates: [8, 5, 3]
    upsample_kernel_sizes: [16, 11, 7]
    istft_params:
        n_fft: 16
        hop_len: 4
    resblock_kernel_sizes: [3, 7, 11]
    resblock_dilation_sizes: [[1, 3, 5], [1, 3, 5], [1, 3, 5]]
    source_resblock_kernel_sizes: [7, 7, 11]
    source_resblock_dilation_sizes: [[1, 3, 5], [1, 3, 5], [1, 3, 5]]
    lrelu_slope: 0.1
    audio_limit: 0.99
    conv_pre_look_right: 4
    f0_predictor: !new:cosyvoice.hifigan.f0_predictor.CausalConvRNNF0Predictor
        num_class: 1
        in_channels: 80
        cond_channels: 16

feat_extractor: !name:matcha.utils.audio.mel_spectrogram
    n_fft: 1920
    num_mels: 80
    sampling_rate: !ref <sample_rate>
    hop_size: 480
    win_size: 1920
    fmin: 0
    fmax: null
    center: False
"""

# The convolutions the official vocoder wraps in weight_norm (saved as g and v).
_WEIGHT_NORMED = (
    "conv_pre.", "ups.", "resblocks.", "source_resblocks.", "conv_post.", "f0_predictor.condnet.",
)  # fmt: skip


def _weight_normed(state: dict[str, Any]) -> dict[str, Any]:
    """Our folded vocoder weights in the official weight-norm form (g = ‖v‖, v = weight)."""
    out: dict[str, Any] = {}
    for name, tensor in state.items():
        if name.endswith(".weight") and name.startswith(_WEIGHT_NORMED) and tensor.dim() == 3:
            base = name.removesuffix(".weight")
            norm = tensor.flatten(1).norm(dim=1).view(-1, 1, 1)
            out[base + ".parametrizations.weight.original0"] = norm.clone()
            out[base + ".parametrizations.weight.original1"] = tensor.clone()
        else:
            out[name] = tensor.clone()
    return out


def _onnx_models(directory: Path) -> None:
    """campplus.onnx (fbank (1, T, 80) → embedding (1, 192)) and speech_tokenizer_v3.onnx
    (log-mel (1, 128, T), length (1,) → 25 Hz token ids (1, T/4)): random, tiny, official I/O."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    campplus = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["input", "axes"], ["pooled"], keepdims=0),
            helper.make_node("MatMul", ["pooled", "w"], ["embedding"]),
        ],
        "campplus",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, None, 80])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [1, 192])],
        [
            numpy_helper.from_array(np.array([1], np.int64), "axes"),
            numpy_helper.from_array(rng.standard_normal((80, 192)).astype(np.float32), "w"),
        ],
    )
    tokenizer = helper.make_graph(
        [
            helper.make_node("Transpose", ["feats"], ["frames"], perm=[0, 2, 1]),
            helper.make_node("Slice", ["frames", "start", "end", "axis", "step"], ["every4"]),
            helper.make_node("MatMul", ["every4", "w"], ["projected"]),
            helper.make_node("Reshape", ["projected", "shape"], ["flat"]),
            helper.make_node("Mul", ["flat", "scale"], ["scaled"]),
            helper.make_node("Abs", ["scaled"], ["positive"]),
            helper.make_node("Cast", ["positive"], ["ints"], to=TensorProto.INT64),
            helper.make_node("Mod", ["ints", "codebook"], ["indices"]),
        ],
        "speech_tokenizer",
        [
            helper.make_tensor_value_info("feats", TensorProto.FLOAT, [1, 128, None]),
            helper.make_tensor_value_info("feats_length", TensorProto.INT32, [1]),
        ],
        [helper.make_tensor_value_info("indices", TensorProto.INT64, [1, None])],
        [
            numpy_helper.from_array(np.array([0], np.int64), "start"),
            numpy_helper.from_array(np.array([1 << 62], np.int64), "end"),
            numpy_helper.from_array(np.array([1], np.int64), "axis"),
            numpy_helper.from_array(np.array([4], np.int64), "step"),
            numpy_helper.from_array(rng.standard_normal((128, 1)).astype(np.float32), "w"),
            numpy_helper.from_array(np.array([1, -1], np.int64), "shape"),
            numpy_helper.from_array(np.array(1000.0, np.float32), "scale"),
            numpy_helper.from_array(np.array(6561, np.int64), "codebook"),
        ],
    )
    for graph, name in ((campplus, "campplus.onnx"), (tokenizer, "speech_tokenizer_v3.onnx")):
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
        model.ir_version = 9
        onnx.checker.check_model(model)
        onnx.save(model, str(directory / name))


def write_tiny_cosyvoice3(directory: str | Path, *, seed: int = 0) -> Path:
    """A random Fun-CosyVoice3 model directory of the official layout in ``directory``."""
    import torch
    from transformers import Qwen2Config

    from voice_agent.models.cosyvoice3 import (
        CausalFlow,
        CosyVoice3Config,
        HiFTVocoder,
        SpeechLM,
    )

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    (out / "cosyvoice3.yaml").write_text(_COSYVOICE3_YAML)
    blank = out / "CosyVoice-BlankEN"
    blank.mkdir(exist_ok=True)
    tokenizer = _text_tokenizer(blank)
    qwen = Qwen2Config(
        vocab_size=tokenizer.get_vocab_size() + 300,  # room for the tokens CosyVoice3 adds
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
    )
    qwen.save_pretrained(str(blank))
    config = CosyVoice3Config.from_yaml(out / "cosyvoice3.yaml")
    torch.manual_seed(seed)
    lm, flow, hift = SpeechLM(qwen, config), CausalFlow(config), HiFTVocoder(config)
    with torch.no_grad():  # audible, varied random weights: the vocoder's magnitudes stay small
        for name, p in hift.named_parameters():
            if name.startswith("conv_post"):
                p.mul_(0.1)
    torch.save({k: v.clone() for k, v in lm.state_dict().items()}, out / "llm.pt")
    torch.save({k: v.clone() for k, v in flow.state_dict().items()}, out / "flow.pt")
    # float32 throughout, as the released file (we keep the f0 predictor in float64 at run time)
    vocoder = {k: v.float() for k, v in hift.state_dict().items()}
    torch.save(_weight_normed(vocoder), out / "hift.pt")
    _onnx_models(out)
    return out


_SENSEVOICE_YAML = """\
encoder: SenseVoiceEncoderSmall
encoder_conf:
    output_size: 16
    attention_heads: 2
    linear_units: 32
    num_blocks: 2
    tp_blocks: 1
    dropout_rate: 0.1
    positional_dropout_rate: 0.1
    attention_dropout_rate: 0.1
    input_layer: pe
    pos_enc_class: SinusoidalPositionEncoder
    normalize_before: true
    kernel_size: 11
    sanm_shfit: 0
    selfattention_layer_type: sanm

model: SenseVoiceSmall
model_conf:
    length_normalized_loss: true
    sos: 1
    eos: 2
    ignore_id: -1

tokenizer: SentencepiecesTokenizer
tokenizer_conf:
  bpemodel: null
  unk_symbol: <unk>
  split_with_space: true

frontend: WavFrontend
frontend_conf:
    fs: 16000
    window: hamming
    n_mels: 80
    frame_length: 25
    frame_shift: 10
    lfr_m: 7
    lfr_n: 6
    cmvn_file: null
"""
"""The official ``config.yaml`` of SenseVoice-Small with the encoder made tiny."""
SENSEVOICE_TAGS = [
    "zh",
    "en",
    "yue",
    "ja",
    "ko",
    "nospeech",
    "HAPPY",
    "SAD",
    "ANGRY",
    "NEUTRAL",
    "FEARFUL",
    "DISGUSTED",
    "SURPRISED",
    "EMO_UNKNOWN",
    "Speech",
    "BGM",
    "Applause",
    "Laughter",
    "Cry",
    "Sneeze",
    "Breath",
    "Cough",
    "Sing",
    "Speech_Noise",
    "Event_UNK",
    "GBG",
    "withitn",
    "woitn",
]
"""The ``<|…|>`` tags of the official vocabulary."""


def _sentencepiece(path: Path) -> int:
    """A small BPE SentencePiece model with SenseVoice's tags; returns its size."""
    import io

    import sentencepiece

    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(_CORPUS * 4),
        model_writer=model,
        model_type="bpe",
        vocab_size=160,
        hard_vocab_limit=False,
        user_defined_symbols=[f"<|{t}|>" for t in SENSEVOICE_TAGS],
        normalization_rule_name="identity",
        minloglevel=2,
    )
    path.write_bytes(model.getvalue())
    processor = sentencepiece.SentencePieceProcessor(model_file=str(path))
    return int(processor.GetPieceSize())


def _am_mvn(dim: int, generator: Any) -> str:
    """A Kaldi nnet CMVN file (splice, shift, scale) with plausible log-mel statistics."""
    import torch

    shift = -(10 + 3 * torch.rand(dim, generator=generator))
    scale = 0.2 + 0.1 * torch.rand(dim, generator=generator)

    def block(values: Any) -> str:
        return " ".join(f"{v:.6f}" for v in values.tolist())

    return (
        f"<Nnet>\n<Splice> {dim} {dim}\n[ 0 ]\n<AddShift> {dim} {dim}\n"
        f"<LearnRateCoef> 0 [ {block(shift)} ]\n<Rescale> {dim} {dim}\n"
        f"<LearnRateCoef> 0 [ {block(scale)} ]\n</Nnet>\n"
    )


def write_tiny_sensevoice(
    directory: str | Path, *, seed: int = 0, event: str | None = None
) -> Path:
    """A random SenseVoice-Small directory of the official layout in ``directory``.

    Args:
        directory: where the files go.
        seed: the random weights' seed.
        event: an event tag (``Laughter``, ``Cry`` …) the checkpoint hears in any audio, for a
            test turn: the CTC bias of every other event tag is lowered, which changes no other
            tag's decision (each is read among its own kind) and leaves the text as it was
            except where another event tag had won a text position.
    """
    import sentencepiece
    import torch

    from voice_agent.models.sensevoice import EVENT_TAGS, SenseVoiceConfig, SenseVoiceModel

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(_SENSEVOICE_YAML)
    vocab = _sentencepiece(out / "chn_jpn_yue_eng_ko_spectok.bpe.model")
    config = SenseVoiceConfig.from_yaml(out / "config.yaml", vocab)
    generator = torch.Generator().manual_seed(seed)
    (out / "am.mvn").write_text(_am_mvn(config.frontend.input_size, generator))
    torch.manual_seed(seed)
    state = {k: v.clone() for k, v in SenseVoiceModel(config).state_dict().items()}
    if event is not None:
        tags = (*EVENT_TAGS, "Event_UNK")
        if event not in tags:
            raise ValueError(f"event {event!r}; choose from {', '.join(tags)}")
        pieces = sentencepiece.SentencePieceProcessor(
            model_file=str(out / "chn_jpn_yue_eng_ko_spectok.bpe.model")
        )
        for other in (t for t in tags if t != event):
            state["ctc.ctc_lo.bias"][pieces.PieceToId(f"<|{other}|>")] -= 8.0
    torch.save(state, out / "model.pt")
    return out


def main(argv: list[str]) -> int:
    writers = {
        "funaudiochat": write_tiny_funaudiochat,
        "cosyvoice3": write_tiny_cosyvoice3,
        "sensevoice": write_tiny_sensevoice,
    }
    if len(argv) != 2 or argv[0] not in writers:
        print("usage: python -m voice_agent.testing.tiny_checkpoints MODEL OUTDIR")
        print(f"MODEL: {' or '.join(writers)}")
        return 2
    print(writers[argv[0]](argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
