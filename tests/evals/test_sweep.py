"""`eval sweep`: a spoken suite at several SNRs and speeds beside the typed reference."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests._cli import checkout_cli
from tests._llama import free_port
from tests.evals.test_runner import gold_script
from voice_agent.errors import ConfigError
from voice_agent.evals import Augmentation
from voice_agent.evals._sweep import sweep_conditions, typed_suite


def test_conditions_vary_one_axis_at_a_time() -> None:
    assert sweep_conditions([20, 5], [0.8, 1.0, 1.25]) == [
        Augmentation(),
        Augmentation(snr_db=20),
        Augmentation(snr_db=5),
        Augmentation(speed=0.8),
        Augmentation(speed=1.25),
    ]
    assert typed_suite("speech-bfcl-parallel") == "bfcl"
    with pytest.raises(ConfigError, match="needs a spoken suite, not 'bfcl'"):
        typed_suite("bfcl")


def test_sweep_cli_on_a_tiny_run(bfcl_dir: Path, tmp_path: Path) -> None:
    script = gold_script(bfcl_dir, ("simple_python", "multiple"), 2, wrong_every=2)
    script_path = tmp_path / "script.jsonl"
    script_path.write_text(
        "".join(json.dumps({"id": k, "output": v}) + "\n" for k, v in script.items())
    )
    out = tmp_path / "sweep"
    args = [
        "eval", "sweep", "--model", f"scripted:{script_path}", "--suite", "speech-bfcl-single",
        "--limit", "2", "--data", str(bfcl_dir), "--out", str(out), "--voice", "espeak",
        "--snr", "20", "--snr", "5", "--speed", "1.25", "--no-progress",
    ]  # fmt: skip
    done = checkout_cli(*args, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    for label in ("typed", "clean", "snr20", "snr5", "speed1.25"):
        assert len((out / label / "results.jsonl").read_text().splitlines()) == 4, label
        assert f"{label} " in done.stdout
    assert (out / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "sweep.md").read_text()
    assert "| typed | 4 | 2 | 50.0% | – | – |" in report
    assert "| snr5 | 4 | 2 | 50.0% | +0.0 | – |" in report, "scripted: no transcript, no WER"
    again = checkout_cli(*args, cwd=tmp_path, timeout=300)  # resumes: nothing is run twice
    assert again.returncode == 0, again.stderr
    assert len((out / "snr5" / "results.jsonl").read_text().splitlines()) == 4


def test_a_sweep_whose_model_fails_exits_non_zero(bfcl_dir: Path, tmp_path: Path) -> None:
    dead = f"remote:http://127.0.0.1:{free_port()}/v1"  # nothing listens: every call fails
    out = tmp_path / "sweep"
    args = [
        "eval", "sweep", "--model", dead, "--limit", "1", "--data", str(bfcl_dir),
        "--out", str(out), "--voice", "espeak", "--snr", "20", "--no-progress",
    ]  # fmt: skip
    done = checkout_cli(*args, cwd=tmp_path, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    message = " ".join(done.stderr.split())
    assert f"condition typed: 2 of 2 samples failed in --model {dead} (BackendError:" in message
    assert "ConnectError" in message
    assert "the sweep stopped after typed: every model call failed there" in message
    assert "no sweep.md or sweep.png written" in message
    assert not (out / "sweep.png").exists() and not (out / "clean").exists()
