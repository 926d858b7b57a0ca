"""`--concurrency N`: N samples in flight, one whole line per sample, still resumable."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._cli import checkout_cli
from tests._llama import llama_server
from tests.evals.test_runner import gold_script
from voice_agent.errors import ConfigError
from voice_agent.evals import SpeechCache, load_suite, read_results, run_samples
from voice_agent.models import Understanding, UnderstandingRequest
from voice_agent.models.tts import EspeakTTS
from voice_agent.testing import ScriptedUnderstanding


class Gate:
    """The scripted model behind a gate that opens only once ``width`` requests wait at it,
    so a run finishes only if it really keeps that many in flight; one sample id fails."""

    name = "gated"

    def __init__(self, model: ScriptedUnderstanding, width: int, failing: str) -> None:
        self.model, self.width, self.failing = model, width, failing
        self.waiting = 0
        self.most = 0
        self.opened = asyncio.Event()

    async def understand(self, request: UnderstandingRequest) -> Understanding:
        self.waiting += 1
        self.most = max(self.most, self.waiting)
        if self.waiting >= self.width:
            self.opened.set()
        await self.opened.wait()
        self.waiting -= 1
        if request.metadata["sample_id"] == self.failing:
            raise ConnectionError("the server went away")
        return await self.model.understand(request)


async def test_samples_in_flight_at_once_each_one_line(bfcl_dir: Path, tmp_path: Path) -> None:
    samples = load_suite("speech-bfcl-single", data=bfcl_dir, limit=3)
    script = gold_script(bfcl_dir, ("simple_python", "multiple"), 3, wrong_every=3)
    gate = Gate(ScriptedUnderstanding(script), width=4, failing=samples[1].id)
    cache = SpeechCache(EspeakTTS(), tmp_path / "cache")
    async with asyncio.timeout(120):  # a run that kept fewer in flight would wait forever
        summary = await run_samples(
            samples, gate, tmp_path / "run", speech=cache, concurrency=4, show_progress=False
        )
    assert gate.most == 4
    assert (summary.ran, summary.correct) == (5, 3)  # the third of each is scripted wrong
    assert summary.errors == {samples[1].key: "ConnectionError: the server went away"}
    lines = (tmp_path / "run" / "results.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line whole
    assert sorted(r["id"] for r in records) == sorted(s.id for s in samples if s != samples[1])

    retry = await run_samples(
        samples, ScriptedUnderstanding(script), tmp_path / "run", speech=cache, concurrency=3
    )
    assert (retry.done_before, retry.ran, retry.errors) == (5, 1, {})
    assert len(read_results(tmp_path / "run" / "results.jsonl")) == 6


async def test_concurrency_below_one_is_refused(bfcl_dir: Path, tmp_path: Path) -> None:
    samples = load_suite("bfcl", data=bfcl_dir, categories=("simple_python",), limit=1)
    with pytest.raises(ConfigError, match="concurrency must be at least 1, not 0"):
        await run_samples(samples, ScriptedUnderstanding(), tmp_path, concurrency=0)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with llama_server() as url:
        yield url


@pytest.mark.slow
def test_eval_run_against_llama_cpp_server(server: str, bfcl_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = [
        "eval", "run", "--suite", "bfcl", "--category", "simple_python", "--category",
        "multiple", "--limit", "2", "--model", f"remote:{server}", "--concurrency", "3",
        "--data", str(bfcl_dir), "--out", str(out), "--no-progress",
    ]  # fmt: skip
    done = checkout_cli(*args, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "4 run now, 0 done before, 0 failed" in done.stdout
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in records) == [
        "multiple_0", "multiple_1", "simple_python_0", "simple_python_1",
    ]  # fmt: skip
    assert {r["model"] for r in records} == {f"whisper+remote:{server}"}  # ASR + the server
    assert all(r["latency_ms"]["model_ms"] > 0 for r in records)
    assert sum(r["valid"] for r in records) >= 2, [r["output"] for r in records]
    again = checkout_cli(*args, cwd=tmp_path, timeout=600)
    assert "0 run now, 4 done before, 0 failed" in again.stdout
