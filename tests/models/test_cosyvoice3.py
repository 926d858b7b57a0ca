"""Fun-CosyVoice3: our implementation loads a tiny random model directory of the official layout
(yaml, llm.pt, flow.pt, hift.pt, BlankEN config and tokenizer, the two ONNX models) through the
real loader and runs the real LM → flow → vocoder path on the CPU. Only the weights are fake."""

from __future__ import annotations

import functools
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from voice_agent.errors import ModelLoadError
from voice_agent.models.cosyvoice import CosyVoiceTTS
from voice_agent.models.cosyvoice3 import (
    CosyVoice3,
    CosyVoice3Config,
    CosyVoice3TTS,
    fold_weight_norm,
    kaldi_fbank,
    prompt_mel,
    read_hyperparameters,
    whisper_log_mel,
)
from voice_agent.models.protocols import TextToSpeech, TTSInstruction
from voice_agent.testing.tiny_checkpoints import write_tiny_cosyvoice3, write_tiny_funaudiochat

REPO = Path(__file__).resolve().parents[2]
HOME = REPO / "examples" / "home"
PROMPT = HOME / "add_milk.wav"  # any recording serves as the voice to clone
INSTRUCT = "You are a helpful assistant. 请非常开心地说一句话。<|endofprompt|>"


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_cosyvoice3(tmp_path_factory.mktemp("cosyvoice3"))


@pytest.fixture(scope="module")
def model(directory: Path) -> CosyVoice3:
    return CosyVoice3(directory, device="cpu")


def official_names(c: CosyVoice3Config, qwen_layers: int) -> dict[str, set[str]]:
    """The state-dict names of the official CosyVoice3LM, CausalMaskedDiffWithDiT and
    CausalHiFTGenerator, spelled out from the official code (weight_norm'd convolutions as
    torch ≥ 2.1 saves them)."""
    llm = {"llm_decoder.weight", "speech_embedding.weight"}
    qwen = "llm.model.model"
    llm |= {f"{qwen}.embed_tokens.weight", f"{qwen}.norm.weight", "llm.model.lm_head.weight"}
    for i in range(qwen_layers):
        layer = f"{qwen}.layers.{i}"
        for part in ("q_proj", "k_proj", "v_proj"):
            llm |= {f"{layer}.self_attn.{part}.weight", f"{layer}.self_attn.{part}.bias"}
        llm.add(f"{layer}.self_attn.o_proj.weight")
        for part in ("gate_proj", "up_proj", "down_proj"):
            llm.add(f"{layer}.mlp.{part}.weight")
        llm |= {f"{layer}.input_layernorm.weight", f"{layer}.post_attention_layernorm.weight"}

    def wb(*prefixes: str) -> set[str]:
        return {f"{p}.{kind}" for p in prefixes for kind in ("weight", "bias")}

    dit = "decoder.estimator"
    flow = {"input_embedding.weight", f"{dit}.rotary_embed.inv_freq"}
    flow |= wb("spk_embed_affine_layer", "pre_lookahead_layer.conv1", "pre_lookahead_layer.conv2")
    flow |= wb(f"{dit}.time_embed.time_mlp.0", f"{dit}.time_embed.time_mlp.2")
    flow |= wb(f"{dit}.input_embed.proj", f"{dit}.input_embed.conv_pos_embed.conv1.0")
    flow |= wb(f"{dit}.input_embed.conv_pos_embed.conv2.0", f"{dit}.norm_out.linear")
    flow |= wb(f"{dit}.proj_out")
    for i in range(c.dit_depth):
        block = f"{dit}.transformer_blocks.{i}"
        flow |= wb(f"{block}.attn_norm.linear", f"{block}.attn.to_out.0")
        flow |= wb(f"{block}.attn.to_q", f"{block}.attn.to_k", f"{block}.attn.to_v")
        flow |= wb(f"{block}.ff.ff.0.0", f"{block}.ff.ff.2")

    def normed(*prefixes: str) -> set[str]:
        return {
            f"{p}.{kind}"
            for p in prefixes
            for kind in ("bias", "parametrizations.weight.original0", "parametrizations.weight.original1")
        }  # fmt: skip

    def resblock(prefix: str, dilations: int) -> set[str]:
        names = normed(*(f"{prefix}.convs{j}.{d}" for j in (1, 2) for d in range(dilations)))
        return names | {f"{prefix}.activations{j}.{d}.alpha" for j in (1, 2) for d in range(3)}

    hift = wb("m_source.l_linear", "f0_predictor.classifier")
    hift |= normed("conv_pre", "conv_post", *(f"f0_predictor.condnet.{i}" for i in range(0, 10, 2)))
    for i in range(len(c.upsample_rates)):
        hift |= normed(f"ups.{i}") | wb(f"source_downs.{i}") | resblock(f"source_resblocks.{i}", 3)
        for j in range(len(c.resblock_kernel_sizes)):
            hift |= resblock(f"resblocks.{i * len(c.resblock_kernel_sizes) + j}", 3)
    return {"llm.pt": llm, "flow.pt": flow, "hift.pt": hift}


