"""The speech cache's key: a new one whenever what renders the speech changes (the voice's
model or config, espeak-ng, our text-to-speakable code, how the voice is told to speak), the
same one (a hit) when nothing did."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from voice_agent.evals import Augmentation, SpeechCache
from voice_agent.models import TTSInstruction
from voice_agent.models._fingerprint import code_fingerprint
from voice_agent.models.tts import EspeakTTS, FallbackTTS, PiperTTS

QUERY = "Find the area of a triangle with a base of 10 units and a height of 5 units."


async def test_the_same_voice_and_text_hit_the_cache(tmp_path: Path) -> None:
    first = SpeechCache(EspeakTTS(), tmp_path)
    spoken = await first.speech(QUERY)
    again = SpeechCache(EspeakTTS(), tmp_path)  # a later run: a new voice object, same voice
    assert again.key(QUERY) == first.key(QUERY)
    heard = await again.speech(QUERY)
    assert (again.synthesized, again.reused) == (0, 1)
    assert heard.samples.shape == spoken.samples.shape


async def test_speaking_faster_is_rendered_anew(tmp_path: Path) -> None:
    normal = SpeechCache(EspeakTTS(), tmp_path)
    fast = SpeechCache(EspeakTTS(), tmp_path, TTSInstruction(speed=1.5))
    assert fast.key(QUERY) != normal.key(QUERY)
    slow_audio, fast_audio = await normal.speech(QUERY), await fast.speech(QUERY)
    assert fast.synthesized == 1 and fast.reused == 0
    assert fast_audio.duration < 0.8 * slow_audio.duration  # the instruction reached the voice


async def test_augmentation_reads_the_one_clean_file(tmp_path: Path) -> None:
    cache = SpeechCache(EspeakTTS(), tmp_path)
    clean = await cache.speech(QUERY, "simple_python_0")
    noisy = Augmentation(snr_db=10).apply(await cache.speech(QUERY), "simple_python_0")
    assert (cache.synthesized, cache.reused) == (1, 1)
    assert noisy.samples.shape == clean.samples.shape and (noisy.samples != clean.samples).any()


def test_another_voice_or_fallback_is_another_key(tmp_path: Path) -> None:
    us, gb = EspeakTTS("en-us"), EspeakTTS("en-gb")
    keys = {
        SpeechCache(tts, tmp_path).key(QUERY) for tts in (us, gb, FallbackTTS(us, gb))
    }  # the same name ("espeak-ng") for the first two: the fingerprint tells them apart
    assert len(keys) == 3


def test_a_changed_piper_config_is_another_key(tmp_path: Path) -> None:
    piper = PiperTTS()
    config = json.loads(piper.model_path.with_suffix(".onnx.json").read_text())
    config["inference"]["noise_scale"] = 0.5  # what a retuned voice's config says
    (tmp_path / "voice.onnx").symlink_to(piper.model_path)
    (tmp_path / "voice.onnx.json").write_text(json.dumps(config))
    retuned = PiperTTS(tmp_path / "voice.onnx")
    cache = tmp_path / "cache"
    assert SpeechCache(retuned, cache).key(QUERY) != SpeechCache(piper, cache).key(QUERY)
    assert SpeechCache(PiperTTS(), cache).key(QUERY) == SpeechCache(piper, cache).key(QUERY)


def _module(path: Path, source: str) -> ModuleType:
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def rules(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "speakable_rules.py"
    sys.modules.pop("speakable_rules", None)


def test_the_code_fingerprint_follows_what_the_code_does(rules: Path) -> None:
    minus = 'def say(text):\n    return text.replace("-", "minus ")\n'
    before = code_fingerprint(_module(rules, minus))
    reformatted = (
        "# a comment changes nothing\ndef say(text):\n    return text.replace('-', 'minus ')\n"
    )
    assert code_fingerprint(_module(rules, reformatted)) == before
    changed = 'def say(text):\n    return text.replace("-", " minus ")\n'
    assert code_fingerprint(_module(rules, changed)) != before
