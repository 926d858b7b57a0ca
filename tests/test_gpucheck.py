"""The one-command GPU check runs here on the tiny random checkpoints (``--device cpu``): the
same code a GPU runs with ``--device cuda``, only the weights and the device differ."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests._cli import checkout_cli
from voice_agent.testing.tiny_checkpoints import write_tiny_cosyvoice3, write_tiny_funaudiochat

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def directories(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("gpucheck")
    return write_tiny_funaudiochat(root / "fac"), write_tiny_cosyvoice3(root / "cv3")


@pytest.mark.slow
def test_the_check_runs_every_stage_on_tiny_checkpoints(
    directories: tuple[Path, Path],
    official_wheel: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # the table's names on one line each
    fac, cv3 = directories
    out = tmp_path / "out"
    done = checkout_cli(
        "gpu-check", "--funaudiochat", str(fac), "--cosyvoice", str(cv3), "--device", "cpu",
        "--out", str(out), "--samples", "4", "--data", str(official_wheel),
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "GPU check" in done.stdout and "every tensor fit" in done.stdout
    report = json.loads((out / "gpu-check.json").read_text())
    assert report["ok"] and report["environment"]["device"] == "cpu"
    stages = report["stages"]
    assert all(stage["ok"] for stage in stages.values()), stages
    for model in ("funaudiochat", "cosyvoice3"):
        for tensors in stages[model]["tensors"]:
            assert tensors["loaded"] > 0
            assert tensors["unknown"] == tensors["missing"] == tensors["mis_shaped"] == []
    assert [t["file"] for t in stages["cosyvoice3"]["tensors"]] == ["llm.pt", "flow.pt", "hift.pt"]
    assert stages["funaudiochat"]["tensors"][0]["skipped"] == 7  # the speech head, knowingly
    assert "no GPU memory" in report["gpu_memory"]["note"]  # on the CPU it says so
    turn = stages["turn"]
    assert turn["spoken_by"] == "cosyvoice3" and turn["reply_seconds"] > 0
    assert Path(turn["reply_audio"]).is_file()
    assert isinstance(turn["calls"], list) and isinstance(turn["reply"], str)
    assert turn["emotion"]["label"] and 0 < turn["emotion"]["confidence"] <= 1
    tts = stages["tts"]
    assert tts["first_chunk_ms"] > 0 and tts["real_time_factor"] > 0 and tts["chunks"] >= 1
    bfcl = stages["bfcl"]
    assert bfcl["samples"] == 4 and 0 <= bfcl["accuracy"] <= 1
    lines = (out / "bfcl" / "results.jsonl").read_text().splitlines()
    assert [json.loads(line)["category"] for line in lines] == ["simple_python"] * 2 + [
        "multiple"
    ] * 2


def rename_and_reshape_safetensors(directory: Path) -> tuple[str, str]:
    """Rename one tensor and give another a wrong shape, in whichever shard holds each; return
    both names."""
    from safetensors.torch import load_file, save_file

    renamed, reshaped = "language_model.model.norm.weight", "audio_tower.output_matching.weight"
    index = directory / "model.safetensors.index.json"
    data = json.loads(index.read_text())
    weight_map = data["weight_map"]
    for name, change in ((renamed, "rename"), (reshaped, "reshape")):
        shard = directory / weight_map[name]
        tensors = load_file(str(shard))
        if change == "rename":
            tensors[name + "s"] = tensors.pop(name)
            weight_map[name + "s"] = weight_map.pop(name)
        else:
            tensors[name] = torch.zeros(3, 5, dtype=tensors[name].dtype)
        save_file(tensors, str(shard), metadata={"format": "pt"})
    index.write_text(json.dumps(data))
    return renamed, reshaped


@pytest.mark.slow
def test_a_renamed_and_a_mis_shaped_tensor_are_named_and_fail_the_check(
    directories: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    fac, cv3 = (tmp_path / "fac", tmp_path / "cv3")
    for source, target in zip(directories, (fac, cv3), strict=True):
        subprocess.run(["cp", "-r", str(source), str(target)], check=True)
    renamed, reshaped = rename_and_reshape_safetensors(fac)
    flow = torch.load(cv3 / "flow.pt", weights_only=True)
    flow["decoder.estimator.proj_out.weights"] = flow.pop("decoder.estimator.proj_out.weight")
    flow["input_embedding.weight"] = torch.zeros(4096, 80)
    torch.save(flow, cv3 / "flow.pt")
    out = tmp_path / "out"
    done = checkout_cli(
        "gpu-check", "--funaudiochat", str(fac), "--cosyvoice", str(cv3), "--device", "cpu", "--out", str(out),
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr[-3000:]
    report = json.loads((out / "gpu-check.json").read_text())
    assert not report["ok"]
    stages = report["stages"]
    [fac_tensors] = stages["funaudiochat"]["tensors"]
    assert fac_tensors["unknown"] == ["language_model.model.norm.weights"]
    assert fac_tensors["missing"] == [renamed]
    assert [m["name"] for m in fac_tensors["mis_shaped"]] == [reshaped]
    assert fac_tensors["mis_shaped"][0]["checkpoint"] == [3, 5]
    flow_tensors = next(t for t in stages["cosyvoice3"]["tensors"] if t["file"] == "flow.pt")
    assert flow_tensors["unknown"] == ["decoder.estimator.proj_out.weights"]
    assert flow_tensors["missing"] == ["decoder.estimator.proj_out.weight"]
    assert [m["name"] for m in flow_tensors["mis_shaped"]] == ["input_embedding.weight"]
    for name in (renamed, reshaped, "decoder.estimator.proj_out.weight", "input_embedding.weight"):
        assert name in done.stdout, name  # the table names them too
    assert stages["turn"]["error"].startswith("skipped") and not stages["bfcl"]["ok"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message of a GPU-less machine")
def test_cuda_without_a_gpu_is_reported_by_the_same_path(tmp_path: Path) -> None:
    from voice_agent.gpucheck import run_check

    fac, cv3 = tmp_path / "fac", tmp_path / "cv3"
    fac.mkdir()
    cv3.mkdir()
    (fac / "config.json").write_text("{}")
    (cv3 / "cosyvoice3.yaml").write_text("sample_rate: 24000\n")
    report = run_check(fac, cv3, tmp_path / "out", device="cuda")
    for model in ("funaudiochat", "cosyvoice3"):
        assert "no CUDA GPU" in report["stages"][model]["error"]
    assert not report["ok"] and (tmp_path / "out" / "gpu-check.json").is_file()


def test_python_m_voice_agent_gpucheck_is_the_same_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "voice_agent.gpucheck", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for option in ("--funaudiochat", "--cosyvoice", "--device", "--samples", "--out"):
        assert option in done.stdout
