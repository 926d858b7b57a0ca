"""What spoken samples were heard as: the word error rate, the speech-vs-text flip table, and
the recognizer biased with each entry's function docs."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import pytest

from voice_agent.evals import (
    SpeechCache,
    build_report,
    flips,
    load_suite,
    normalize_words,
    read_results,
    run_samples,
    spoken_number,
    word_errors,
)
from voice_agent.evals.bfcl import ground_truth_calls
from voice_agent.models import TextModelCapabilities, UnderstandingRequest
from voice_agent.models.tts import EspeakTTS
from voice_agent.testing import ScriptedUnderstanding
from voice_agent.tools import tool_vocabulary


def test_words_are_compared_normalised() -> None:
    assert normalize_words("Set it to Twenty-One degrees at 6p.m., for $1,000!") == [
        "set", "it", "to", "21", "degrees", "at", "6", "pm", "for", "1000",
    ]  # fmt: skip
    assert normalize_words("one hundred and five, two thousand") == ["105", "2000"]
    assert normalize_words("one two three") == ["1", "2", "3"]
    assert normalize_words("y=x^2, a 6cm side") == normalize_words(
        "y equals x squared, a 6 cm side"
    )  # the voices say x^2 as "x squared" (english_for_espeak)
    assert normalize_words("3x^2 + 2x - 1, -25, m-s, z^3, 2^10") == normalize_words(
        "3 x squared plus 2 x minus 1 minus 25 m s z cubed 2 to the power of 10"
    )


def test_word_errors_name_the_misheard_words() -> None:
    heard = word_errors(
        "Set the bedroom thermostat to 21 degrees", "At the bedroom, thermostat. 61 degrees"
    )
    assert (heard.errors, heard.words) == (3, 7)
    assert heard.misheard == ["set → at", "to 21 → 61"]
    assert heard.rate == pytest.approx(3 / 7)
    same = word_errors(
        "Find the area of a triangle with base 10.", "find the area of a triangle, base ten"
    )
    assert same.misheard == ["with → ∅"] and same.errors == 1
    assert word_errors("", "").rate == 0.0


def test_spoken_numbers() -> None:
    assert spoken_number("twenty one") == 21
    assert spoken_number("Two thousand and five") == 2005
    assert spoken_number("one two") is None
    assert spoken_number("21") is None
    assert spoken_number("five apples") is None


def record(entry_id: str, modality: str, valid: bool, **extra: Any) -> dict[str, Any]:
    return {
        "suite": "bfcl" if modality == "text" else "speech-bfcl-single",
        "benchmark": "bfcl",
        "category": entry_id.rsplit("_", 1)[0],
        "id": entry_id,
        "modality": modality,
        "augmentation": None if modality == "text" else "clean",
        "model": "m",
        "output": "",
        "calls": [],
        "valid": valid,
        "error_type": None if valid else "value_error:string",
        "latency_ms": {"model_ms": 100.0},
        **extra,
    }


def spoken(entry_id: str, valid: bool, said: str, heard: str) -> dict[str, Any]:
    errors = word_errors(said, heard)
    return record(
        entry_id,
        "speech",
        valid,
        transcript=heard,
        wer=errors.rate,
        word_errors=errors.errors,
        words=errors.words,
        misheard=errors.misheard,
    )


def test_report_tells_the_ear_from_the_brain(tmp_path: Path) -> None:
    said = "Calculate the area of a circle with a radius of 5 units."
    records = [
        record("simple_python_0", "text", True),
        spoken("simple_python_0", False, said, "Calculate the area of a circle with a radius of 9 units."),
        record("simple_python_1", "text", True),
        spoken("simple_python_1", False, said, said),
        record("simple_python_2", "text", False),
        spoken("simple_python_2", True, said, said.lower()),
        record("simple_python_3", "text", True),
        spoken("simple_python_3", True, said, "Calculate the area of the circle with a radius of 5 units"),
        spoken("simple_python_4", True, said, said),  # spoken only: not a pair
    ]  # fmt: skip
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    pairs, flipped = flips(read_results(tmp_path / "results.jsonl"))
    assert pairs == 4
    assert [(f.id, f.cause) for f in flipped] == [
        ("simple_python_0", "transcript wrong: 5 → 9"),
        ("simple_python_1", "model, on a right transcript"),
        ("simple_python_2", "only spoken right (heard exactly)"),
    ]
    report = build_report(tmp_path).read_text()
    assert "| simple_python | clean | 5 | 3.3% | 3 | 2/3 | 1/2 |" in report
    assert "| simple_python_3 | clean | 8% | ✓ | a → the |" in report
    assert "4 entries run both ways; 3 flipped: 2 right typed and wrong spoken (1 on a wrong " in (
        report
    )
    assert (
        "| simple_python_0 | clean | ✓ | value_error:string | transcript wrong: 5 → 9 | "
        "Calculate the area of a circle with a radius of 9 units. |"
    ) in report
    assert "| simple_python_2 | clean | value_error:string | ✓ | only spoken right" in report


async def test_speech_samples_bias_the_recognizer_with_their_function_docs(
    bfcl_dir: Path, tmp_path: Path
) -> None:
    samples = load_suite("speech-bfcl-single", data=bfcl_dir, categories=("multiple",), limit=2)
    cache = SpeechCache(EspeakTTS(), tmp_path / "cache")
    biased = ScriptedUnderstanding()
    await run_samples(samples, biased, tmp_path / "on", speech=cache, show_progress=False)
    plain = ScriptedUnderstanding()
    await run_samples(
        samples, plain, tmp_path / "off", speech=cache, asr_bias=False, show_progress=False
    )
    for request, sample in zip(biased.requests, samples, strict=True):
        assert list(request.asr_hints) == tool_vocabulary(request.tools)  # the agent's mechanism
        names = {
            str(f["name"]).replace("_", " ").replace(".", " ").lower() for f in sample.functions
        }  # tool_vocabulary keeps phrases of up to 4 words: longer names are not hints
        short = {n for n in names if len(n.split()) <= 4}
        assert short and short <= set(request.asr_hints)
    assert all(not r.asr_hints for r in plain.requests)
    on = read_results(tmp_path / "on" / "results.jsonl")
    assert all(r["asr_hints"] > 0 for r in on)
    assert all(r["asr_hints"] == 0 for r in read_results(tmp_path / "off" / "results.jsonl"))
    assert all(r["transcript"] is None and r["wer"] is None for r in on), "no transcript: no WER"


class GoldText:
    """A text model that answers each entry with its ground truth, so that what is measured
    is the recognizer alone."""

    name = "gold"
    capabilities = TextModelCapabilities(streaming=False)

    async def warm_up(self, tools: object = ()) -> None:
        """Nothing to load."""

    async def stream(self, request: UnderstandingRequest) -> AsyncGenerator[str, None]:
        yield await self.complete(request)

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers
        self.heard: list[str] = []

    async def complete(self, request: UnderstandingRequest) -> str:
        self.heard.append(request.text or "")
        return self.answers[str(request.metadata["sample_id"])]


@pytest.mark.slow
async def test_spoken_samples_record_what_whisper_heard(bfcl_dir: Path, tmp_path: Path) -> None:
    from voice_agent.models.asr import WhisperASR
    from voice_agent.models.cascade import CascadeUnderstanding
    from voice_agent.models.tts import PiperTTS

    samples = load_suite(
        "speech-bfcl-single", data=bfcl_dir, categories=("simple_python",), limit=3
    )
    answers = {}
    for s in samples:
        assert s.entry.answer is not None
        answers[s.id] = "".join(
            f'<tool_call>{{"name": {json.dumps(n)}, "arguments": {json.dumps(a)}}}</tool_call>'
            for call in ground_truth_calls(s.entry.answer)
            for n, a in call.items()
        )
    text = GoldText(answers)
    model = CascadeUnderstanding(WhisperASR(), text)
    cache = SpeechCache(PiperTTS(), tmp_path / "cache")  # the voice `eval run` speaks with
    await run_samples(samples, model, tmp_path, speech=cache, show_progress=False)
    records = read_results(tmp_path / "results.jsonl")
    assert [r["transcript"] for r in records] == text.heard
    for r, s in zip(records, samples, strict=True):
        assert r["words"] == len(normalize_words(s.query))
        assert r["wer"] < 0.5, (s.query, r["transcript"])
        assert r["wer"] == pytest.approx(word_errors(s.query, r["transcript"]).rate, abs=1e-4)
        assert len(r["misheard"]) <= r["word_errors"]
    assert "## What was heard (spoken samples)" in build_report(tmp_path).read_text()