@pytest.mark.slow
def test_every_official_parameter_name_maps_to_a_module(directory: Path, model: CosyVoice3) -> None:
    layers = json.loads((directory / "CosyVoice-BlankEN" / "config.json").read_text())
    expected = official_names(model.config, layers["num_hidden_layers"])
    for file, names in expected.items():
        saved = set(torch.load(directory / file, weights_only=True))
        assert saved == names, (file, sorted(saved ^ names)[:8])
    # and what was loaded is what the files hold (weight norm folded: g · v / ‖v‖)
    flow = torch.load(directory / "flow.pt", weights_only=True)
    key = "decoder.estimator.transformer_blocks.1.attn.to_v.weight"
    assert torch.equal(model.flow.state_dict()[key], flow[key])
    hift = torch.load(directory / "hift.pt", weights_only=True)
    g = hift["conv_pre.parametrizations.weight.original0"]
    v = hift["conv_pre.parametrizations.weight.original1"]
    folded = g * v / v.flatten(1).norm(dim=1).view(-1, 1, 1)
    assert torch.allclose(model.hift.conv_pre.weight, folded)


@pytest.mark.slow
def test_yaml_is_read_as_data_with_refs_resolved(tmp_path: Path, directory: Path) -> None:
    h = read_hyperparameters(directory / "cosyvoice3.yaml")
    assert h["flow"]["decoder"]["estimator"]["static_chunk_size"] == 50  # <chunk_size> * <ratio>
    assert h["flow"]["spk_embed_dim"] == 192 and h["llm"]["_target"].endswith("CosyVoice3LM")
    marker = tmp_path / "ran"
    evil = tmp_path / "evil.yaml"
    evil.write_text(f"x: !apply:os.system ['touch {marker}']\ny: !ref <x>\n")
    assert read_hyperparameters(evil)["y"]["_target"] == "os.system" and not marker.exists()


@pytest.mark.slow
def test_old_weight_norm_names_load_the_same(directory: Path, tmp_path: Path) -> None:
    state = torch.load(directory / "hift.pt", weights_only=True)
    renamed = {
        k.replace(".parametrizations.weight.original0", ".weight_g").replace(
            ".parametrizations.weight.original1", ".weight_v"
        ): v
        for k, v in state.items()
    }
    assert fold_weight_norm(renamed).keys() == fold_weight_norm(state).keys()
    for key, value in fold_weight_norm(renamed).items():
        assert torch.equal(value, fold_weight_norm(state)[key]), key
    with pytest.raises(ModelLoadError, match="only its g part"):
        fold_weight_norm({"conv_pre.weight_g": state["conv_pre.parametrizations.weight.original0"]})


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("extra", "unknown tensors"),
        ("missing", "missing"),
        ("shape", "shapes differ"),
        ("no-hift", "hift.pt is missing"),
        ("corrupt", "not a readable torch state dict"),
        ("v2", "CosyVoice3LM"),
    ],
)
@pytest.mark.slow
def test_a_directory_that_does_not_match_is_refused(
    directory: Path, tmp_path: Path, damage: str, message: str
) -> None:
    broken = tmp_path / "broken"
    subprocess.run(["cp", "-r", str(directory), str(broken)], check=True)
    flow = torch.load(broken / "flow.pt", weights_only=True)
    if damage == "extra":
        flow["decoder.estimator.long_skip_connection.weight"] = torch.zeros(64, 128)
    elif damage == "missing":
        del flow["decoder.estimator.proj_out.weight"]
    elif damage == "shape":
        flow["input_embedding.weight"] = torch.zeros(4096, 80)
    torch.save(flow, broken / "flow.pt")
    if damage == "no-hift":
        (broken / "hift.pt").unlink()
    if damage == "corrupt":
        (broken / "llm.pt").write_bytes(b"not a zip")
    if damage == "v2":
        yaml = broken / "cosyvoice3.yaml"
        yaml.write_text(yaml.read_text().replace("CosyVoice3LM", "Qwen2LM"))
    with pytest.raises(ModelLoadError, match=message):
        CosyVoice3(broken, device="cpu")


