"""SenseVoice-Small on a tiny random checkpoint of the official layout: the real loader, front
end, encoder and decoder; names and shapes as the official code has them; bad files named."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import structlog
import torch

from tests._cli import HOME_TOOLS, REPO, checkout_cli
from voice_agent.audio import Audio, load_audio
from voice_agent.errors import BackendError, ConfigError, ModelLoadError
from voice_agent.models.events import SENSEVOICE_AUDIOSET, label_of
from voice_agent.models.protocols import (
    EMOTIONS,
    AudioEventDetector,
    EmotionEstimator,
    SpeechRecognizer,
)
from voice_agent.models.sensevoice import (
    EMOTION_TAGS,
    EVENT_TAGS,
    FrontendConfig,
    SenseVoice,
    SenseVoiceFrontend,
    load_cmvn,
)
from voice_agent.testing.tiny_checkpoints import write_tiny_sensevoice

HOME = REPO / "examples" / "home"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_sensevoice(tmp_path_factory.mktemp("sensevoice"))


@pytest.fixture(scope="module")
def model(checkpoint: Path) -> SenseVoice:
    return SenseVoice(checkpoint, device="cpu")


@pytest.fixture(scope="module")
def laughing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny checkpoint that hears laughter in any audio (its other event tags held down)."""
    return write_tiny_sensevoice(tmp_path_factory.mktemp("laughing"), event="Laughter")


def _copy(checkpoint: Path, tmp_path: Path) -> Path:
    out = tmp_path / "copy"
    shutil.copytree(checkpoint, out)
    return out


def _frontend(dim: int = 560) -> SenseVoiceFrontend:
    return SenseVoiceFrontend(FrontendConfig(), torch.zeros(dim), torch.ones(dim))


def test_the_front_end_frames_and_stacks_as_funasr() -> None:
    frontend = _frontend()
    second = Audio(samples=np.zeros(16_000, dtype=np.float32), sample_rate=16_000)
    fbank = frontend.fbank(torch.from_numpy(second.samples))
    assert fbank.shape == (98, 80)  # 1 + (16000 - 400) // 160 windows
    features = frontend(second)
    assert features.shape == (math.ceil(98 / 6), 560)
    stacked = frontend.lfr(torch.arange(10.0)[:, None])
    # three copies of frame 0 in front, seven frames every six, the last one repeated
    assert stacked[0].tolist() == [0, 0, 0, 0, 1, 2, 3]
    assert stacked[1].tolist() == [3, 4, 5, 6, 7, 8, 9]
    assert stacked.shape == (2, 7)


def test_the_fbank_is_kaldis() -> None:
    """Against kaldi-native-fbank with FunASR's settings (dither 0): the same frames."""
    import kaldi_native_fbank as knf

    audio = load_audio(HOME / "add_milk.wav").resampled(16_000)
    options = knf.FbankOptions()
    options.frame_opts.dither = 0
    options.frame_opts.window_type = "hamming"
    options.frame_opts.snip_edges = True
    options.mel_opts.num_bins = 80
    options.energy_floor = 0.0
    kaldi = knf.OnlineFbank(options)
    kaldi.accept_waveform(16_000, (audio.samples * 32768).tolist())
    kaldi.input_finished()
    reference = np.stack([kaldi.get_frame(i) for i in range(kaldi.num_frames_ready)])
    ours = _frontend().fbank(torch.from_numpy(audio.samples)).numpy()
    assert ours.shape == reference.shape
    assert np.abs(ours - reference).max() < 1e-3


