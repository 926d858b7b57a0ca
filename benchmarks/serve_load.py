"""Many WebSocket sessions at once against a real ``voice-agent serve`` on 127.0.0.1.

Run by hand: ``python benchmarks/serve_load.py [--clients 1 4] [--turns 2] [--profile P]``.
The first client count is the baseline (1: one session alone on the server); each later count
is measured in the same run against the same server. Every client speaks recorded requests
(``examples/home``) in real time, 32 ms frames, each followed by 1.5 s of silence, and waits
for the turn's end before the next. Reported per client count:

- **first reply audio**: from the end of the request's speech to the first ``audio_chunk``
  (the VAD's 600 ms endpoint included), median and p90;
- **turns per minute** over the whole server, and errors (error frames, closed sockets,
  wrong tool calls);
- **isolation**: every session must see its own session id, only its own transcripts and
  only the tool its request asks for.

``--profile remote:URL`` measures the scale-out path (the LLM behind llama.cpp's server with
parallel slots) against the embedded default. Bounded: ``--turns`` per client, and a
``--deadline`` in seconds per turn.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table
from websockets.asyncio.client import ClientConnection, connect

from voice_agent.audio import load_audio

REPO = Path(__file__).resolve().parents[1]
HOME = REPO / "examples" / "home"
REQUESTS = {
    "add_milk.wav": ("add_to_shopping_list", "milk"),
    "turn_on_kitchen_lights.wav": ("set_light", "kitchen"),
}
"""Each recording → the tool it asks for and a word its transcript must have."""
FRAME = 512  # samples: 32 ms at 16 kHz


@dataclass
class Client:
    """What one session saw."""

    first_audio: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    """What this session heard or called that its requests did not ask for."""
    session_ids: set[str] = field(default_factory=set)
    transcripts: list[str] = field(default_factory=list)
    turns: int = 0


def frames(path: Path) -> list[bytes]:
    pcm = (np.clip(load_audio(path).samples, -1, 1) * 32767).astype("<i2").tobytes()
    return [pcm[i : i + 2 * FRAME] for i in range(0, len(pcm), 2 * FRAME)]


async def speak(socket: ClientConnection, pcm: list[bytes]) -> None:
    """Send frames at the speed they would be spoken."""
    start = time.perf_counter()
    for n, frame in enumerate(pcm):
        await socket.send(frame)
        await asyncio.sleep(max(0.0, start + (n + 1) * FRAME / 16_000 - time.perf_counter()))


async def one_turn(
    socket: ClientConnection, name: str, pcm: list[bytes], seen: Client, deadline: float
) -> None:
    await speak(socket, pcm)
    spoke = time.perf_counter()
    silence = asyncio.create_task(speak(socket, [bytes(2 * FRAME)] * 47))  # 1.5 s
    first = None
    try:
        async with asyncio.timeout(deadline):
            while True:
                raw = await socket.recv()
                if isinstance(raw, bytes):
                    continue
                event = json.loads(raw)
                if event["type"] == "audio_chunk" and first is None:
                    first = time.perf_counter() - spoke
                elif event["type"] == "transcript":
                    seen.transcripts.append(event["text"])
                    if REQUESTS[name][1] not in event["text"].lower():
                        seen.foreign.append(f"{name}: heard {event['text']!r}")
                elif event["type"] == "tool_call" and event["name"] != REQUESTS[name][0]:
                    seen.foreign.append(f"{name}: called {event['name']}")
                elif event["type"] == "error":
                    seen.errors.append(event["message"])
                elif event["type"] == "metrics":
                    break
    finally:
        await silence
    seen.turns += 1
    if first is not None:
        seen.first_audio.append(first)
    else:
        seen.errors.append(f"{name}: no reply audio")


async def client(url: str, number: int, turns: int, deadline: float) -> Client:
    seen = Client()
    names = list(REQUESTS)
    try:
        async with connect(url, max_size=2**22) as socket:
            seen.session_ids.add(json.loads(await socket.recv())["session_id"])
            for turn in range(turns):
                name = names[(number + turn) % len(names)]
                await one_turn(socket, name, frames(HOME / name), seen, deadline)
    except Exception as e:  # a benchmark counts failures rather than stopping at the first
        seen.errors.append(f"{type(e).__name__}: {e}")
    return seen


def p90(values: list[float]) -> float:
    return float(np.percentile(values, 90)) if values else float("nan")


def isolated(clients: list[Client]) -> bool:
    """Distinct session ids, one transcript per turn, and nothing heard or called that the
    session's own requests did not ask for."""
    ids = [i for c in clients for i in c.session_ids]
    return len(ids) == len(set(ids)) and all(
        len(c.transcripts) == c.turns and not c.foreign for c in clients
    )


def warm_up(base: str) -> None:
    """One posted turn first: the models load on first use, which no round should time."""
    with (HOME / "add_milk.wav").open("rb") as audio:
        httpx.post(f"{base}/v1/turns", content=audio.read(), timeout=900).raise_for_status()


def wait_idle(base: str) -> None:
    """Until the last round's sessions are closed on the server too (they count against
    ``--max-sessions`` until then)."""
    while httpx.get(f"{base}/healthz").json()["sessions"]:
        time.sleep(0.1)


def start_server(profile: str, port: int, sessions: int, home: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "VOICE_AGENT_HOME_DB": str(home / "home.sqlite3"),
        "VOICE_AGENT_DB": str(home / "history.sqlite3"),
    }
    command = [sys.executable, "-m", "voice_agent.cli", "serve", "--tools", str(HOME / "tools.py")]
    options = ["--profile", profile, "--port", str(port), "--max-sessions", str(sessions)]
    server = subprocess.Popen([*command, *options], env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").is_success:
                return server
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("voice-agent serve did not start")
        time.sleep(0.5)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--turns", type=int, default=2, help="Turns per client.")
    parser.add_argument("--profile", default="cpu-default")
    parser.add_argument("--port", type=int, default=8799)
    parser.add_argument("--deadline", type=float, default=600, help="Seconds per turn, at most.")
    args = parser.parse_args()
    server = start_server(args.profile, args.port, max(args.clients), Path(tempfile.mkdtemp()))
    base = f"http://127.0.0.1:{args.port}"
    url = base.replace("http", "ws") + "/v1/sessions"
    table = Table(title=f"{args.profile}: {args.turns} spoken turns per session (seconds)")
    for column in ("sessions", "first audio p50", "p90", "turns/min", "errors", "isolated", "vs"):
        table.add_column(column, justify="left" if column == "sessions" else "right")
    baseline = None
    try:
        warm_up(base)
        for count in args.clients:
            wait_idle(base)
            start = time.perf_counter()
            clients = await asyncio.gather(
                *(client(url, n, args.turns, args.deadline) for n in range(count))
            )
            wall = time.perf_counter() - start
            firsts = [v for c in clients for v in c.first_audio]
            median = statistics.median(firsts) if firsts else float("nan")
            baseline = median if baseline is None else baseline
            for c in clients:
                for error in c.errors + c.foreign:
                    print(f"{count} sessions: {error}", file=sys.stderr)
            table.add_row(
                f"{count}" + (" (baseline)" if count == args.clients[0] else ""),
                f"{median:.2f}",
                f"{p90(firsts):.2f}",
                f"{60 * sum(c.turns for c in clients) / wall:.1f}",
                str(sum(len(c.errors) + len(c.foreign) for c in clients)),
                "yes" if isolated(clients) else "NO",
                f"{median / baseline:.2f}×",
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    Console().print(table)


if __name__ == "__main__":
    asyncio.run(main())