@pytest.mark.slow
def test_streaming_reuses_what_was_already_computed(model: CosyVoice3) -> None:
    """The causal design the streaming schedule relies on: the flow's frames for chunk-aligned
    tokens do not change when more tokens arrive, and the vocoder's samples for a mel prefix are
    those of the whole mel."""
    prompt = model.speaker_prompt(PROMPT)
    n_prompt = prompt.tokens.shape[1]
    generator = torch.Generator().manual_seed(3)
    first = 25 - n_prompt % 25 + 25  # prompt + first hop fill whole 25-token chunks
    tokens = torch.randint(0, 6561, (1, first + 28), generator=generator)
    whole = model.flow.mel(
        tokens, prompt.tokens, prompt.mel, prompt.embedding, streaming=True, finalize=True
    )
    part = model.flow.mel(
        tokens[:, : first + 3],
        prompt.tokens,
        prompt.mel,
        prompt.embedding,
        streaming=True,
        finalize=False,
    )
    assert part.shape[2] == 2 * first
    assert torch.allclose(part, whole[:, :, : 2 * first], atol=1e-4)

    mel = whole
    full = model.hift(mel, finalize=True)
    assert full.shape[1] == mel.shape[2] * 480
    prefix = model.hift(mel[:, :, :40], finalize=False)
    assert prefix.shape[1] == (40 - 8) * 480  # 3 + 4 frames of look-ahead, one of overlap
    assert torch.allclose(prefix, full[:, : prefix.shape[1]], atol=1e-4)


@pytest.mark.slow
def test_instruct2_speaks_whole_and_streamed(model: CosyVoice3) -> None:
    text = "Turn on the kitchen light, please. Then add milk to the shopping list, two of them."
    say = functools.partial(model.speech, text_frontend=False)
    whole = list(say(text, INSTRUCT, str(PROMPT), stream=False))
    streamed = list(say(text, INSTRUCT, str(PROMPT), stream=True))
    assert len(whole) == 1 and len(streamed) >= 2
    a = whole[0]
    b = torch.cat(streamed, dim=1)
    tokens = list(model.speech_tokens(text, INSTRUCT))
    assert a.shape == b.shape == (1, len(tokens) * 960)  # 40 ms of 24 kHz audio per token
    assert torch.isfinite(b).all() and float(b.abs().max()) <= 0.99
    assert float(b.pow(2).mean()) > 0
    slow = next(say(text, INSTRUCT, str(PROMPT), stream=False, speed=0.5))
    assert abs(slow.shape[1] - 2 * a.shape[1]) <= 960 * 2
    with pytest.raises(ValueError, match="whole replies"):
        next(model.speech(text, INSTRUCT, str(PROMPT), stream=True, speed=0.5))


@pytest.mark.slow
def test_the_text_frontend_speaks_sentence_by_sentence_with_numbers_in_words(
    model: CosyVoice3,
) -> None:
    text = "Set the heating to 21.5 degrees. Done!"
    chunks = list(model.speech(text, INSTRUCT, str(PROMPT), stream=False))
    said = ["Set the heating to twenty-one point five degrees.", "Done!"]
    assert [c.shape[1] for c in chunks] == [
        len(list(model.speech_tokens(sentence, INSTRUCT))) * 960 for sentence in said
    ]
    stop = False
    speech = model.speech(text, INSTRUCT, str(PROMPT), stopped=lambda: stop)
    first = next(speech)
    stop = True  # barge-in while the first sentence plays
    assert first.shape == chunks[0].shape
    assert list(speech) == [], "the second sentence is not started after a stop"


@pytest.mark.slow
def test_generation_stops_when_asked(model: CosyVoice3) -> None:
    calls = []

    def stopped() -> bool:
        calls.append(1)
        return len(calls) > 5

    tokens = list(model.speech_tokens("A long sentence to say slowly. " * 4, INSTRUCT, stopped))
    assert len(tokens) == 5