def test_a_tone_lands_in_its_mel_band() -> None:
    t = np.arange(16_000) / 16_000
    tone = (0.3 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    fbank = _frontend().fbank(torch.from_numpy(tone))
    mel = 1127 * np.log1p(np.array([20.0, 1000.0, 8000.0]) / 700)
    expected = (mel[1] - mel[0]) / ((mel[2] - mel[0]) / 81) - 1  # the band centred on 1 kHz
    assert abs(int(fbank.mean(0).argmax()) - expected) <= 1


def test_am_mvn_is_read_and_checked(tmp_path: Path) -> None:
    good = tmp_path / "am.mvn"
    good.write_text(
        "<Nnet>\n<Splice> 2 2\n[ 0 ]\n<AddShift> 2 2\n<LearnRateCoef> 0 [ -1.5 2 ]\n"
        "<Rescale> 2 2\n<LearnRateCoef> 0 [ 0.5 0.25 ]\n</Nnet>\n"
    )
    shift, scale = load_cmvn(good, 2)
    assert shift.tolist() == [-1.5, 2.0] and scale.tolist() == [0.5, 0.25]
    with pytest.raises(ModelLoadError, match="<AddShift> has 2 values, the front end makes 560"):
        load_cmvn(good, 560)
    bad = tmp_path / "bad.mvn"
    bad.write_text("<Nnet>\n</Nnet>\n")
    with pytest.raises(ModelLoadError, match="no <AddShift> vector"):
        load_cmvn(bad, 2)


def test_devices_are_checked_not_guessed() -> None:
    with pytest.raises(ConfigError, match="unknown device"):
        SenseVoice("/nonexistent", device="tpu")


@pytest.mark.slow
def test_the_official_names_and_shapes(checkpoint: Path) -> None:
    state = torch.load(checkpoint / "model.pt", weights_only=True)
    expected = {
        "embed.weight": (16, 560),
        "encoder.encoders0.0.self_attn.linear_q_k_v.weight": (48, 560),
        "encoder.encoders0.0.self_attn.fsmn_block.weight": (16, 1, 11),
        "encoder.encoders0.0.self_attn.linear_out.weight": (16, 16),
        "encoder.encoders0.0.norm1.weight": (560,),
        "encoder.encoders0.0.norm2.weight": (16,),
        "encoder.encoders0.0.feed_forward.w_1.weight": (32, 16),
        "encoder.encoders.0.feed_forward.w_2.weight": (16, 32),
        "encoder.after_norm.weight": (16,),
        "encoder.tp_encoders.0.self_attn.linear_q_k_v.bias": (48,),
        "encoder.tp_norm.bias": (16,),
        "ctc.ctc_lo.bias": (len(state["ctc.ctc_lo.bias"]),),
    }
    for name, shape in expected.items():
        assert tuple(state[name].shape) == shape, name
    assert not any(name.startswith("encoder.encoders.1.") for name in state)  # num_blocks 2
    assert sorted(p.name for p in checkpoint.iterdir()) == [
        "am.mvn",
        "chn_jpn_yue_eng_ko_spectok.bpe.model",
        "config.yaml",
        "model.pt",
    ]


@pytest.mark.slow
def test_one_pass_gives_text_times_language_emotion_and_event(model: SenseVoice) -> None:
    assert isinstance(model, SpeechRecognizer) and isinstance(model, EmotionEstimator)
    audio = load_audio(HOME / "add_milk.wav")
    result = model.recognize(audio)
    assert result.transcript.language in (None, "zh", "en", "yue", "ja", "ko")
    assert result.emotion.label in EMOTIONS and result.emotion.source == "sensevoice"
    assert 0 <= result.emotion.confidence <= 1
    assert result.emotion_tag in EMOTION_TAGS
    assert math.isclose(sum(result.emotion_probabilities.values()), 1, abs_tol=1e-3)
    ours = EMOTION_TAGS[
        max(
            (t for t in EMOTION_TAGS if EMOTION_TAGS[t]),
            key=result.emotion_probabilities.__getitem__,
        )
    ]
    assert ours == result.emotion.label
    assert result.event.label in (*EVENT_TAGS, "Event_UNK") and 0 <= result.event.probability <= 1
    words = result.transcript.words
    assert " ".join(w.text for w in words) == result.transcript.text
    for before, after in itertools.pairwise(words):
        assert before.start <= before.end <= after.start + 1e-9
    if words:
        assert words[-1].end <= audio.duration + 0.06
    assert "<|" not in result.transcript.text  # tags are read, never shown as text
    assert model.recognize(audio) is result  # the emotion of the audio just heard is free


@pytest.mark.slow
async def test_the_async_roles_share_one_pass(model: SenseVoice) -> None:
    audio = load_audio(HOME / "unlock_front_door.wav")
    transcript = await model.transcribe(audio)
    emotion = await model.estimate(audio, transcript.text)
    assert emotion == model.recognize(audio).emotion
    assert (await model.estimate(None, "typed")).confidence == 0.0
    with pytest.raises(BackendError, match="too short for SenseVoice"):
        model.recognize(Audio(samples=np.zeros(100, dtype=np.float32), sample_rate=16_000))


def test_every_event_tag_has_the_label_yamnet_gives_its_sound() -> None:
    assert set(SENSEVOICE_AUDIOSET) == set(EVENT_TAGS)
    labels = {tag: label_of(name) for tag, name in SENSEVOICE_AUDIOSET.items()}
    assert labels == {
        "Speech": "speech",
        "BGM": "music",
        "Applause": "applause",
        "Laughter": "laughter",
        "Cry": "crying",
        "Sneeze": "sneeze",
        "Breath": "breathing",
        "Cough": "cough",
    }


@pytest.mark.slow
async def test_the_event_tag_is_an_audio_event_of_the_same_pass(laughing: Path) -> None:
    model = SenseVoice(laughing, device="cpu")
    assert isinstance(model, AudioEventDetector)
    audio = load_audio(HOME / "add_milk.wav")
    with structlog.testing.capture_logs() as logs:
        heard, events = await asyncio.gather(model.transcribe(audio), model.detect(audio))
    [event] = events
    tag = model.recognize(audio).event
    assert (event.label, event.audioset, event.score) == ("laughter", "Laughter", tag.probability)
    assert (event.start, event.end) == (0.0, round(audio.duration, 3))
    assert heard.text and [e["event"] for e in logs].count("sensevoice.recognized") == 1


@pytest.mark.slow
async def test_event_unk_is_no_event(tmp_path: Path) -> None:
    model = SenseVoice(write_tiny_sensevoice(tmp_path, event="Event_UNK"), device="cpu")
    assert await model.detect(load_audio(HOME / "add_milk.wav")) == ()
    with pytest.raises(ValueError, match="event 'Giggle'"):
        write_tiny_sensevoice(tmp_path / "b", event="Giggle")


@pytest.mark.slow
def test_cuda_is_the_same_code_path(checkpoint: Path) -> None:
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            SenseVoice(checkpoint, device="cuda")
        return
    on_gpu = SenseVoice(checkpoint, device="cuda")
    on_cpu = SenseVoice(checkpoint, device="cpu")
    audio = load_audio(HOME / "add_milk.wav")
    assert on_gpu.recognize(audio).transcript.text == on_cpu.recognize(audio).transcript.text


@pytest.mark.slow
@pytest.mark.parametrize(
    ("change", "named"),
    [
        ("drop", "missing ['encoder.tp_norm.weight']"),
        ("add", "unknown tensors ['encoder.extra.weight']"),
        ("shape", "encoder.after_norm.weight has shape (17,)"),
    ],
)
def test_a_wrong_tensor_is_named(checkpoint: Path, tmp_path: Path, change: str, named: str) -> None:
    out = _copy(checkpoint, tmp_path)
    state = torch.load(out / "model.pt", weights_only=True)
    if change == "drop":
        del state["encoder.tp_norm.weight"]
    elif change == "add":
        state["encoder.extra.weight"] = torch.zeros(1)
    else:
        state["encoder.after_norm.weight"] = torch.zeros(17)
    torch.save(state, out / "model.pt")
    with pytest.raises(ModelLoadError, match=re.escape(named)):
        SenseVoice(out, device="cpu")


@pytest.mark.slow
def test_wrong_files_are_named(checkpoint: Path, tmp_path: Path) -> None:
    out = _copy(checkpoint, tmp_path)
    (out / "am.mvn").unlink()
    with pytest.raises(ModelLoadError, match=r"am\.mvn is missing"):
        SenseVoice(out, device="cpu")
    out = _copy(checkpoint, tmp_path / "b")
    config = (out / "config.yaml").read_text()
    (out / "config.yaml").write_text(config.replace("model: SenseVoiceSmall", "model: Paraformer"))
    with pytest.raises(ModelLoadError, match="model 'Paraformer'"):
        SenseVoice(out, device="cpu")
    out = _copy(checkpoint, tmp_path / "c")
    (out / "chn_jpn_yue_eng_ko_spectok.bpe.model").write_bytes(b"not a model")
    with pytest.raises(ModelLoadError, match="not a SentencePiece model"):
        SenseVoice(out, device="cpu")
    with pytest.raises(ConfigError, match="language 'fr'"):
        SenseVoice(checkpoint, device="cpu", language="fr")


@pytest.mark.slow
def test_voice_agent_run_hears_with_sensevoice(checkpoint: Path, tmp_path: Path) -> None:
    done = checkout_cli(
        "run",
        "--sensevoice",
        str(checkpoint),
        "--audio",
        str(HOME / "add_milk.wav"),
        "--tools",
        str(HOME_TOOLS),
        "--db",
        str(tmp_path / "history.sqlite3"),
        "--json",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    turn = json.loads(done.stdout)
    assert turn["emotion"]["source"] == "sensevoice"  # not the prosody estimator
    assert "asr" in turn["timings_ms"] and turn["reply_text"]
    heard = SenseVoice(checkpoint, device="cpu").recognize(load_audio(HOME / "add_milk.wav"))
    assert turn["transcript"] == heard.transcript.text
    refused = checkout_cli(
        "run",
        "--profile",
        "cpu-multilingual",
        "--sensevoice",
        str(checkpoint),
        "--audio",
        str(HOME / "add_milk.wav"),
        "--tools",
        str(HOME_TOOLS),
        cwd=tmp_path,
    )
    assert refused.returncode == 2 and "--sensevoice goes with cpu-default, gpu" in refused.stderr


@pytest.mark.slow
def test_the_gpu_profile_is_sensevoice_then_funaudiochat_then_cosyvoice(
    laughing: Path, tmp_path: Path
) -> None:
    """``--profile gpu --sensevoice DIR --funaudiochat DIR --cosyvoice DIR`` through the
    command (tiny checkpoints, ``--device cpu``): SenseVoice hears the words, the emotion and
    the laughter, Fun-Audio-Chat answers the transcript, CosyVoice3 speaks (24 kHz)."""
    import soundfile

    from voice_agent.testing.tiny_checkpoints import (
        write_tiny_cosyvoice3,
        write_tiny_funaudiochat,
    )

    fac = write_tiny_funaudiochat(tmp_path / "fac")
    cosyvoice = write_tiny_cosyvoice3(tmp_path / "cosyvoice3")
    reply = tmp_path / "reply.wav"
    args = ["run", "--profile", "gpu", "--device", "cpu", "--sensevoice", str(laughing)]
    args += ["--funaudiochat", str(fac), "--cosyvoice", str(cosyvoice), "--out", str(reply)]
    args += ["--audio", str(HOME / "add_milk.wav"), "--tools", str(HOME_TOOLS), "--json"]
    args += ["--db", str(tmp_path / "history.sqlite3")]
    done = checkout_cli(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    turn = json.loads(done.stdout)
    heard = SenseVoice(laughing, device="cpu").recognize(load_audio(HOME / "add_milk.wav"))
    assert turn["transcript"] == heard.transcript.text  # SenseVoice's, not Fun-Audio-Chat's
    assert turn["emotion"]["source"] == "sensevoice"
    assert [e["label"] for e in turn["audio_events"]].count("laughter") == 1
    assert "perceive" not in turn["timings_ms"]  # Fun-Audio-Chat did not listen itself
    samples, rate = soundfile.read(reply)
    assert rate == 24000 and len(samples) > 0 and "tts.fallback" not in done.stderr


@pytest.mark.slow
def test_the_gpu_profile_builds_sensevoice_and_the_text_llm_on_its_device(
    laughing: Path, tmp_path: Path
) -> None:
    from voice_agent.models.cascade import CascadeUnderstanding, ReadsTranscripts
    from voice_agent.models.funaudiochat import FunAudioChat
    from voice_agent.models.llm import LlamaCppLLM
    from voice_agent.models.llm.llama import _gpu_layers
    from voice_agent.models.profiles import load_profile

    text_llm = load_profile("gpu", sensevoice=str(laughing), device="cpu").understanding
    assert isinstance(text_llm, CascadeUnderstanding) and isinstance(text_llm.asr, SenseVoice)
    assert isinstance(text_llm.llm, LlamaCppLLM) and text_llm.llm.device == "cpu"
    assert text_llm.asr.device == torch.device("cpu") and text_llm.emotion is text_llm.asr
    fac = load_profile(
        "gpu", sensevoice=str(laughing), funaudiochat=str(tmp_path / "fac"), device="cpu"
    ).understanding
    assert isinstance(fac, CascadeUnderstanding) and isinstance(fac.llm, ReadsTranscripts)
    assert isinstance(fac.llm.model, FunAudioChat) and fac.llm.model.device_name == "cpu"
    if not torch.cuda.is_available():  # the cuda paths refuse in words, naming the fix
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            load_profile("gpu", sensevoice=str(laughing))
        with pytest.raises(ConfigError, match="built for the CPU only"):
            _gpu_layers("cuda:0")
    assert _gpu_layers("cpu") == 0
    missing = _copy(laughing, tmp_path)
    (missing / "chn_jpn_yue_eng_ko_spectok.bpe.model").unlink()
    with pytest.raises(ModelLoadError, match=r"no SentencePiece model \(chn_jpn"):
        load_profile("gpu", sensevoice=str(missing), device="cpu")
    with pytest.raises(ModelLoadError, match="is not a directory"):
        load_profile("gpu", sensevoice=str(tmp_path / "nowhere"), device="cpu")
    with pytest.raises(ConfigError, match="needs the Fun-Audio-Chat checkpoint directory"):
        load_profile("gpu", device="cpu")
