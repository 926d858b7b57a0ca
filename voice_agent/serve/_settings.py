"""What a server allows: where it listens, who may talk to it, and how much."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from voice_agent.errors import ConfigError

__all__ = ["ServeSettings", "is_loopback"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` is only reachable from this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name or 0.0.0.0-style wildcard: reachable from elsewhere


@dataclass(frozen=True, slots=True, kw_only=True)
class ServeSettings:
    """Limits and safety of one ``voice-agent serve`` process."""

    host: str = "127.0.0.1"
    """Where to listen; anything but loopback needs a token."""
    port: int = 8765
    token: str | None = None
    """Required on every route but ``/healthz`` when set (Bearer header, or ``?token=`` on GET
    requests and WebSockets, which browsers cannot give headers)."""
    max_body_bytes: int = 10_000_000
    """Largest ``POST /v1/turns`` body (413 over it)."""
    max_audio_seconds: float = 30.0
    """Longest posted file (413 over it); a socket's utterances are cut by the agent's
    listener at its own 30 s, whatever this says."""
    max_sessions: int = 4
    """Concurrent sessions, WebSockets and posted turns together (503 or close 1013 over it)."""
    max_frame_bytes: int = 65_536
    """Largest WebSocket frame from a client (close 1009 over it)."""
    allowed_origins: tuple[str, ...] = ()
    """Browser origins besides the server's own that may open a WebSocket."""
    replies_kept: int = 64
    """Reply audio files kept for ``GET /v1/replies/ID.wav``, newest first."""

    def check(self) -> None:
        """Refuse settings that would be unsafe or cannot work.

        Raises:
            ConfigError: a non-loopback host without a token, or a limit that is not positive.
        """
        if not is_loopback(self.host) and not self.token:
            raise ConfigError(
                f"--host {self.host} is reachable from other machines: give --token TOKEN "
                "(or set VOICE_AGENT_TOKEN), or listen on 127.0.0.1"
            )
        limits = {
            "max_body_bytes": self.max_body_bytes,
            "max_audio_seconds": self.max_audio_seconds,
            "max_sessions": self.max_sessions,
            "max_frame_bytes": self.max_frame_bytes,
        }
        for name, value in limits.items():
            if value <= 0:
                raise ConfigError(f"{name} must be positive, not {value}")
