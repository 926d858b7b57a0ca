"""What every request and session of one server shares: the tools, the loaded models, the
history store, the metrics, the replies kept for download and the count of open sessions.

Models are loaded once per process and shared by every session; each session is a
:class:`VoiceAgent` of its own (history, pending confirmation, emotion baseline). The LLM
generates for one turn at a time (its backend holds a lock around the context), so turns of
concurrent sessions queue for it in arrival order while their speech recognition, tools and
voice run beside each other.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from voice_agent.agent import HistoryStore, VoiceAgent
from voice_agent.audio import Audio
from voice_agent.log import get_logger
from voice_agent.models.profiles import Profile
from voice_agent.serve._metrics import Metrics
from voice_agent.serve._settings import ServeSettings
from voice_agent.tools import ToolRegistry

__all__ = ["Busy", "Service"]

log = get_logger(__name__)


class Busy(Exception):
    """The server has as many sessions open as it allows."""


class Service:
    """The shared state of one server (see the module docstring).

    Args:
        tools: the tools every session offers.
        profile: the loaded models, shared by all sessions.
        store: history and audit log of every session; None keeps nothing on disk.
        settings: limits and safety.
    """

    def __init__(
        self,
        *,
        tools: ToolRegistry,
        profile: Profile,
        store: HistoryStore | None,
        settings: ServeSettings,
    ) -> None:
        self.tools, self.profile, self.store, self.settings = tools, profile, store, settings
        self.metrics = Metrics()
        self.open_sessions = 0
        self._replies: OrderedDict[str, bytes] = OrderedDict()

    def agent(self, *, interactive: bool, speak: bool) -> VoiceAgent:
        """A new session over the shared tools and models."""
        return VoiceAgent(
            tools=self.tools,
            profile=self.profile,
            store=self.store,
            interactive=interactive,
            speak=speak,
        )

    @contextmanager
    def session(self, transport: str) -> Iterator[None]:
        """Hold one of the server's session places while the block runs.

        Raises:
            Busy: all places are taken.
        """
        if self.open_sessions >= self.settings.max_sessions:
            self.metrics.error("too_many_sessions")
            raise Busy(
                f"the server has {self.open_sessions} sessions open, its limit "
                f"(--max-sessions {self.settings.max_sessions}); try again later"
            )
        self.open_sessions += 1
        self.metrics.sessions_active.inc()
        self.metrics.sessions.labels(transport).inc()
        try:
            yield
        finally:
            self.open_sessions -= 1
            self.metrics.sessions_active.dec()

    def keep_reply(self, audio: Audio) -> str:
        """Keep a reply's audio for download; returns its path on the server. The oldest
        replies are dropped past ``replies_kept``."""
        reply_id = uuid.uuid4().hex
        self._replies[reply_id] = audio.to_wav_bytes()
        while len(self._replies) > self.settings.replies_kept:
            self._replies.popitem(last=False)
        return f"/v1/replies/{reply_id}.wav"

    def reply(self, reply_id: str) -> bytes | None:
        """A kept reply's WAV bytes, or None when unknown or dropped."""
        return self._replies.get(reply_id)
