"""``--remote-timeout`` and ``--remote-model``: on every command that takes ``remote:URL``, sent
to a real HTTP server on 127.0.0.1 (``tests/_chat_server.py``), bad values refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests._chat_server import chat_server
from tests._cli import HOME_TOOLS, REPO, checkout_cli
from tests._llama import free_port
from voice_agent.errors import ConfigError
from voice_agent.models.remote import OpenAICompatibleLLM

KITCHEN = REPO / "examples" / "home" / "turn_on_kitchen_lights.wav"


def _eval_run(url: str, bfcl_dir: Path, out: Path, *options: str) -> list[str]:
    return [
        "eval", "run", "--suite", "bfcl", "--category", "simple_python", "--limit", "1",
        "--data", str(bfcl_dir), "--out", str(out), "--no-progress",
        "--model", f"remote:{url}", *options,
    ]  # fmt: skip


def test_eval_run_sends_the_model_name(bfcl_dir: Path, tmp_path: Path) -> None:
    with chat_server() as server:
        args = _eval_run(server.url, bfcl_dir, tmp_path / "run", "--remote-model", "qwen-7b")
        done = checkout_cli(*args, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert [b["model"] for b in server.bodies] == ["qwen-7b"]
    [record] = [json.loads(line) for line in (tmp_path / "run" / "results.jsonl").open()]
    assert record["model"] == f"whisper+remote:{server.url} (qwen-7b)"  # the report tells


def test_eval_run_waits_as_long_as_told(bfcl_dir: Path, tmp_path: Path) -> None:
    with chat_server(delay=1.5) as server:
        hasty = _eval_run(server.url, bfcl_dir, tmp_path / "run", "--remote-timeout", "0.2")
        done = checkout_cli(*hasty, cwd=tmp_path, timeout=300)
        assert done.returncode == 1, done.stderr
        assert "0 run now, 0 done before, 1 failed" in done.stdout
        assert len(server.bodies) == 3  # the first try and two retries, each timed out
        patient = _eval_run(server.url, bfcl_dir, tmp_path / "run", "--remote-timeout", "30")
        again = checkout_cli(*patient, cwd=tmp_path, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "1 run now, 0 done before, 0 failed" in again.stdout
    assert {b["model"] for b in server.bodies} == {"default"}


def test_run_and_chat_send_the_model_name(tmp_path: Path) -> None:
    with chat_server(reply="The kitchen light is on.") as server:
        remote = ["--profile", f"remote:{server.url}", "--remote-model", "m1"]
        ran = checkout_cli(
            "run", "--audio", str(KITCHEN), "--tools", str(HOME_TOOLS), *remote, "--json",
            "--remote-timeout", "30", cwd=tmp_path, timeout=300,
        )  # fmt: skip
        assert ran.returncode == 0, ran.stderr
        assert json.loads(ran.stdout)["reply_text"] == "The kitchen light is on."
        chatted = checkout_cli(
            "chat", "--text", "--tools", str(HOME_TOOLS), *remote[:2], "--remote-model", "m2",
            cwd=tmp_path, timeout=300, typed="Is the kitchen light on?\n\n",
        )  # fmt: skip
        assert chatted.returncode == 0, chatted.stderr
        assert "agent> The kitchen light is on." in chatted.stdout
    assert [b["model"] for b in server.bodies] == ["m1", "m2"]


def test_serve_sends_the_model_name(tmp_path: Path) -> None:
    port = free_port()
    with chat_server(reply="Done.") as server:
        args = [
            "serve", "--tools", str(HOME_TOOLS), "--port", str(port), "--db", str(tmp_path / "h"),
            "--profile", f"remote:{server.url}", "--remote-model", "served-7b",
        ]  # fmt: skip
        serving = subprocess.Popen(
            [sys.executable, "-m", "voice_agent.cli", *args],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_for(f"{base}/healthz", serving)
            answer = httpx.post(
                f"{base}/v1/turns?speak=false", content=KITCHEN.read_bytes(), timeout=120
            )
        finally:
            serving.terminate()
            serving.wait(30)
    assert answer.status_code == 200, answer.text
    assert [b["model"] for b in server.bodies] == ["served-7b"]


def _wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            if process.poll() is not None:
                pytest.fail(f"serve exited: {process.stderr.read() if process.stderr else ''}")
            time.sleep(0.3)
    pytest.fail("serve did not answer within 120 s")


TIMEOUT_0 = (["--remote-timeout", "0"], "the remote timeout must be seconds above 0, not 0")
TIMEOUT_NAN = (["--remote-timeout", "nan"], "the remote timeout must be seconds above 0, not nan")
NO_NAME = (["--remote-model", " "], "the remote model name is empty")
BAD = [
    *(("eval run", *bad) for bad in (TIMEOUT_0, TIMEOUT_NAN, NO_NAME)),
    ("run", *TIMEOUT_0),
    ("chat --text", *NO_NAME),
    ("serve", *TIMEOUT_NAN),
]


@pytest.mark.parametrize(("command", "options", "message"), BAD)
def test_bad_values_are_refused(
    command: str, options: list[str], message: str, tmp_path: Path
) -> None:
    url = f"remote:http://127.0.0.1:{free_port()}/v1"  # never reached: refused before
    tools = ["--tools", str(HOME_TOOLS)]
    args = {
        "eval run": ["eval", "run", "--suite", "bfcl", "--limit", "1", "--model", url],
        "run": ["run", "--audio", str(KITCHEN), *tools, "--profile", url],
        "chat --text": ["chat", "--text", *tools, "--profile", url],
        "serve": ["serve", *tools, "--port", str(free_port()), "--profile", url],
    }[command]
    done = checkout_cli(*args, *options, cwd=tmp_path, timeout=300, typed="")
    assert done.returncode == 2, done.stdout
    assert message in " ".join(done.stderr.split())


@pytest.mark.parametrize("command", ["eval run", "eval sweep", "run"])
def test_remote_options_go_with_a_server(command: str, tmp_path: Path) -> None:
    flag = ["--model", "cpu-default"] if command.startswith("eval") else ["--profile", "gpu"]
    args = {
        "eval run": ["eval", "run", "--suite", "bfcl", "--limit", "1"],
        "eval sweep": ["eval", "sweep", "--limit", "1"],
        "run": ["run", "--audio", str(KITCHEN), "--tools", str(HOME_TOOLS)],
    }[command]
    options = ["--remote-model", "x", "--remote-timeout", "5"]
    done = checkout_cli(*args, *flag, *options, cwd=tmp_path, timeout=300)
    assert done.returncode == 2, done.stdout
    assert f"--remote-timeout and --remote-model go with remote:URL, not {flag[1]}" in " ".join(
        done.stderr.split()
    )


async def test_the_client_refuses_bad_values_itself() -> None:
    for timeout in (0.0, -1.0, float("inf")):
        with pytest.raises(ConfigError, match="seconds above 0"):
            OpenAICompatibleLLM("http://127.0.0.1:9/v1", timeout=timeout)
    with pytest.raises(ConfigError, match="model name is empty"):
        OpenAICompatibleLLM("http://127.0.0.1:9/v1", model="")
    named = OpenAICompatibleLLM("http://127.0.0.1:9/v1/", model="qwen")
    assert named.name == "remote:http://127.0.0.1:9/v1 (qwen)"
    await named.aclose()
