"""Shared test fixtures: the benchmark data, from the repository and the official wheel; real
sound devices.

Every test runs from a clone alone: ACEBench's files are committed under ``tests/data/acebench``
(it is on no package registry) and BFCL's come from the pinned official ``bfcl-eval`` wheel,
fetched once into the user cache exactly as ``voice-agent eval`` fetches it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ACEBENCH_DATA = REPO / "tests" / "data" / "acebench"


@pytest.fixture(scope="session")
def official_wheel() -> Path:
    """The pinned ``bfcl-eval`` wheel in the user cache (downloaded with pip on first use,
    SHA-256 checked): the one copy the product and the tests both read."""
    from voice_agent.evals.bfcl import fetch_official_wheel  # evals imports take seconds

    return fetch_official_wheel()


@pytest.fixture(scope="session")
def bfcl_dir(official_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel's BFCL v4 files of the categories we score, unpacked into a directory laid out
    as ``bfcl_eval/data/`` (what ``--data DIR`` takes), so the tests read the directory form too
    and can list the files."""
    from voice_agent.evals.bfcl import CATEGORIES

    folder = tmp_path_factory.mktemp("bfcl")
    wanted = {
        f"bfcl_eval/data/{sub}BFCL_v4_{category}.json"
        for category in CATEGORIES
        for sub in ("", "possible_answer/")
    }
    with zipfile.ZipFile(official_wheel) as archive:
        for name in wanted & set(archive.namelist()):
            target = folder / name.removeprefix("bfcl_eval/data/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(name))
    return folder


@pytest.fixture(scope="session")
def acebench_dir() -> Path:
    """ACEBench's English files the tests read, committed with their licence (see its README)."""
    return ACEBENCH_DATA


@pytest.fixture
def no_sound_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No reachable sound server, whatever the machine runs (the virtual devices of the device
    tests, a desktop's own server): PortAudio then finds no input or output device."""
    monkeypatch.setenv("PULSE_SERVER", f"unix:{tmp_path / 'no-sound-server'}")


class SoundServer:
    """A private PulseAudio daemon with two virtual devices: ``user_voice``, a null sink whose
    monitor is the default microphone (play a file into it and the agent hears it), and
    ``agent_voice``, the default speaker (record its monitor to hear the agent)."""

    def __init__(self, root: Path) -> None:
        self.socket = root / "native"
        self.env = {**os.environ, "PULSE_SERVER": f"unix:{self.socket}"}
        self.process = subprocess.Popen(
            [
                "pulseaudio",
                "-n",  # no default script: nothing but what is loaded here
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--use-pid-file=no",
                "--log-target=stderr",
                "-L",
                f"module-native-protocol-unix auth-anonymous=1 socket={self.socket}",
                "-L",
                "module-null-sink sink_name=user_voice",
                "-L",
                "module-null-sink sink_name=agent_voice",
            ],
            env={**os.environ, "PULSE_RUNTIME_PATH": str(root), "HOME": str(root)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while self.pactl("info", check=False).returncode != 0:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"PulseAudio did not start: {self.process.stderr.read()[-2000:]!r}")  # type: ignore[union-attr]
            time.sleep(0.1)
        self.pactl("set-default-source", "user_voice.monitor")
        self.pactl("set-default-sink", "agent_voice")

    def pactl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["pactl", *args], env=self.env, check=check, capture_output=True, timeout=10
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def sound_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[SoundServer]:
    """Real audio devices for the live-loop tests: PortAudio → ALSA → a private PulseAudio."""
    if shutil.which("pulseaudio") is None or shutil.which("pactl") is None:
        pytest.fail(
            "the device tests need PulseAudio (`pulseaudio`, `pactl`); "
            "`bash scripts/install` installs them"
        )
    server = SoundServer(tmp_path)
    monkeypatch.setenv("PULSE_SERVER", server.env["PULSE_SERVER"])
    try:
        yield server
    finally:
        server.stop()
