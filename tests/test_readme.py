"""Every example in the README runs as written, from the repository root."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", README, re.DOTALL)
PYTHON = [code for lang, code in BLOCKS if lang == "python"]
# Examples that load the embedded models or start a server are in the slow tier.
SLOW_PYTHON = ("VoiceAgent(", "MCPServer.")
SLOW_COMMANDS = ("voice-agent run ", "voice-agent chat ", "voice-agent eval run ")


def tiered(values: list[str], slow_when: tuple[str, ...]) -> list[object]:
    return [
        pytest.param(value, marks=pytest.mark.slow)
        if any(word in str(value) for word in slow_when)
        else value
        for value in values
    ]


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
        check=False,
    )


@pytest.mark.parametrize(
    "code", tiered(PYTHON, SLOW_PYTHON), ids=[str(i) for i in range(len(PYTHON))]
)
def test_python_example_runs(code: str, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(code)
    done = run([sys.executable, str(script)], REPO, {"VOICE_AGENT_HOME_DB": str(tmp_path / "h")})
    assert done.returncode == 0, done.stderr
    for expected in re.findall(r"# (\[.*\])$", code, re.MULTILINE):
        assert expected in done.stdout


def test_first_example_prints_what_the_readme_says(tmp_path: Path) -> None:
    before, after = README.split("prints\n\n```text\n", 1)
    script = tmp_path / "example.py"
    script.write_text(before.rsplit("```python\n", 1)[1].split("```", 1)[0])
    done = run([sys.executable, str(script)], REPO, {})
    printed = after.split("```", 1)[0]
    assert done.stdout == printed


COMMANDS = [
    code.strip()
    for lang, code in BLOCKS
    if lang == "bash" and code.strip().startswith("voice-agent ")
]


@pytest.mark.parametrize("command", tiered(COMMANDS, SLOW_COMMANDS))
def test_voice_agent_commands_run(command: str, tmp_path: Path) -> None:
    (tmp_path / "examples").symlink_to(REPO / "examples")
    done = run(
        shlex.split(command), tmp_path, {"VOICE_AGENT_HOME_DB": str(tmp_path / "home.sqlite3")}
    )
    assert done.returncode == 0, done.stderr
    if command.startswith("voice-agent run"):
        assert "set_light" in done.stdout and (tmp_path / "reply.wav").stat().st_size > 10_000
    if "chat --text" in command:
        assert "unlock_front_door({}) → ran" in done.stdout
    if "tools call" in command:
        assert "set_light" in done.stdout and "needs_confirmation" in done.stdout
    if "eval score" in command:
        assert "accuracy 0.8000 (8/10)" in done.stdout
    if "eval run" in command:
        report = (tmp_path / "runs" / "eval" / "report.md").read_text()
        assert "| speech | bfcl | simple_python | 3 |" in report


def test_readme_has_the_main_commands() -> None:
    assert len(COMMANDS) >= 3


GUARANTEES = README.split("## What voice-agent guarantees", 1)[-1].split("\n## ", 1)[0]


@pytest.mark.parametrize("reference", re.findall(r"`(tests/[\w/]+\.py)(?:::(\w+))?`", GUARANTEES))
def test_each_guarantee_names_a_test_that_exists(reference: tuple[str, str]) -> None:
    path, name = reference
    source = (REPO / path).read_text()
    assert not name or re.search(rf"^(async )?def {name}\(", source, re.MULTILINE), reference


def test_the_guarantees_page_lists_its_tests() -> None:
    assert len(re.findall(r"`tests/", GUARANTEES)) >= 10
