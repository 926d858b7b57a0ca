"""llama.cpp's OpenAI-compatible server (``python -m llama_cpp.server``) with the embedded model,
on 127.0.0.1: the real remote end for the remote backend's and the eval runner's tests."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest


def free_port() -> int:
    """A port nothing listens on (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def llama_server(context: int = 4096) -> Iterator[str]:
    """The server's ``/v1`` URL once it answers; stopped on exit."""
    from voice_agent.models.llm import QWEN_CODER_05B

    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(QWEN_CODER_05B.assemble()),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            str(context),
            "--n_threads",
            "2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            if proc.poll() is not None:
                pytest.fail("llama.cpp's server exited at start")
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("llama.cpp's server did not answer within 120 s")
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:  # uvicorn waits for open connections to drain
            proc.kill()
            proc.wait()
