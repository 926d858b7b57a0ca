"""The ASGI app: ``POST /v1/turns``, ``GET /v1/replies/ID.wav``, ``GET /v1/sessions``
(WebSocket), ``GET /healthz``, ``GET /metrics`` and the browser console at ``/``, every route
but ``/healthz`` and the console's static files behind the token when one is set."""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from voice_agent.audio import AudioError, load_audio
from voice_agent.errors import VoiceAgentError
from voice_agent.log import get_logger
from voice_agent.serve._json import turn_dict
from voice_agent.serve._service import Busy, Service
from voice_agent.serve._session import session_socket

__all__ = ["create_app"]

log = get_logger(__name__)
UNAUTHORIZED_CLOSE = 4401
STATIC = Path(__file__).parent / "static"
OPEN_PATHS = ("/healthz", "/static/")
"""Open without the token: liveness, and the console's code (the same files for everybody,
fetched by the page without a way to add the token; the page and every API route need it)."""


def json_response(body: dict[str, Any], status: int = 200, **headers: str) -> Response:
    """JSON that tolerates any tool result (``default=str``, as ``run --json`` prints)."""
    text = json.dumps(body, default=str, ensure_ascii=False)
    return Response(text, status, media_type="application/json", headers=headers)


def _error(status: int, message: str, **headers: str) -> Response:
    return json_response({"error": message}, status, **headers)


class TokenGate:
    """ASGI middleware: a request without the token gets 401 (a WebSocket is closed with
    4401), except ``/healthz``. The token comes as ``Authorization: Bearer TOKEN``, or as
    ``?token=`` on GET requests and WebSockets (a browser can give a socket no header)."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app, self.service = app, service

    def _authorized(self, scope: Scope) -> bool:
        token = self.service.settings.token
        assert token is not None
        given = ""
        for name, value in scope.get("headers", []):
            if name == b"authorization" and value.startswith(b"Bearer "):
                given = value[7:].decode("latin-1")
        if not given and (scope["type"] == "websocket" or scope.get("method") == "GET"):
            given = HTTPConnection(scope).query_params.get("token", "")
        return hmac.compare_digest(given.encode(), token.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] not in ("http", "websocket")
            or self.service.settings.token is None
            or scope["path"].startswith(OPEN_PATHS)
            or self._authorized(scope)
        ):
            await self.app(scope, receive, send)
            return
        self.service.metrics.error("unauthorized")
        message = "missing or wrong token: send 'Authorization: Bearer TOKEN' (or ?token=TOKEN)"
        if scope["type"] == "http":
            await _error(401, message, **{"WWW-Authenticate": "Bearer"})(scope, receive, send)
            return
        socket = WebSocket(scope, receive, send)
        await socket.accept()
        await socket.close(UNAUTHORIZED_CLOSE, message[:120])


async def _body(request: Request, limit: int) -> bytes | None:
    """The request body, or None as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _speak(request: Request) -> bool | None:
    value = request.query_params.get("speak", "true").lower()
    return {"true": True, "1": True, "false": False, "0": False}.get(value)


async def post_turn(request: Request) -> Response:
    """One spoken request answered: the body is a WAV, FLAC or OGG file; the answer is the
    JSON of ``voice-agent run --json``, ``reply_audio`` a URL on this server."""
    service: Service = request.app.state.service
    limits = service.settings
    speak = _speak(request)
    if speak is None:
        service.metrics.error("bad_request")
        return _error(400, f"speak={request.query_params['speak']!r}: use speak=true or false")
    body = await _body(request, limits.max_body_bytes)
    if body is None:
        service.metrics.error("body_too_large")
        return _error(413, f"the body is over {limits.max_body_bytes} bytes; send a shorter file")
    try:
        audio = await asyncio.to_thread(load_audio, body)
    except AudioError as e:
        service.metrics.error("bad_audio")
        return _error(422, f"{e}; send a WAV, FLAC or OGG file as the body")
    if audio.duration > limits.max_audio_seconds:
        service.metrics.error("audio_too_long")
        return _error(
            413,
            f"the audio is {audio.duration:.1f} s, over the limit of "
            f"{limits.max_audio_seconds:g} s; send one request at a time",
        )
    try:
        with service.session("http"):
            agent = service.agent(interactive=False, speak=speak)
            result = await agent.turn(audio)
    except Busy as e:
        return _error(503, str(e), **{"Retry-After": "5"})
    except VoiceAgentError as e:
        service.metrics.error("turn_failed")
        log.error("serve.turn_failed", error=str(e)[:300])
        return _error(500, f"the turn failed: {e}")
    service.metrics.turn("http", result.timings_ms)
    url = service.keep_reply(result.reply_audio) if speak and result.reply_audio else None
    return json_response(turn_dict(agent.session_id, result, url))


async def get_reply(request: Request) -> Response:
    """A kept reply's audio (WAV)."""
    service: Service = request.app.state.service
    wav = service.reply(request.path_params["reply_id"])
    if wav is None:
        return _error(404, "no such reply (replies are kept for the latest turns only)")
    return Response(wav, media_type="audio/wav")


async def console(request: Request) -> Response:
    """The browser console (plain modules, no build step); it opens a session at
    ``/v1/sessions`` with the page's own ``?token=``."""
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def healthz(request: Request) -> Response:
    """Liveness, open to all (no token), telling nothing private."""
    service: Service = request.app.state.service
    return json_response({"status": "ok", "sessions": service.open_sessions})


async def metrics(request: Request) -> Response:
    """Prometheus text."""
    service: Service = request.app.state.service
    return PlainTextResponse(service.metrics.text(), media_type="text/plain; version=0.0.4")


def create_app(service: Service) -> ASGIApp:
    """The server's ASGI app over ``service`` (tools opened at startup, closed at shutdown).

    Raises:
        ConfigError: the settings are unsafe (see :meth:`ServeSettings.check`).
    """
    service.settings.check()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with service.tools:
            yield

    routes = [
        Route("/v1/turns", post_turn, methods=["POST"]),
        Route("/v1/replies/{reply_id:str}.wav", get_reply, methods=["GET"]),
        WebSocketRoute("/v1/sessions", session_socket),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/", console, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.service = service
    return TokenGate(app, service)
