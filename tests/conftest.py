"""Shared test fixtures: where the shared benchmark data lives; real sound devices."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("VOICE_AGENT_SHARED_DATA", REPO.parent / "shared" / "data"))


def _shared(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.fail(f"{name} test data not found at {path}; set VOICE_AGENT_SHARED_DATA")
    return path


@pytest.fixture(scope="session")
def bfcl_dir() -> Path:
    return _shared("bfcl")


@pytest.fixture(scope="session")
def acebench_dir() -> Path:
    return _shared("acebench")


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
