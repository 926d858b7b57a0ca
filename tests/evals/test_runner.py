"""Eval runs end to end: real synthesized speech, scripted model, resume after a kill, report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from tests._cli import checkout_cli
from voice_agent.evals import (
    Augmentation,
    SpeechCache,
    build_report,
    load_suite,
    read_results,
    run_samples,
)
from voice_agent.evals.bfcl import ground_truth_calls, load_category
from voice_agent.models.tts import EspeakTTS
from voice_agent.testing import ScriptedUnderstanding


def tool_call_text(calls: list[dict[str, dict[str, object]]]) -> str:
    return "".join(
        f'<tool_call>{{"name": {json.dumps(n)}, "arguments": {json.dumps(a)}}}</tool_call>'
        for call in calls
        for n, a in call.items()
    )


def gold_script(
    bfcl_dir: Path, categories: tuple[str, ...], limit: int, wrong_every: int = 4
) -> dict[str, str]:
    script = {}
    for category in categories:
        for i, entry in enumerate(load_category(category, bfcl_dir)[:limit]):
            assert entry.answer is not None
            right = i % wrong_every != wrong_every - 1
            script[entry.id] = (
                tool_call_text(ground_truth_calls(entry.answer))
                if right
                else "Sorry, I did not catch that."
            )
    return script


async def test_speech_suite_runs_on_real_synthesized_audio(bfcl_dir: Path, tmp_path: Path) -> None:
    samples = load_suite("speech-bfcl-parallel", data=bfcl_dir, limit=4)
    model = ScriptedUnderstanding(gold_script(bfcl_dir, ("parallel", "parallel_multiple"), 4))
    cache = SpeechCache(EspeakTTS(), tmp_path / "cache")
    summary = await run_samples(
        samples,
        model,
        tmp_path / "run",
        speech=cache,
        augmentation=Augmentation(snr_db=15),
        show_progress=False,
    )
    assert (summary.ran, summary.correct, summary.errors) == (8, 6, {})
    for request in model.requests:
        assert request.text is None and request.audio is not None
        assert request.audio.sample_rate == 16_000 and request.audio.duration > 1.0
        assert request.audio.rms > 0.01
        assert {t["name"] for t in request.tools}
    first = model.requests[0]
    clean = cache.speech  # the cached clean audio differs from what the model heard (noise)
    heard = first.audio
    assert heard is not None
    clean_audio = await clean(samples[0].query)
    assert not np.allclose(clean_audio.samples, heard.samples)
    records = read_results(tmp_path / "run" / "results.jsonl")
    assert [r["valid"] for r in records] == [True, True, True, False] * 2
    assert records[3]["error_type"] == "ast_decoder:decoder_failed"
    assert all(r["augmentation"] == "snr15" for r in records)

    again = await run_samples(samples, model, tmp_path / "run", speech=cache, show_progress=False)
    assert (again.ran, again.done_before) == (0, 8)
    assert cache.synthesized == 8


async def test_text_suites_and_report(bfcl_dir: Path, acebench_dir: Path, tmp_path: Path) -> None:
    script = gold_script(bfcl_dir, ("simple_python", "multiple"), 5)
    model = ScriptedUnderstanding(script)
    text = load_suite("bfcl", data=bfcl_dir, categories=("simple_python", "multiple"), limit=5)
    await run_samples(text, model, tmp_path, show_progress=False)
    speech = load_suite("speech-bfcl-single", data=bfcl_dir, limit=5)
    await run_samples(
        speech,
        model,
        tmp_path,
        speech=SpeechCache(EspeakTTS(), tmp_path / "c"),
        show_progress=False,
    )
    ace = load_suite("acebench", data=acebench_dir, categories=("special_irrelevant",), limit=3)
    await run_samples(
        ace,
        ScriptedUnderstanding(
            {}, default="Due to the limitations of the function, I cannot solve this problem."
        ),
        tmp_path,
        show_progress=False,
    )
    report = build_report(tmp_path).read_text()
    assert "| text | bfcl | simple_python | 5 | 4 | 80.00% |" in report
    assert "| speech | bfcl | multiple | 5 | 4 | 80.00% |" in report
    assert "| text | acebench | special_irrelevant | 3 | 3 | 100.00% |" in report
    assert "| BFCL-Single | 80.00 | 80.00 | 88.58 |" in report
    assert "BFCL Non-Live AST" not in report, "needs all four non-live categories"
    for image in ("accuracy_by_category.png", "summary_vs_reference.png", "latency.png"):
        assert (tmp_path / image).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({image})" in report


def test_torn_last_line_is_dropped_and_cut(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text('{"suite": "s", "id": "a", "valid": true}\n{"suite": "s", "id": "b", "va')
    assert [r["id"] for r in read_results(path)] == ["a"]
    assert path.read_text().endswith("}\n")


@pytest.mark.slow
def test_a_killed_run_resumes_and_loses_nothing(bfcl_dir: Path, tmp_path: Path) -> None:
    script = gold_script(bfcl_dir, ("simple_python", "multiple"), 25)
    script_path = tmp_path / "script.jsonl"
    script_path.write_text(
        "".join(json.dumps({"id": k, "output": v}) + "\n" for k, v in script.items())
    )
    out = tmp_path / "run"
    command = [
        "voice-agent",
        "eval",
        "run",
        "--suite",
        "speech-bfcl-single",
        "--model",
        f"scripted:{script_path}",
        "--limit",
        "25",
        "--data",
        str(bfcl_dir),
        "--out",
        str(out),
        "--no-progress",
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    results = out / "results.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if results.exists() and results.read_text().count("\n") >= 5:
            break
        if process.poll() is not None:
            pytest.fail(f"the run ended before it could be killed: {process.stderr.read()!r}")
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)
    done_at_kill = len(read_results(results))
    assert 5 <= done_at_kill < 50, "killed mid-run"
    finished = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert finished.returncode == 0, finished.stderr
    assert f"{done_at_kill} done before" in finished.stdout
    ids = [r["id"] for r in read_results(results)]
    assert len(ids) == 50 and len(set(ids)) == 50
    assert sum(r["valid"] for r in read_results(results)) == sum(
        1 for i in range(50) if i % 25 % 4 != 3
    )
    assert (out / "report.md").exists()


async def test_samples_run_through_the_agent_score_as_asked_directly(
    bfcl_dir: Path, tmp_path: Path
) -> None:
    """An eval sample as an agent turn in scoring mode (the agent's prompt and history, no
    reply style, nothing run) gets the verdict the model's direct answer gets."""
    samples = load_suite("bfcl", data=bfcl_dir, categories=("simple_python",), limit=8)
    script = gold_script(bfcl_dir, ("simple_python",), 8)
    direct = ScriptedUnderstanding(script)
    await run_samples(samples, direct, tmp_path / "direct", show_progress=False)
    agent = ScriptedUnderstanding(replies=[script[s.id] for s in samples])
    summary = await run_samples(
        samples, agent, tmp_path / "agent", show_progress=False, through_agent=True
    )
    assert summary.ran == 8 and not summary.errors
    asked = read_results(tmp_path / "direct" / "results.jsonl")
    turned = read_results(tmp_path / "agent" / "results.jsonl")
    assert [r["valid"] for r in turned] == [r["valid"] for r in asked]
    assert [r["valid"] for r in asked].count(False) == 2, "the script's wrong answers"
    assert {r["path"] for r in turned} == {"agent"} and {r["path"] for r in asked} == {"understand"}
    assert all(r.system is None for r in agent.requests), "no reply style when scoring"
    assert [r["output"] for r in turned] == [script[s.id] for s in samples]


