"""WebSocket sessions on a real uvicorn server: events, audio, typed turns, bad input."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests._cli import REPO
from tests.serve.conftest import scripted_service
from voice_agent.audio import load_audio
from voice_agent.errors import BackendError
from voice_agent.models import (
    Perception,
    Understanding,
    UnderstandingCapabilities,
    UnderstandingRequest,
)
from voice_agent.models.profiles import Profile
from voice_agent.serve import Service

pytestmark = pytest.mark.slow
MILK = REPO / "examples" / "home" / "add_milk.wav"


def ws(base: str, query: str = "") -> str:
    return base.replace("http://", "ws://") + "/v1/sessions" + query


async def frames_until(socket: ClientConnection, kind: str, seconds: float = 120) -> list[Any]:
    """Every frame (JSON decoded, binary as bytes) up to and including the first of ``kind``."""
    seen: list[Any] = []
    async with asyncio.timeout(seconds):
        while True:
            raw = await socket.recv()
            frame = raw if isinstance(raw, bytes) else json.loads(raw)
            seen.append(frame)
            if isinstance(frame, dict) and frame["type"] == kind:
                return seen


def pcm16(path: Path, pad_seconds: float = 1.5) -> list[bytes]:
    samples = np.concatenate([load_audio(path).samples, np.zeros(int(16_000 * pad_seconds))])
    data = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
    return [data[i : i + 1024] for i in range(0, len(data), 1024)]  # 32 ms frames


async def test_typed_turn_sends_the_agents_events_and_audio(
    tmp_path: Path, serve: Callable[[Service], str]
) -> None:
    base = serve(scripted_service(tmp_path))
    async with connect(ws(base)) as socket:
        hello = json.loads(await socket.recv())
        assert hello["type"] == "session" and hello["sample_rate"] == 16_000
        await socket.send(json.dumps({"type": "text", "text": "add milk please"}))
        seen = await frames_until(socket, "metrics")
    kinds = [f["type"] if isinstance(f, dict) else "binary" for f in seen]
    assert kinds[:3] == ["transcript", "policy", "tool_call"]
    assert seen[0] == {"type": "transcript", "text": "add milk please"}
    call = next(f for f in seen if isinstance(f, dict) and f["type"] == "tool_call")
    assert call["name"] == "add_to_list" and call["arguments"] == {"item": "milk"}
    result = next(f for f in seen if isinstance(f, dict) and f["type"] == "tool_result")
    assert result["status"] == "ran" and result["value"] == "added milk"
    announce = kinds.index("audio_chunk")
    assert kinds[announce + 1] == "binary"
    assert len(seen[announce + 1]) == seen[announce]["bytes"]
    assert "first_audio" in seen[-1]["timings_ms"]


async def test_spoken_turn_is_cut_by_the_vad(
    tmp_path: Path, serve: Callable[[Service], str]
) -> None:
    base = serve(scripted_service(tmp_path))
    async with connect(ws(base, "?speak=false")) as socket:
        await socket.recv()
        for frame in pcm16(MILK):
            await socket.send(frame)
        seen = await frames_until(socket, "metrics")
    assert seen[0] == {"type": "transcript", "text": "add milk"}
    assert any(isinstance(f, dict) and f["type"] == "tool_call" for f in seen)
    assert seen[-1]["timings_ms"]["endpoint"] > 0


async def test_garbage_frames_and_non_json_get_error_frames_and_the_session_goes_on(
    tmp_path: Path, serve: Callable[[Service], str]
) -> None:
    base = serve(scripted_service(tmp_path))
    async with connect(ws(base, "?speak=false")) as socket:
        await socket.recv()
        await socket.send(b"\x01\x02\x03")
        error = json.loads(await socket.recv())
        assert error["type"] == "error" and "even byte count" in error["message"]
        await socket.send("this is not json")
        error = json.loads(await socket.recv())
        assert "must be JSON" in error["message"]
        await socket.send(json.dumps({"type": "dance"}))
        assert "known frames" in json.loads(await socket.recv())["message"]
        await socket.send(bytes(np.random.default_rng(0).integers(0, 255, 4096, dtype=np.uint8)))
        await socket.send(json.dumps({"type": "text", "text": "add milk"}))
        seen = await frames_until(socket, "metrics")
        assert any(isinstance(f, dict) and f["type"] == "tool_result" for f in seen)


async def test_too_big_frame_wrong_token_origin_and_full_server_are_closed_clearly(
    tmp_path: Path, serve: Callable[[Service], str]
) -> None:
    base = serve(scripted_service(tmp_path, token="s3cret", max_sessions=1, max_frame_bytes=4096))
    for query in ("", "?token=wrong"):
        async with connect(ws(base, query)) as socket:
            with pytest.raises(ConnectionClosed) as closed:
                await socket.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    async with connect(ws(base, "?token=s3cret"), origin="http://evil.example") as socket:  # type: ignore[arg-type]
        with pytest.raises(ConnectionClosed) as closed:
            await socket.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    async with connect(ws(base, "?token=s3cret")) as first:
        assert json.loads(await first.recv())["type"] == "session"
        async with connect(ws(base, "?token=s3cret")) as second:
            with pytest.raises(ConnectionClosed) as closed:
                await second.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
            assert "limit" in closed.value.rcvd.reason
        await first.send(b"\0" * 8192)
        with pytest.raises(ConnectionClosed) as closed:
            await first.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_a_client_gone_mid_call_leaves_the_call_in_the_audit_log(
    tmp_path: Path, serve: Callable[[Service], str]
) -> None:
    from voice_agent.agent import HistoryStore

    replies = ['{"name": "slow_job", "arguments": {"name": "backup"}}']
    service = scripted_service(tmp_path, replies=replies)
    base = serve(service)
    async with connect(ws(base, "?speak=false")) as socket:
        hello = json.loads(await socket.recv())
        await socket.send(json.dumps({"type": "text", "text": "start the backup"}))
        await frames_until(socket, "tool_call")
    # the client vanished mid-call: the call is cancelled and the audit log says so
    store = HistoryStore(tmp_path / "history.sqlite3")
    deadline = time.monotonic() + 30
    while len(events := store.call_events(hello["session_id"])) < 2:
        assert time.monotonic() < deadline, events
        await asyncio.sleep(0.2)
    assert [(e["phase"], e["status"]) for e in events] == [
        ("started", "running"),
        ("finished", "cancelled"),
    ]
    assert events[1]["error"] == "interrupted by the user"


async def test_confirmation_is_asked_and_answered_across_turns(
    tmp_path: Path, serve: Callable[[Service], str]
) -> None:
    replies = ['{"name": "unlock_door", "arguments": {"door": "front"}}', "The door is open."]
    base = serve(scripted_service(tmp_path, replies=replies))
    async with connect(ws(base, "?speak=false")) as socket:
        await socket.recv()
        await socket.send(json.dumps({"type": "text", "text": "unlock the front door"}))
        first = await frames_until(socket, "metrics")
        asked = next(f for f in first if f["type"] == "tool_result")
        assert asked["status"] == "needs confirmation"
        await socket.send(json.dumps({"type": "text", "text": "yes"}))
        second = await frames_until(socket, "metrics")
    ran = next(f for f in second if f["type"] == "tool_result")
    assert ran["status"] == "ran" and ran["value"] == "front unlocked"


async def test_a_spoken_request_with_real_models_and_a_client_gone_mid_turn(
    home_server: str,
) -> None:
    """The docs/serve.md worked example against ``voice-agent serve`` with real models, after a
    first client that hangs up mid-turn: the server keeps serving the next one."""
    async with connect(ws(home_server, "?speak=false")) as gone:
        await gone.recv()
        for frame in pcm16(MILK):
            await gone.send(frame)
        await frames_until(gone, "transcript", seconds=300)
    async with connect(ws(home_server)) as socket:
        assert json.loads(await socket.recv())["type"] == "session"
        for frame in pcm16(MILK):
            await socket.send(frame)
        seen = await frames_until(socket, "metrics", seconds=600)
    events = [f for f in seen if isinstance(f, dict)]
    call = next(f for f in events if f["type"] == "tool_call")
    assert call["name"] == "add_to_shopping_list"
    assert call["arguments"] == {"item": "milk", "quantity": 2}
    assert next(f for f in events if f["type"] == "tool_result")["status"] == "ran"
    assert any(isinstance(f, bytes) and f for f in seen)  # the reply's audio
    async with httpx.AsyncClient() as client:
        health = (await client.get(f"{home_server}/healthz")).json()
    assert health == {"status": "ok", "sessions": 0}


class FailingModel:
    """Hears the typed text, then fails as a model server that went away would."""

    name = "failing"
    capabilities = UnderstandingCapabilities(streaming=True, audio_in=False)

    async def warm_up(self, tools: object = ()) -> None:
        """Nothing to load."""

    async def understand(self, request: UnderstandingRequest) -> Understanding:
        raise BackendError("the model server is gone", retryable=True)

    async def perceive(self, request: UnderstandingRequest) -> Perception:
        return Perception(transcript=request.text)

    async def respond(self, request: UnderstandingRequest) -> AsyncIterator[str]:
        raise BackendError("the model server is gone", retryable=True)
        yield ""


async def test_a_failed_conversation_tells_the_client_and_the_server_goes_on(
    tmp_path: Path, serve: Callable[[Service], str]
) -> None:
    service = scripted_service(tmp_path)
    failing = Service(
        tools=service.tools,
        profile=Profile(name="failing", understanding=FailingModel(), tts=service.profile.tts),
        store=service.store,
        settings=service.settings,
    )
    base = serve(failing)
    async with connect(ws(base, "?speak=false")) as socket:
        await socket.recv()
        await socket.send(json.dumps({"type": "text", "text": "add milk"}))
        seen = await frames_until(socket, "error")
        assert "the model server is gone" in seen[-1]["message"]
        with pytest.raises(ConnectionClosed) as closed:
            await socket.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"{base}/healthz")).json() == {"status": "ok", "sessions": 0}


def test_the_protocol_pages_worked_example_runs_as_written(home_server: str) -> None:
    """docs/serve.md's Python example, pointed at the test's server, prints what it says."""
    page = (REPO / "docs" / "serve.md").read_text()
    code = page.split("```python\n", 1)[1].split("```", 1)[0]
    printed = subprocess.run(
        [sys.executable, "-c", code.replace("127.0.0.1:8765", home_server.split("//")[1])],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout
    kinds = [line.split(" ", 1)[0] for line in printed.splitlines()[1:]]
    assert kinds[0] == "transcript" and kinds[-1] == "metrics", printed
    assert "tool_call" in kinds and "audio_chunk" in kinds, printed
    assert "'name': 'add_to_shopping_list', 'arguments': {'item': 'milk', 'quantity': 2}" in printed


async def test_a_client_that_never_reads_does_not_hold_up_another_session(
    tmp_path: Path, serve: Callable[[Service], str]
) -> None:
    base = serve(scripted_service(tmp_path))
    async with connect(ws(base), max_queue=1, close_timeout=1) as deaf:
        for _ in range(5):
            await deaf.send(json.dumps({"type": "text", "text": "add milk"}))
        async with connect(ws(base, "?speak=false")) as other:
            await other.recv()
            await other.send(json.dumps({"type": "text", "text": "add milk"}))
            seen = await frames_until(other, "metrics", seconds=60)
        assert next(f for f in seen if f["type"] == "tool_result")["status"] == "ran"


async def test_fifty_connections_at_once_are_refused_past_the_cap_and_the_rest_are_served(
    tmp_path: Path, serve: Callable[[Service], str]
) -> None:
    base = serve(scripted_service(tmp_path, max_sessions=4))

    async def open_one() -> str:
        try:
            async with connect(ws(base, "?speak=false")) as socket:
                await socket.recv()
                await socket.send(json.dumps({"type": "text", "text": "add milk"}))
                seen = await frames_until(socket, "metrics", seconds=60)
                return next(f for f in seen if f["type"] == "tool_result")["status"]
        except ConnectionClosed as e:
            return str(e.rcvd.code if e.rcvd else None)

    outcomes = await asyncio.gather(*(open_one() for _ in range(50)))
    assert set(outcomes) <= {"ran", "1013"}, outcomes
    assert outcomes.count("ran") >= 1 and outcomes.count("1013") >= 46 - outcomes.count("ran")
    assert await open_one() == "ran"  # the places are given back