def test_features_follow_their_reference_definitions() -> None:
    from transformers import WhisperFeatureExtractor

    rate = 16000
    t = np.arange(rate) / rate
    tone = (0.3 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    ours = whisper_log_mel(tone)
    extractor = WhisperFeatureExtractor(feature_size=128)  # type: ignore[no-untyped-call]
    theirs = extractor(tone, sampling_rate=rate, padding="longest", return_tensors="np")
    reference = torch.from_numpy(theirs["input_features"])
    assert ours.shape == reference.shape == (1, 128, 100)
    assert torch.allclose(ours, reference, atol=1e-3)

    fbank = kaldi_fbank(tone)
    assert fbank.shape == (98, 80)  # 1 + (16000 - 400) // 160 frames
    mel_1k = 1127 * np.log(1 + 1000 / 700)
    edges = np.linspace(1127 * np.log(1 + 20 / 700), 1127 * np.log(1 + 8000 / 700), 82)
    assert int(fbank.mean(0).argmax()) == int(np.argmin(np.abs(edges[1:-1] - mel_1k)))

    c = CosyVoice3Config()
    tone24 = (0.3 * np.sin(2 * np.pi * 1000 * np.arange(24000) / 24000)).astype(np.float32)
    mel = prompt_mel(tone24, c)
    assert mel.shape == (1, 50, 80)  # 50 frames a second, 80 bins
    assert 10 < int(mel[0].mean(0).argmax()) < 30  # 1 kHz sits low on an 80-bin 0-12 kHz scale


@pytest.mark.slow
async def test_the_tts_backend_streams_ours_with_the_policy_instruction(directory: Path) -> None:
    tts = CosyVoiceTTS(directory, device="cpu", prompt_wav=PROMPT, stream=True)
    chunks = [
        c async for c in tts.synthesize("Done, I added milk.", TTSInstruction(emotion="happy"))
    ]
    assert tts.version == 3 and chunks[-1].final and not any(c.final for c in chunks[:-1])
    assert all(c.audio.sample_rate == 24000 for c in chunks)
    assert sum(len(c.audio.samples) for c in chunks) % 960 == 0


@pytest.mark.slow
async def test_our_voice_speaks_whole_replies_at_the_policys_speed(directory: Path) -> None:
    """CosyVoice3TTS is the TextToSpeech itself: a whole reply (no streaming) comes a sentence
    a chunk, the last one final, and a slower instruction stretches it by the model's own
    length control (the same speech tokens, so twice as long at half speed)."""
    tts = CosyVoice3TTS(directory, device="cpu", prompt_wav=PROMPT, stream=False)
    assert isinstance(tts, TextToSpeech)
    text = "Done. I added milk."

    async def said(speed: float) -> list[int]:
        chunks = [c async for c in tts.synthesize(text, TTSInstruction(speed=speed))]
        assert [c.final for c in chunks] == [False, True] and chunks[0].index == 0
        return [len(c.audio.samples) for c in chunks]

    normal, slow = await said(1.0), await said(0.5)
    assert all(abs(s - 2 * n) <= 960 * 2 for n, s in zip(normal, slow, strict=True))


@pytest.mark.slow
def test_cli_turn_on_the_gpu_profile_with_both_directories(directory: Path, tmp_path: Path) -> None:
    """``--profile gpu --funaudiochat DIR --cosyvoice DIR`` through the installed command: the
    reply is spoken by CosyVoice3 (24 kHz), not by the fallback voices (22.05 kHz)."""
    fac = write_tiny_funaudiochat(tmp_path / "fac")
    reply = tmp_path / "reply.wav"
    env = {**os.environ, "VOICE_AGENT_HOME_DB": str(tmp_path / "home.sqlite3")}
    env["VOICE_AGENT_DB"] = str(tmp_path / "history.sqlite3")
    args = ["run", "--audio", str(PROMPT), "--tools", str(HOME / "tools.py"), "--json"]
    args += ["--profile", "gpu", "--funaudiochat", str(fac), "--cosyvoice", str(directory)]
    args += ["--device", "cpu", "--out", str(reply)]
    done = subprocess.run(
        ["voice-agent", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    turn = json.loads(done.stdout)
    assert turn["reply_audio"] == str(reply)
    samples, rate = soundfile.read(reply)
    assert rate == 24000 and len(samples) > 0
    assert "tts.fallback" not in done.stderr


@pytest.mark.slow
def test_the_prompt_mel_keeps_what_is_above_8_khz(model: CosyVoice3, tmp_path: Path) -> None:
    """The flow's prompt mel is taken from the file at 24 kHz, as the official frontend does; a
    16 kHz copy (what the speech tokenizer and speaker embedding get) has nothing above 8 kHz."""
    rate = 24000
    t = np.arange(2 * rate) / rate
    samples = (0.3 * np.sin(2 * np.pi * 10_000 * t) + 0.05 * np.sin(2 * np.pi * 300 * t)).astype(
        np.float32
    )
    path = tmp_path / "bright.wav"
    soundfile.write(str(path), samples, rate)
    mel = model.speaker_prompt(path).mel[0]  # (frames, 80), log magnitude
    floor = float(np.log(1e-5))
    centres = np.linspace(0, 2595 * np.log10(1 + 12000 / 700), 82)[1:-1]
    above_8k = torch.from_numpy(700 * (10 ** (centres / 2595) - 1) > 8000)
    assert float(mel[:, above_8k].max()) > floor + 8, "energy above 8 kHz"


def test_the_text_front_end_keeps_markup_and_drops_punctuation_only_pieces() -> None:
    from voice_agent.models.cosyvoice3 import text_pieces

    assert text_pieces("It is 21.5 degrees. ... !") == ["It is twenty-one point five degrees."]
    marked = "Say <|s_12|> 21 times."
    assert text_pieces(marked) == [marked], "markup: left untouched, as the official front end"
    assert text_pieces("?!") == []
