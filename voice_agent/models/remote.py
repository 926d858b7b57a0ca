"""A remote model server speaking the OpenAI chat-completions API (vLLM, llama.cpp, …).

Many agents share one server; vLLM spreads a model over GPUs and machines. The reply is turned
back into text with ``<tool_call>`` blocks for any structured ``tool_calls``, so that the tool
layer parses a remote model exactly like a local one.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

import httpx

from voice_agent.errors import BackendError, ConfigError
from voice_agent.log import get_logger
from voice_agent.models.protocols import TextModelCapabilities, UnderstandingRequest

__all__ = ["OpenAICompatibleLLM"]

log = get_logger(__name__)

_RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504}


def _tool_calls_text(tool_calls: list[dict[str, Any]]) -> str:
    blocks = []
    for call in tool_calls:
        function = call.get("function") or {}
        arguments = function.get("arguments") or "{}"
        try:
            parsed = json.loads(arguments) if isinstance(arguments, str) else arguments
        except ValueError:
            parsed = arguments  # the tool layer repairs or reports it
        blocks.append(
            "<tool_call>\n"
            + json.dumps({"name": function.get("name"), "arguments": parsed}, ensure_ascii=False)
            + "\n</tool_call>"
        )
    return "".join(blocks)


def _failure(error: httpx.HTTPError, timeout: float) -> str:
    """What went wrong, for a person: httpx's timeouts carry no message of their own."""
    if isinstance(error, httpx.TimeoutException) and not str(error):
        return f"{type(error).__name__}: no answer within {timeout:g} s (--remote-timeout)"
    return f"{type(error).__name__}: {error}"


class OpenAICompatibleLLM:
    """Chat completions over HTTP, with tools, streaming, timeouts and retries.

    Args:
        base_url: the server root, e.g. ``http://127.0.0.1:8000/v1``.
        model: the model name the server expects (vLLM: its ``--served-model-name``; a
            llama.cpp server answers to any).
        api_key: sent as a bearer token when given.
        timeout: seconds for connect and for each read (a whole reply when not streamed:
            raise it for a slow or busy server).
        retries: further attempts after a retryable failure (connection refused, timeout,
            429, 5xx), with exponential backoff and jitter.
        system: the system prompt (tools go in the ``tools`` field).

    Raises:
        ConfigError: a timeout that is not a number of seconds above 0, or an empty model name.
    """

    capabilities = TextModelCapabilities(streaming=True)
    """Server-sent events: words as the server writes them, tool calls at the end."""

    def __init__(
        self,
        base_url: str,
        *,
        model: str = "default",
        api_key: str | None = None,
        timeout: float = 60.0,
        retries: int = 2,
        backoff: float = 0.5,
        system: str | None = None,
        max_tokens: int = 384,
    ) -> None:
        if not (math.isfinite(timeout) and timeout > 0):
            raise ConfigError(f"the remote timeout must be seconds above 0, not {timeout:g}")
        if not model.strip():
            raise ConfigError("the remote model name is empty; give the name the server serves")
        self.base_url = base_url.rstrip("/")
        self.model, self.retries, self.backoff = model, retries, backoff
        self.timeout = timeout
        self.system, self.max_tokens = system, max_tokens
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout), headers=headers)
        shown = "" if model == "default" else f" ({model})"
        self.name = f"remote:{self.base_url}{shown}"
        """Names the server and, when not ``default``, the model: two models served at one
        URL are two models in a report."""

    async def warm_up(self, tools: Sequence[Mapping[str, Any]] = ()) -> None:
        """Nothing to load here: the server holds the model (and its own prompt cache)."""

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    def payload(self, request: UnderstandingRequest, *, stream: bool) -> dict[str, Any]:
        """The chat-completions body for a request."""
        messages: list[dict[str, Any]] = []
        system = "\n\n".join(s for s in (self.system, request.system) if s)
        if system:
            messages.append({"role": "system", "content": system})
        for m in request.history:
            message: dict[str, Any] = {"role": m.role, "content": m.content}
            if m.role == "tool":
                message["tool_call_id"] = m.tool_call_id or ""
            messages.append(message)
        if request.text is not None:
            messages.append({"role": "user", "content": request.text})
        if request.instructions:
            messages.append({"role": "system", "content": request.instructions})
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": 0.0,
            "max_tokens": self.max_tokens,
            "stream": stream,
        }
        if request.tools:
            body["tools"] = [{"type": "function", "function": dict(t)} for t in request.tools]
            body["tool_choice"] = request.tool_choice
        return body

    async def _post(self, body: dict[str, Any]) -> httpx.Response:
        url = f"{self.base_url}/chat/completions"
        for attempt in range(self.retries + 1):
            try:
                response = await self._client.send(
                    self._client.build_request("POST", url, json=body), stream=True
                )
            except (httpx.ConnectError, httpx.TimeoutException, httpx.RemoteProtocolError) as e:
                failure: str = _failure(e, self.timeout)
                retryable = True
            else:
                if response.status_code < 400:
                    return response
                detail = (await response.aread()).decode(errors="replace")[:300]
                await response.aclose()
                failure = f"HTTP {response.status_code}: {detail}"
                retryable = response.status_code in _RETRYABLE_STATUS
                if not retryable:
                    raise BackendError(f"{url} refused the request: {failure}", retryable=False)
            if attempt < self.retries:
                delay = self.backoff * 2**attempt * (1 + random.random() / 2)  # noqa: S311
                log.warning(
                    "remote.retrying",
                    url=url,
                    attempt=attempt + 1,
                    error=failure,
                    delay_s=round(delay, 2),
                )
                await asyncio.sleep(delay)
        raise BackendError(
            f"{url} failed after {self.retries + 1} attempts: {failure}", retryable=retryable
        )

    async def complete(self, request: UnderstandingRequest) -> str:
        """The whole reply, tool calls rendered as ``<tool_call>`` blocks."""
        response = await self._post(self.payload(request, stream=False))
        try:
            data = json.loads(await response.aread())
            message = data["choices"][0]["message"]
        except (ValueError, KeyError, IndexError, TypeError) as e:
            raise BackendError(f"the server's reply is not a chat completion: {e}") from e
        finally:
            await response.aclose()
        return (message.get("content") or "") + _tool_calls_text(message.get("tool_calls") or [])

    async def stream(self, request: UnderstandingRequest) -> AsyncGenerator[str, None]:
        """The reply as it is generated (server-sent events); tool calls at the end."""
        response = await self._post(self.payload(request, stream=True))
        calls: dict[int, dict[str, Any]] = {}
        try:
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                try:
                    delta = json.loads(data)["choices"][0].get("delta") or {}
                except (ValueError, KeyError, IndexError, TypeError):
                    log.warning("remote.bad_event", data=data[:120])
                    continue
                if delta.get("content"):
                    yield delta["content"]
                for part in delta.get("tool_calls") or []:
                    slot = calls.setdefault(
                        part.get("index", 0), {"function": {"name": "", "arguments": ""}}
                    )
                    function = part.get("function") or {}
                    slot["function"]["name"] += function.get("name") or ""
                    slot["function"]["arguments"] += function.get("arguments") or ""
        except httpx.HTTPError as e:
            raise BackendError(f"the stream broke: {e}", retryable=True) from e
        finally:
            await response.aclose()
        if calls:
            yield _tool_calls_text([calls[i] for i in sorted(calls)])