def test_eval_run_on_chosen_entries(bfcl_dir: Path, tmp_path: Path) -> None:
    script = tmp_path / "script.jsonl"
    script.write_text("")
    args = [
        "eval", "run", "--suite", "bfcl", "--category", "simple_python", "--limit", "5",
        "--model", f"scripted:{script}", "--data", str(bfcl_dir), "--out", str(tmp_path / "run"),
        "--no-progress", "--entry", "simple_python_3", "--entry", "simple_python_1",
    ]  # fmt: skip
    done = checkout_cli(*args, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    ids = [r["id"] for r in read_results(tmp_path / "run" / "results.jsonl")]
    assert ids == ["simple_python_1", "simple_python_3"]
    beyond = checkout_cli(*args[:-1], "simple_python_7", cwd=tmp_path, timeout=300)
    assert beyond.returncode == 2
    assert "no entry 'simple_python_7' in the chosen categories" in beyond.stderr


def test_eval_run_takes_the_continuation_threshold_for_the_cpu_profiles_only(
    bfcl_dir: Path, tmp_path: Path
) -> None:
    script = tmp_path / "script.jsonl"
    script.write_text("")
    args = [
        "eval", "run", "--suite", "bfcl", "--category", "simple_python", "--limit", "1",
        "--model", f"scripted:{script}", "--data", str(bfcl_dir), "--out", str(tmp_path / "run"),
        "--no-progress", "--another-call-below",
    ]  # fmt: skip
    refused = checkout_cli(*args, "0.5", cwd=tmp_path, timeout=300)
    assert refused.returncode == 2
    assert "--another-call-below goes with the cpu profiles, not scripted:" in refused.stderr
    assert checkout_cli(*args, "1.5", cwd=tmp_path, timeout=300).returncode == 2  # a probability
