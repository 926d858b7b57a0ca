"""Prometheus metrics of one server, in a registry of its own (no process-wide state: two apps
in one process, as in the tests, count apart)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["Metrics"]

_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120)


class Metrics:
    """Per-turn latencies by stage, sessions open and opened, turns and errors by kind."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.stage_seconds = Histogram(
            "voice_agent_turn_stage_seconds",
            "Time of each stage of a turn (the turn's timings_ms), seconds.",
            ["stage"],
            registry=self.registry,
            buckets=_BUCKETS,
        )
        self.turns = Counter(
            "voice_agent_turns", "Turns answered.", ["transport"], registry=self.registry
        )
        self.sessions_active = Gauge(
            "voice_agent_sessions_active", "Sessions open now.", registry=self.registry
        )
        self.sessions = Counter(
            "voice_agent_sessions", "Sessions opened.", ["transport"], registry=self.registry
        )
        self.errors = Counter(
            "voice_agent_errors",
            "Requests and frames refused or failed, by kind.",
            ["kind"],
            registry=self.registry,
        )

    def turn(self, transport: str, timings_ms: dict[str, float]) -> None:
        """Count a finished turn and observe each of its stage timings."""
        self.turns.labels(transport).inc()
        for stage, ms in timings_ms.items():
            self.stage_seconds.labels(stage).observe(ms / 1000)

    def error(self, kind: str) -> None:
        """Count one refusal or failure (``unauthorized``, ``body_too_large``, …)."""
        self.errors.labels(kind).inc()

    def text(self) -> bytes:
        """The exposition format ``GET /metrics`` answers with."""
        return generate_latest(self.registry)
