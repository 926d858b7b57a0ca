"""The installed ``voice-agent`` command, run as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HOME_TOOLS = REPO / "examples" / "home" / "tools.py"


def voice_agent(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["voice-agent", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
        check=False,
    )


def test_tools_list_json(tmp_path: Path) -> None:
    done = voice_agent("tools", "list", str(HOME_TOOLS), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    names = [t["function"]["name"] for t in json.loads(done.stdout)]
    assert names == ["set_light", "set_thermostat", "add_to_shopping_list", "unlock_front_door"]


def test_tools_call_runs_validated_calls_with_real_state(tmp_path: Path) -> None:
    db = tmp_path / "home.sqlite3"
    output = (
        'I will do that. <tool_call>{"name": "add_to_shopping_list", "arguments": '
        '{"item": "Milk", "quantity": 2}}</tool_call><tool_call>{"name": "set_thermostat",'
        ' "arguments": {"celsius": 99}}</tool_call><tool_call>{"name": "unlock_front_door",'
        ' "arguments": {}}</tool_call>'
    )
    done = voice_agent(
        "tools",
        "call",
        str(HOME_TOOLS),
        output,
        "--json",
        cwd=tmp_path,
        VOICE_AGENT_HOME_DB=str(db),
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["text"] == "I will do that."
    kinds = [r["kind"] for r in report["results"]]
    assert kinds == ["ok", "invalid_arguments", "needs_confirmation"]
    assert report["results"][0]["value"] == ["2 × milk"]
    again = voice_agent(
        "tools",
        "call",
        str(HOME_TOOLS),
        output,
        "--json",
        "--yes",
        cwd=tmp_path,
        VOICE_AGENT_HOME_DB=str(db),
    )
    results = json.loads(again.stdout)["results"]
    assert results[0]["value"] == ["4 × milk"], "state persisted in SQLite between runs"
    assert results[2]["value"] == "front door unlocked"


def test_tools_check_and_broken_file(tmp_path: Path) -> None:
    undocumented = tmp_path / "t.py"
    undocumented.write_text(
        "from voice_agent import tool\n@tool\ndef f(x: int) -> int:\n    return x\n"
    )
    done = voice_agent("tools", "check", str(undocumented), cwd=tmp_path)
    assert done.returncode == 1
    assert "no description" in done.stdout and "parameter 'x' has no description" in done.stdout
    broken = tmp_path / "b.py"
    broken.write_text("raise RuntimeError('boom')\n")
    done = voice_agent("tools", "list", str(broken), cwd=tmp_path)
    assert done.returncode == 2
    assert "failed to import: RuntimeError: boom" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_run_main_job_json_and_history(tmp_path: Path) -> None:
    env = {
        "VOICE_AGENT_HOME_DB": str(tmp_path / "home.sqlite3"),
        "VOICE_AGENT_DB": str(tmp_path / "history.sqlite3"),
    }
    reply = tmp_path / "reply.wav"
    done = voice_agent(
        "run",
        "--audio",
        str(REPO / "examples/home/add_milk.wav"),
        "--tools",
        str(HOME_TOOLS),
        "--out",
        str(reply),
        "--json",
        cwd=tmp_path,
        **env,
    )
    assert done.returncode == 0, done.stderr
    turn = json.loads(done.stdout)
    assert set(turn) >= {
        "transcript",
        "emotion",
        "tool_calls",
        "tool_results",
        "reply_text",
        "reply_audio",
        "timings_ms",
    }
    assert turn["tool_calls"][0]["name"] == "add_to_shopping_list"
    assert turn["tool_calls"][0]["arguments"] == {"item": "milk", "quantity": 2}
    assert turn["tool_results"][0]["status"] == "ran"
    assert turn["reply_audio"] == str(reply) and reply.stat().st_size > 10_000
    shown = voice_agent("history", "--json", cwd=tmp_path, **env)
    history = json.loads(shown.stdout)
    assert history["turns"][0]["tool_calls"][0]["name"] == "add_to_shopping_list"


def test_run_reports_bad_tools_and_bad_audio_clearly(tmp_path: Path) -> None:
    broken = tmp_path / "tools.py"
    broken.write_text("import no_such_module_here\n")
    done = voice_agent(
        "run",
        "--audio",
        str(REPO / "examples/home/add_milk.wav"),
        "--tools",
        str(broken),
        cwd=tmp_path,
        VOICE_AGENT_DB=str(tmp_path / "h.sqlite3"),
    )
    assert done.returncode == 2 and "failed to import: ModuleNotFoundError" in done.stderr
    not_audio = tmp_path / "note.wav"
    not_audio.write_text("hello")
    done = voice_agent(
        "run",
        "--audio",
        str(not_audio),
        "--tools",
        str(HOME_TOOLS),
        cwd=tmp_path,
        VOICE_AGENT_DB=str(tmp_path / "h.sqlite3"),
    )
    assert done.returncode == 2 and "as audio" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_chat_text_loop_with_confirmation(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "VOICE_AGENT_HOME_DB": str(tmp_path / "home.sqlite3"),
        "VOICE_AGENT_DB": str(tmp_path / "history.sqlite3"),
    }
    done = subprocess.run(
        ["voice-agent", "chat", "--text", "--tools", str(HOME_TOOLS)],
        input="Please unlock the front door.\nyes\n\n",
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Do you want me to unlock the front door?" in done.stdout
    assert "unlock_front_door({}) → ran" in done.stdout


def test_voice_chat_without_audio_devices_says_what_to_do(
    tmp_path: Path, no_sound_server: None
) -> None:
    done = voice_agent(
        "chat", "--tools", str(HOME_TOOLS), cwd=tmp_path, VOICE_AGENT_DB=str(tmp_path / "h.sqlite3")
    )
    assert done.returncode == 2
    assert "use --text" in done.stderr and "Traceback" not in done.stderr


def this_checkout(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m voice_agent`` from this checkout (the console script may be another one's)."""
    return subprocess.run(
        [sys.executable, "-m", "voice_agent", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )


def test_run_chooses_the_llm_and_the_asr_bias(tmp_path: Path) -> None:
    shown = this_checkout("run", "--help", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    for option in ("--llm", "--no-asr-bias"):
        assert option in shown.stdout
    audio = REPO / "examples" / "home" / "turn_on_kitchen_lights.wav"
    done = this_checkout(
        "run", "--audio", str(audio), "--tools", str(HOME_TOOLS), "--llm", "1.5b",
        "--profile", "remote:http://127.0.0.1:9/v1", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--llm 1.5b goes with the cpu-default profile" in done.stderr
