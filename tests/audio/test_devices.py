"""The live loop on real audio devices: sounddevice → PortAudio → ALSA → a private PulseAudio
daemon with virtual devices (see ``SoundServer`` in conftest). Nothing is mocked: the library,
PortAudio and the daemon are real; only the microphone's sound comes from a file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SoundServer
from voice_agent.audio import Audio, AudioError, SoundDeviceInput, SoundDeviceOutput

REPO = Path(__file__).resolve().parents[2]
HOME = REPO / "examples" / "home"

pytestmark = pytest.mark.slow  # every test starts a PulseAudio daemon


async def test_spoken_turn_through_microphone_and_speaker(
    sound_server: SoundServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from voice_agent.agent import VoiceAgent
    from voice_agent.tools import ToolRegistry

    monkeypatch.setenv("VOICE_AGENT_HOME_DB", str(tmp_path / "home.sqlite3"))
    registry = ToolRegistry()
    registry.register_path(HOME / "tools.py")
    agent = VoiceAgent(tools=registry)
    await agent.start()
    heard = tmp_path / "speaker.raw"
    env = sound_server.env
    with heard.open("wb") as sink:
        recorder = await asyncio.create_subprocess_exec(
            "parec", "-d", "agent_voice.monitor", "--format=s16le", "--rate=16000",
            "--channels=1", stdout=sink, env=env,
        )  # fmt: skip
        user = await asyncio.create_subprocess_exec(
            "bash", "-c", f"sleep 1; paplay --device=user_voice {HOME / 'add_milk.wav'}", env=env
        )
        results = await asyncio.wait_for(
            agent.converse(SoundDeviceInput(), SoundDeviceOutput(), max_turns=1), 90
        )
        await user.wait()
        await asyncio.sleep(0.5)
        recorder.terminate()
        await recorder.wait()
    [turn] = results
    assert "milk" in turn.transcript.lower()
    assert [(c.name, c.status) for c in turn.tool_calls] == [("add_to_shopping_list", "ran")]
    assert 300 <= turn.timings_ms["endpoint"] <= 900
    played = np.frombuffer(heard.read_bytes(), dtype=np.int16).astype(np.float32) / 32768
    assert np.sqrt(np.mean(played**2)) > 0.005, "the reply came out of the speaker"


async def test_a_microphone_that_disappears_mid_stream_is_a_clear_error(
    sound_server: SoundServer,
) -> None:
    microphone = SoundDeviceInput()
    blocks = 0

    async def listen() -> None:
        nonlocal blocks
        async for _ in microphone.chunks():
            blocks += 1
            if blocks == 20:  # recording for real; now the sound server dies
                sound_server.process.kill()

    with pytest.raises(AudioError, match="input device stopped"):
        await asyncio.wait_for(listen(), 30)
    assert blocks >= 20


async def test_a_speaker_that_disappears_mid_reply_is_a_clear_error(
    sound_server: SoundServer,
) -> None:
    speaker = SoundDeviceOutput()
    ten_seconds = Audio(samples=np.full(16000 * 10, 0.1, dtype=np.float32), sample_rate=16000)
    asyncio.get_running_loop().call_later(1.0, sound_server.process.kill)  # mid-reply
    with pytest.raises(AudioError, match="output device stopped"):
        await asyncio.wait_for(speaker.play(ten_seconds), 30)
