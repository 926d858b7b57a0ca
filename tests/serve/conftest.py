"""A real uvicorn server on 127.0.0.1 in a thread, over a given service."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from tests._cli import HOME_TOOLS, REPO
from voice_agent.agent import HistoryStore
from voice_agent.models.profiles import Profile
from voice_agent.models.tts import EspeakTTS
from voice_agent.serve import ServeSettings, Service, create_app
from voice_agent.testing import ScriptedUnderstanding
from voice_agent.tools import ToolRegistry, tool


@tool
def add_to_list(item: str) -> str:
    """Add an item to the list.

    Args:
        item: What to add.
    """
    return f"added {item}"


@tool
async def slow_job(name: str) -> str:
    """Start a long job.

    Args:
        name: The job.
    """
    await asyncio.sleep(60)
    return "done"


@tool(confirm=True)
def unlock_door(door: str) -> str:
    """Unlock a door.

    Args:
        door: Which door.
    """
    return f"{door} unlocked"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


ADD_MILK = '{"name": "add_to_list", "arguments": {"item": "milk"}}'


def scripted_service(
    tmp_path: Path, replies: list[str] | None = None, **settings: object
) -> Service:
    """Scripted understanding (typed text is the transcript, speech is heard as 'add milk'),
    the espeak voice, a real store."""
    understanding = ScriptedUnderstanding(default="add milk", replies=replies or [ADD_MILK] * 50)
    return Service(
        tools=ToolRegistry([add_to_list, slow_job, unlock_door]),
        profile=Profile(name="scripted", understanding=understanding, tts=EspeakTTS()),
        store=HistoryStore(tmp_path / "history.sqlite3"),
        settings=ServeSettings(port=free_port(), **settings),  # type: ignore[arg-type]
    )


@pytest.fixture
def serve() -> Iterator[Callable[[Service], str]]:
    """Start a server over a service; returns its base URL. Stopped after the test."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(service: Service) -> str:
        config = uvicorn.Config(
            create_app(service),
            host="127.0.0.1",
            port=service.settings.port,
            log_level="warning",
            ws_max_size=service.settings.max_frame_bytes,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        servers.append((server, thread))
        return f"http://127.0.0.1:{service.settings.port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=20)


@pytest.fixture(scope="session")
def home_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``voice-agent serve --tools examples/home/tools.py`` from this checkout, as the README
    runs it (real models, loaded once for every test that needs them); its base URL."""
    home = tmp_path_factory.mktemp("home_server")
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "VOICE_AGENT_HOME_DB": str(home / "home.sqlite3"),
        "VOICE_AGENT_DB": str(home / "history.sqlite3"),
    }
    command = [sys.executable, "-m", "voice_agent.cli", "serve", "--tools", str(HOME_TOOLS)]
    server = subprocess.Popen(
        [*command, "--port", str(port)], cwd=home, env=env, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{base}/healthz").is_success:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.5)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
