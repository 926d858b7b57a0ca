"""The remote backend against a real OpenAI-compatible server: llama.cpp's, on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests._llama import free_port, llama_server
from voice_agent import BackendError, ToolRegistry, tool
from voice_agent.models import UnderstandingRequest
from voice_agent.models.profiles import load_profile
from voice_agent.models.remote import OpenAICompatibleLLM
from voice_agent.models.tts import PiperTTS

pytestmark = pytest.mark.slow  # every test starts llama.cpp's server with the embedded model


@tool
def set_light(room: str, on: bool) -> str:
    """Turn the light in a room on or off."""
    return room


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with llama_server() as url:
        yield url


async def test_tool_call_and_streaming(server: str) -> None:
    llm = OpenAICompatibleLLM(server)
    try:
        output = await llm.complete(
            UnderstandingRequest(text="Turn on the kitchen light", tools=[set_light.schema])
        )
        [call] = ToolRegistry([set_light]).parse(output)
        assert (call.name, call.arguments) == ("set_light", {"room": "kitchen", "on": True})
        tokens = [t async for t in llm.stream(UnderstandingRequest(text="Say hello in French"))]
        assert len(tokens) > 2 and "Bonjour" in "".join(tokens)
    finally:
        await llm.aclose()


async def test_spoken_turn_through_the_remote_profile(server: str) -> None:
    profile = load_profile(f"remote:{server}")
    speech = [c.audio async for c in PiperTTS().synthesize("Please switch off the bedroom light.")]
    understanding = await profile.understanding.understand(
        UnderstandingRequest(audio=speech[0].resampled(16_000), tools=[set_light.schema])
    )
    assert understanding.transcript and "bedroom" in understanding.transcript.lower()
    [call] = ToolRegistry([set_light]).parse(understanding.output)
    assert call.arguments == {"room": "bedroom", "on": False}


async def test_failures_are_backend_errors(server: str) -> None:
    dead = OpenAICompatibleLLM(f"http://127.0.0.1:{free_port()}/v1", retries=2, backoff=0.01)
    with pytest.raises(BackendError, match="after 3 attempts: ConnectError") as refused:
        await dead.complete(UnderstandingRequest(text="hi"))
    assert refused.value.retryable
    wrong = OpenAICompatibleLLM(server.removesuffix("/v1") + "/nope", retries=2)
    with pytest.raises(BackendError, match="HTTP 404") as missing:
        await wrong.complete(UnderstandingRequest(text="hi"))
    assert not missing.value.retryable
    impatient = OpenAICompatibleLLM(server, timeout=0.001, retries=1, backoff=0.01)
    with pytest.raises(BackendError, match="Timeout") as slow:
        await impatient.complete(UnderstandingRequest(text="Write a long poem."))
    assert slow.value.retryable
    for client in (dead, wrong, impatient):
        await client.aclose()
