"""A cut-short recording through the agent and ``voice-agent run``: said, or refused."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests._cli import checkout_cli
from tests.audio.test_audio import cut_short
from voice_agent.agent import AudioWarningEvent, VoiceAgent
from voice_agent.audio import load_audio
from voice_agent.models.profiles import Profile
from voice_agent.models.tts import EspeakTTS
from voice_agent.testing import ScriptedUnderstanding

REPO = Path(__file__).resolve().parents[2]
HOME = REPO / "examples" / "home"


@pytest.fixture
def cut(tmp_path: Path) -> Path:
    path = tmp_path / "add_milk_cut.wav"
    path.write_bytes(cut_short(HOME / "add_milk.wav"))
    return path


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``voice-agent run`` on the home tools."""
    return checkout_cli("run", "--tools", str(HOME / "tools.py"), *args, cwd=cwd)


async def test_the_agent_says_the_audio_was_cut_short_first(cut: Path) -> None:
    model = ScriptedUnderstanding(default="Add two bottles.")
    agent = VoiceAgent(speak=False, profile=Profile(name="s", understanding=model, tts=EspeakTTS()))
    events = [e async for e in agent.stream_turn(load_audio(cut))]
    assert isinstance(events[0], AudioWarningEvent)
    assert "the file is cut short" in events[0].message and str(cut) in events[0].message
    intact = [e async for e in agent.stream_turn(load_audio(HOME / "add_milk.wav"))]
    assert not any(isinstance(e, AudioWarningEvent) for e in intact)


def test_run_strict_audio_refuses_a_file_cut_short(cut: Path, tmp_path: Path) -> None:
    done = run(
        "--audio", str(cut), "--strict-audio", "--db", str(tmp_path / "h.sqlite3"), cwd=tmp_path
    )
    assert done.returncode == 2
    assert "the file is cut short" in done.stderr and "refused" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "h.db").exists(), "no tool ran"


@pytest.mark.slow
def test_run_prints_a_warning_line_for_a_file_cut_short(cut: Path, tmp_path: Path) -> None:
    done = run("--audio", str(cut), "--db", str(tmp_path / "h.sqlite3"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.replace("\n ", " ").splitlines()  # a long line may wrap
    [warning] = [line for line in lines if line.startswith("warning:")]
    assert "the file is cut short" in warning
