"""HTTP routes on a real uvicorn server: turns, replies, health, metrics, token, limits."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests._cli import REPO
from tests.serve.conftest import scripted_service
from voice_agent.audio import Audio
from voice_agent.errors import ConfigError
from voice_agent.serve import ServeSettings, Service

MILK = REPO / "examples" / "home" / "add_milk.wav"
pytestmark = pytest.mark.slow


def tone(seconds: float) -> bytes:
    t = np.arange(int(16_000 * seconds)) / 16_000
    samples = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    return Audio(samples=samples, sample_rate=16_000).to_wav_bytes()


def test_non_loopback_host_needs_a_token() -> None:
    with pytest.raises(ConfigError, match="--token"):
        ServeSettings(host="0.0.0.0").check()
    ServeSettings(host="0.0.0.0", token="t").check()
    ServeSettings(host="::1").check()


def test_turn_json_reply_url_health_and_metrics(
    tmp_path: Path, serve: Callable[[Service], str]
) -> None:
    base = serve(scripted_service(tmp_path))
    assert httpx.get(f"{base}/healthz").json() == {"status": "ok", "sessions": 0}
    done = httpx.post(f"{base}/v1/turns", content=tone(1.0), timeout=120)
    assert done.status_code == 200, done.text
    turn = done.json()
    assert turn["transcript"] == "add milk"
    assert turn["tool_calls"][0]["name"] == "add_to_list"
    assert turn["tool_results"][0] == {
        "id": turn["tool_calls"][0]["id"],
        "name": "add_to_list",
        "status": "ran",
        "result": "added milk",
        "error": None,
    }
    assert turn["reply_audio"].startswith("/v1/replies/")
    wav = httpx.get(base + turn["reply_audio"])
    assert wav.status_code == 200 and wav.content[:4] == b"RIFF"
    quiet = httpx.post(f"{base}/v1/turns?speak=false", content=tone(1.0), timeout=120).json()
    assert quiet["reply_audio"] is None and quiet["reply_text"]
    metrics = httpx.get(f"{base}/metrics").text
    assert 'voice_agent_turns_total{transport="http"} 2.0' in metrics
    assert 'voice_agent_turn_stage_seconds_count{stage="turn"} 2.0' in metrics
    assert "voice_agent_sessions_active 0.0" in metrics


def test_bad_requests_get_clear_statuses(tmp_path: Path, serve: Callable[[Service], str]) -> None:
    base = serve(scripted_service(tmp_path, max_body_bytes=200_000, max_audio_seconds=2))
    cases = [
        (b"not audio at all", "", 422, "as audio"),
        (tone(3.0), "", 413, "over the limit of 2 s"),
        (b"\0" * 300_000, "", 413, "over 200000 bytes"),
        (tone(1.0), "?speak=maybe", 400, "speak=true or false"),
    ]
    for body, query, status, words in cases:
        done = httpx.post(f"{base}/v1/turns{query}", content=body, timeout=60)
        assert done.status_code == status, done.text
        assert words in done.json()["error"]
    assert httpx.get(f"{base}/v1/replies/{'0' * 32}.wav").status_code == 404
    metrics = httpx.get(f"{base}/metrics").text
    assert 'voice_agent_errors_total{kind="bad_audio"} 1.0' in metrics


def test_token_on_every_route_but_healthz(tmp_path: Path, serve: Callable[[Service], str]) -> None:
    base = serve(scripted_service(tmp_path, token="s3cret"))
    assert httpx.get(f"{base}/healthz").status_code == 200
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        done = httpx.get(f"{base}/metrics", headers=headers)
        assert done.status_code == 401 and "token" in done.json()["error"]
        assert done.headers["www-authenticate"] == "Bearer"
        assert httpx.post(f"{base}/v1/turns", content=tone(1), headers=headers).status_code == 401
    assert httpx.get(f"{base}/metrics", headers={"Authorization": "Bearer s3cret"}).is_success
    assert httpx.get(f"{base}/metrics?token=s3cret").is_success
    # a POST carries the token in its header only (a query token would end up in logs)
    assert httpx.post(f"{base}/v1/turns?token=s3cret", content=tone(1)).status_code == 401


def test_readme_curl_example_calls_the_right_tool(home_server: str) -> None:
    """`voice-agent serve --tools examples/home/tools.py` answers the README's curl POST with
    the right tool call (real models)."""
    done = subprocess.run(
        ["curl", "-sS", "--data-binary", f"@{MILK}", f"{home_server}/v1/turns"],
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    )
    turn = json.loads(done.stdout)
    assert turn["tool_calls"][0]["name"] == "add_to_shopping_list"
    assert turn["tool_calls"][0]["arguments"] == {"item": "milk", "quantity": 2}
    assert turn["tool_results"][0]["status"] == "ran"
    assert turn["reply_audio"].startswith("/v1/replies/")
