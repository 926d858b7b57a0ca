"""``GET /v1/sessions``: a live conversation over a WebSocket (docs/serve.md).

The client streams 16 kHz mono PCM16 in binary frames; the agent listens through its own
``converse`` (VAD endpointing, barge-in, confirmation across turns), and every event it emits
goes back as a JSON text frame; reply audio goes as a JSON ``audio_chunk`` frame followed by
one binary frame of PCM16. A ``{"type": "text", "text": ...}`` frame is a typed turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt
from starlette.websockets import WebSocket, WebSocketDisconnect

from voice_agent.agent import Event, MetricsEvent
from voice_agent.audio import MODEL_RATE, Audio, AudioError
from voice_agent.log import get_logger
from voice_agent.serve._json import audio_announcement, event_dict
from voice_agent.serve._service import Busy, Service

__all__ = ["session_socket"]

log = get_logger(__name__)
ORIGIN_CLOSE = 4403
TRY_LATER_CLOSE = 1013
FAILED_CLOSE = 1011

Outgoing = dict[str, Any] | bytes | None


class SocketStream:
    """The client's audio as an :class:`AudioStream` (float32 at 16 kHz), until it ends."""

    def __init__(self) -> None:
        self._chunks: asyncio.Queue[npt.NDArray[np.float32] | None] = asyncio.Queue()

    def push(self, pcm16: bytes) -> None:
        """Add a binary frame's samples."""
        samples = np.frombuffer(pcm16, dtype="<i2").astype(np.float32) / 32768.0
        self._chunks.put_nowait(samples)

    def end(self) -> None:
        """No more audio: the conversation ends after the turn in progress."""
        self._chunks.put_nowait(None)

    async def chunks(self) -> AsyncIterator[npt.NDArray[np.float32]]:
        """The samples as they arrive."""
        while (chunk := await self._chunks.get()) is not None:
            yield chunk


class SocketOutput:
    """Reply audio to the client as an :class:`AudioOutput`, paced at the speed it plays so
    that the turn lasts while the client hears it (barge-in then interrupts it there)."""

    def __init__(self, out: asyncio.Queue[Outgoing]) -> None:
        self.out, self.index = out, 0

    async def play(self, audio: Audio) -> None:
        """Announce the chunk, send its PCM16, wait as long as it plays."""
        pcm = (np.clip(audio.samples, -1, 1) * 32767).astype("<i2").tobytes()
        self.out.put_nowait(audio_announcement(audio, self.index))
        self.out.put_nowait(pcm)
        self.index += 1
        await asyncio.sleep(audio.duration)

    def stop(self) -> None:
        """Barge-in: tell the client to drop what it has not played yet."""
        self.out.put_nowait({"type": "playback_stopped"})


def origin_allowed(socket: WebSocket, allowed: tuple[str, ...]) -> bool:
    """No Origin (not a browser), the server's own, or one allowed by ``--allow-origin``."""
    origin = socket.headers.get("origin")
    if origin is None or origin in allowed:
        return True
    return urlsplit(origin).netloc == socket.headers.get("host", "")


async def session_socket(socket: WebSocket) -> None:
    """One conversation: refused with 4403 (origin) or 1013 (full) before anything else."""
    service: Service = socket.app.state.service
    if not origin_allowed(socket, service.settings.allowed_origins):
        service.metrics.error("origin_refused")
        await socket.accept()
        await socket.close(ORIGIN_CLOSE, "this Origin may not open sessions (--allow-origin)")
        return
    try:
        with service.session("websocket"):
            await socket.accept()
            await _converse(socket, service)
    except Busy as e:
        await socket.accept()
        await socket.close(TRY_LATER_CLOSE, str(e)[:120])


async def _send(socket: WebSocket, out: asyncio.Queue[Outgoing]) -> None:
    """Send frames in order until the ``None`` that ends the session (or the client goes)."""
    while (frame := await out.get()) is not None:
        try:
            if isinstance(frame, bytes):
                await socket.send_bytes(frame)
            else:
                await socket.send_text(json.dumps(frame, default=str, ensure_ascii=False))
        except (WebSocketDisconnect, RuntimeError, OSError):
            return


async def _converse(socket: WebSocket, service: Service) -> None:
    speak = socket.query_params.get("speak", "true").lower() not in ("false", "0")
    agent = service.agent(interactive=True, speak=speak)
    out: asyncio.Queue[Outgoing] = asyncio.Queue()
    typed: asyncio.Queue[str | None] = asyncio.Queue()
    stream = SocketStream()

    def forward(event: Event) -> None:
        if event.type == "audio_chunk":
            return  # SocketOutput announces and sends it when it plays
        if isinstance(event, MetricsEvent):
            service.metrics.turn("websocket", event.timings_ms)
        out.put_nowait(event_dict(event))

    async def lines() -> AsyncIterator[str]:
        while (line := await typed.get()) is not None:
            yield line

    agent.on_event = forward
    out.put_nowait(
        {
            "type": "session",
            "session_id": agent.session_id,
            "format": "pcm_s16le",
            "sample_rate": MODEL_RATE,
            "channels": 1,
        }
    )
    sender = asyncio.create_task(_send(socket, out))
    talk = asyncio.create_task(agent.converse(stream, SocketOutput(out), typed=lines()))
    receiver = asyncio.create_task(_receive(socket, service, stream, typed, out))
    try:
        await asyncio.wait({talk, receiver}, return_when=asyncio.FIRST_COMPLETED)
        if receiver.done():
            await receiver  # a client gone re-raises here; {"type": "end"} returns
            stream.end()  # the turn in progress is finished and answered
            await asyncio.wait({talk})
        _failed(talk, service, out, agent.session_id)
    except (WebSocketDisconnect, AudioError) as e:
        log.info("serve.session_ended", session_id=agent.session_id, reason=type(e).__name__)
    finally:
        receiver.cancel()
        talk.cancel()  # a client gone mid-turn: cancelled as in barge-in, recorded as such
        await asyncio.gather(talk, receiver, return_exceptions=True)
        out.put_nowait(None)
        await sender
        if not talk.cancelled() and talk.exception() is not None:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):  # closed first
                await socket.close(FAILED_CLOSE, "the conversation failed; see the error frame")


def _failed(
    talk: asyncio.Task[Any], service: Service, out: asyncio.Queue[Outgoing], session_id: str
) -> None:
    """A conversation that ended with an exception (a model backend gave up): say so in an
    ``error`` frame, and the session closes with 1011."""
    error = talk.exception() if talk.done() else None
    if error is None:
        return
    service.metrics.error("session_failed")
    log.error("serve.session_failed", session_id=session_id, error=str(error)[:300])
    message = f"the conversation failed: {error}; its turns so far are in the history"
    out.put_nowait({"type": "error", "kind": "session_failed", "message": message})


async def _receive(
    socket: WebSocket,
    service: Service,
    stream: SocketStream,
    typed: asyncio.Queue[str | None],
    out: asyncio.Queue[Outgoing],
) -> None:
    """Read the client's frames until it sends ``{"type": "end"}``; a bad frame gets an
    ``error`` frame naming what was wrong, and the session goes on."""

    def refuse(kind: str, message: str) -> None:
        service.metrics.error(kind)
        out.put_nowait({"type": "error", "kind": kind, "message": message})

    while True:
        message = await socket.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        if (data := message.get("bytes")) is not None:
            if len(data) % 2:
                refuse("bad_frame", "a binary frame is 16 kHz mono PCM16: an even byte count")
            else:
                stream.push(data)
            continue
        try:
            frame = json.loads(message.get("text") or "")
        except ValueError:
            refuse("bad_frame", 'a text frame must be JSON, e.g. {"type": "text", "text": "hi"}')
            continue
        kind = frame.get("type") if isinstance(frame, dict) else None
        if kind == "end":
            return
        if kind == "text" and isinstance(frame.get("text"), str) and frame["text"].strip():
            typed.put_nowait(frame["text"])
        else:
            refuse("bad_frame", 'known frames: {"type": "text", "text": "..."}, {"type": "end"}')
