"""Sessions, turns and the audit log of every tool call, in SQLite (WAL).

The audit log (``call_events``) only appends: a call's start (asked for, confirmed, refused,
running) and its end (result, error, interruption) are rows of their own, and triggers refuse
any UPDATE or DELETE of them, so a call confirmed a turn later keeps the row that asked. Each
write is its own committed statement, so a process killed mid-turn loses nothing already said
or done.

A turn records the process that runs it (host, boot, pid and the process's start time, so a
reused pid is not mistaken for it). A store opening the database marks the turns of processes
that are gone, and their unfinished calls, ``interrupted``, noting when; turns of live
processes, another store's included, are left alone.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from voice_agent.agent._events import (
    AudioEventsEvent,
    Confirmation,
    EmotionEvent,
    Event,
    MetricsEvent,
    ToolCallEvent,
    ToolResultEvent,
    TranscriptEvent,
    TurnEndEvent,
)

__all__ = ["HistoryStore", "default_db_path"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, started_at REAL NOT NULL, profile TEXT, tools TEXT);
CREATE TABLE IF NOT EXISTS turns (
    id TEXT PRIMARY KEY, session_id TEXT NOT NULL REFERENCES sessions(id), started_at REAL,
    transcript TEXT, emotion TEXT, emotion_confidence REAL, reply_text TEXT,
    status TEXT, timings TEXT);
CREATE TABLE IF NOT EXISTS call_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, call_id TEXT NOT NULL, turn_id TEXT NOT NULL,
    session_id TEXT, phase TEXT NOT NULL CHECK (phase IN ('started', 'finished', 'interrupted')),
    name TEXT, arguments TEXT, confirmation TEXT, status TEXT, result TEXT, error TEXT,
    at REAL NOT NULL, duration_ms REAL);
CREATE INDEX IF NOT EXISTS turns_by_session ON turns(session_id, started_at);
CREATE INDEX IF NOT EXISTS call_events_by_session ON call_events(session_id, seq);
CREATE INDEX IF NOT EXISTS call_events_by_call ON call_events(call_id, seq);
CREATE TRIGGER IF NOT EXISTS call_events_append_only_update BEFORE UPDATE ON call_events
    BEGIN SELECT RAISE(ABORT, 'the audit log only appends'); END;
CREATE TRIGGER IF NOT EXISTS call_events_append_only_delete BEFORE DELETE ON call_events
    BEGIN SELECT RAISE(ABORT, 'the audit log only appends'); END;
"""
_TURN_COLUMNS = {"owner": "TEXT", "noticed_at": "REAL", "audio_events": "TEXT"}
"""Added to ``turns`` of databases written before turns recorded their process (and the
sounds heard, a JSON list of events)."""
_MIGRATE_TOOL_CALLS = """
INSERT INTO call_events (call_id, turn_id, session_id, phase, name, arguments, confirmation,
    status, at)
    SELECT id, turn_id, session_id, 'started', name, arguments, confirmation, status, started_at
    FROM tool_calls ORDER BY started_at;
INSERT INTO call_events (call_id, turn_id, session_id, phase, name, status, result, error, at,
    duration_ms)
    SELECT id, turn_id, session_id, 'finished', name, status, result, error, finished_at,
    duration_ms FROM tool_calls WHERE finished_at IS NOT NULL ORDER BY finished_at;
"""
"""The one-row-per-call table of older databases, copied (it is kept, never written again)."""
_STARTED: dict[Confirmation, str] = {"ask": "needs confirmation", "refused": "refused"}
"""A started row's status when its call waits for, or was refused, the user's yes."""
INTERRUPTED = "the process ended before this finished; it may or may not have taken effect"


def default_db_path() -> Path:
    """``$VOICE_AGENT_DB``, else ``$XDG_DATA_HOME/voice-agent/history.sqlite3``."""
    if os.environ.get("VOICE_AGENT_DB"):
        return Path(os.environ["VOICE_AGENT_DB"])
    base = os.environ.get("XDG_DATA_HOME", os.path.expanduser("~/.local/share"))
    return Path(base) / "voice-agent" / "history.sqlite3"


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _process_id(pid: int) -> str | None:
    """``host:boot:pid:start`` naming one run of a process, or None when it does not exist.

    The start time (clock ticks after boot, from ``/proc``) tells a live process from a later
    one given the same pid; where ``/proc`` is missing, the pid alone is checked.
    """
    boot = _read("/proc/sys/kernel/random/boot_id").strip()
    stat = _read(f"/proc/{pid}/stat")
    if stat:
        start = stat.rsplit(")", 1)[-1].split()[19]  # field 22; the name may hold spaces
        return f"{socket.gethostname()}:{boot}:{pid}:{start}"
    if boot:  # a Linux system without this pid
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, someone else's
    return f"{socket.gethostname()}::{pid}:"


def _owner_gone(owner: str | None) -> bool:
    """True when the process that ran a turn is certainly no longer running."""
    if owner is None:
        return True  # written before turns named their process: only old, ended runs
    host, _, rest = owner.partition(":")
    if host != socket.gethostname():
        return False  # another machine's process: cannot tell, leave it alone
    pid = rest.split(":")[1]
    return not pid.isdigit() or _process_id(int(pid)) != owner


class HistoryStore:
    """The agent's durable memory. Thread-safe; every write is committed at once."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else default_db_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._lock = threading.Lock()
        self._owner = _process_id(os.getpid())
        self._db.executescript(_SCHEMA)  # idempotent; executescript commits on its own
        with self._transaction():
            self._migrate()
        self.interrupted = self._mark_interrupted()
        """Turns of ended processes this store found unfinished and marked ``interrupted``."""

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db, self._lock)

    def _migrate(self) -> None:
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(turns)")}
        for name, kind in _TURN_COLUMNS.items():
            if name not in columns:
                self._db.execute(f"ALTER TABLE turns ADD COLUMN {name} {kind}")
        if self._db.execute("PRAGMA user_version").fetchone()[0] < 1:
            legacy = self._db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tool_calls'"
            ).fetchone()
            if legacy:
                for statement in _MIGRATE_TOOL_CALLS.split(";")[:2]:
                    self._db.execute(statement)
            self._db.execute("PRAGMA user_version = 1")

    def _mark_interrupted(self) -> list[str]:
        now = time.time()
        with self._transaction():
            rows = self._db.execute(
                "SELECT id, owner FROM turns WHERE status = 'started'"
            ).fetchall()
            gone = [turn_id for turn_id, owner in rows if _owner_gone(owner)]
            for turn_id in gone:
                self._db.execute(
                    "UPDATE turns SET status = 'interrupted', noticed_at = ? WHERE id = ?",
                    (now, turn_id),
                )
                self._db.execute(
                    "INSERT INTO call_events (call_id, turn_id, session_id, phase, name, status,"
                    " error, at) SELECT e.call_id, e.turn_id, e.session_id, 'interrupted', e.name,"
                    " 'interrupted', ?, ? FROM call_events e WHERE e.turn_id = ? AND e.phase ="
                    " 'started' AND NOT EXISTS (SELECT 1 FROM call_events f WHERE f.call_id ="
                    " e.call_id AND f.seq > e.seq)",
                    (INTERRUPTED, now, turn_id),
                )
        return gone

    def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        with self._lock:
            self._db.execute(sql, params)

    def new_session(self, profile: str, tools: list[str]) -> str:
        """Start a session; returns its id."""
        session_id = uuid.uuid4().hex[:12]
        self._write(
            "INSERT INTO sessions VALUES (?, ?, ?, ?)",
            (session_id, time.time(), profile, json.dumps(tools)),
        )
        return session_id

    def start_turn(self, session_id: str) -> str:
        """Record that a turn began, and which process runs it; returns its id."""
        turn_id = uuid.uuid4().hex[:12]
        self._write(
            "INSERT INTO turns (id, session_id, started_at, status, owner) VALUES (?, ?, ?, ?, ?)",
            (turn_id, session_id, time.time(), "started", self._owner),
        )
        return turn_id

    def record(self, session_id: str, turn_id: str, event: Event) -> None:
        """Write what an event of a turn tells: what was heard, each step of a call (a row of
        its own, by call id and turn id), how the turn ended and its timings."""
        match event:
            case TranscriptEvent(text=text):
                self.heard(turn_id, text, None, None)
            case EmotionEvent(emotion=emotion):
                self._write(
                    "UPDATE turns SET emotion = ?, emotion_confidence = ? WHERE id = ?",
                    (emotion.label, emotion.confidence, turn_id),
                )
            case AudioEventsEvent(events=events):
                heard = [dataclasses.asdict(e) for e in events]
                self._write(
                    "UPDATE turns SET audio_events = ? WHERE id = ?", (json.dumps(heard), turn_id)
                )
            case ToolCallEvent(call=call, confirmation=confirmation):
                status = _STARTED.get(confirmation, "running")
                self.call_started(
                    turn_id, session_id, call.id, call.name, dict(call.arguments), confirmation,
                    status,
                )  # fmt: skip
            case ToolResultEvent(call=call, result=result, confirmation=confirmation):
                self.call_finished(
                    turn_id, session_id, call.id, call.name, confirmation=confirmation,
                    status=event.status, result=result.value, error=result.error,
                    duration_ms=result.duration_ms,
                )  # fmt: skip
            case TurnEndEvent(status=status, reply_text=text):
                self._write(
                    "UPDATE turns SET reply_text = ?, status = ? WHERE id = ?",
                    (text, status, turn_id),
                )
            case MetricsEvent(timings_ms=timings):
                self._write(
                    "UPDATE turns SET timings = ? WHERE id = ?", (json.dumps(timings), turn_id)
                )

    def heard(
        self, turn_id: str, transcript: str, emotion: str | None, confidence: float | None
    ) -> None:
        """Record what the user said, as soon as it is known."""
        self._write(
            "UPDATE turns SET transcript = ?, emotion = ?, emotion_confidence = ? WHERE id = ?",
            (transcript, emotion, confidence, turn_id),
        )

    def call_started(
        self,
        turn_id: str,
        session_id: str,
        call_id: str,
        name: str,
        arguments: dict[str, Any],
        confirmation: str,
        status: str,
    ) -> None:
        """Append that a call is about to run (or that it will not run, and why)."""
        self._write(
            "INSERT INTO call_events (call_id, turn_id, session_id, phase, name, arguments,"
            " confirmation, status, at) VALUES (?, ?, ?, 'started', ?, ?, ?, ?, ?)",
            (
                call_id,
                turn_id,
                session_id,
                name,
                json.dumps(arguments, default=str),
                confirmation,
                status,
                time.time(),
            ),
        )

    def call_finished(
        self,
        turn_id: str,
        session_id: str,
        call_id: str,
        name: str,
        *,
        confirmation: str,
        status: str,
        result: Any,
        error: str | None,
        duration_ms: float,
    ) -> None:
        """Append what came of a call, under the turn that ran (or declined) it: a model may
        give calls of other turns and sessions the same id, so the id alone names no row."""
        self._write(
            "INSERT INTO call_events (call_id, turn_id, session_id, phase, name, confirmation,"
            " status, result, error, at, duration_ms)"
            " VALUES (?, ?, ?, 'finished', ?, ?, ?, ?, ?, ?, ?)",
            (
                call_id,
                turn_id,
                session_id,
                name,
                confirmation,
                status,
                json.dumps(result, default=str),
                error,
                time.time(),
                duration_ms,
            ),
        )

    def sessions(self, limit: int = 20) -> list[dict[str, Any]]:
        """Most recent sessions first, with their turn counts."""
        with self._lock:
            rows = self._db.execute(
                "SELECT s.id, s.started_at, s.profile, COUNT(t.id) FROM sessions s LEFT JOIN "
                "turns t ON t.session_id = s.id GROUP BY s.id ORDER BY s.started_at DESC "
                "LIMIT ?",
                (limit,),
            ).fetchall()
        return [{"id": r[0], "started_at": r[1], "profile": r[2], "turns": r[3]} for r in rows]

    def call_events(self, session_id: str) -> list[dict[str, Any]]:
        """A session's audit log as written: one dict per row, in order."""
        with self._lock:
            cursor = self._db.execute(
                "SELECT * FROM call_events WHERE session_id = ? ORDER BY seq", (session_id,)
            )
            names = [c[0] for c in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def turns(self, session_id: str) -> list[dict[str, Any]]:
        """A session's turns in order, each with its tool calls.

        A call is told by the turn that started it: one started in a turn and confirmed in the
        next appears in both, asking in the first and running in the second.
        """
        with self._lock:
            turns = self._db.execute(
                "SELECT id, started_at, transcript, emotion, emotion_confidence, reply_text, "
                "status, timings, noticed_at, audio_events FROM turns WHERE session_id = ? "
                "ORDER BY started_at",
                (session_id,),
            ).fetchall()
        by_turn = _calls_by_turn(self.call_events(session_id))
        return [
            {
                "id": t[0],
                "started_at": t[1],
                "transcript": t[2],
                "emotion": t[3],
                "emotion_confidence": t[4],
                "reply_text": t[5],
                "status": t[6],
                "timings_ms": json.loads(t[7]) if t[7] else {},
                "noticed_at": t[8],
                "audio_events": json.loads(t[9]) if t[9] else None,
                "tool_calls": by_turn.get(t[0], []),
            }
            for t in turns
        ]


def _calls_by_turn(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Audit rows → one record per start of a call, under the turn that started it, with what
    came of it (the rows after it for that call in that turn)."""
    by_turn: dict[str, list[dict[str, Any]]] = {}
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for event in events:
        if event["phase"] == "started":
            started = {
                "id": event["call_id"],
                "name": event["name"],
                "arguments": json.loads(event["arguments"] or "{}"),
                "confirmation": event["confirmation"],
                "status": event["status"],
                "result": None,
                "error": None,
                "duration_ms": None,
                "noticed_at": None,
            }
            latest[event["turn_id"], event["call_id"]] = started
            by_turn.setdefault(event["turn_id"], []).append(started)
        elif (record := latest.get((event["turn_id"], event["call_id"]))) is not None:
            record["status"], record["error"] = event["status"], event["error"]
            record["result"] = json.loads(event["result"]) if event["result"] else None
            record["duration_ms"] = event["duration_ms"]
            if event["phase"] == "interrupted":
                record["noticed_at"] = event["at"]
    return by_turn


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` under the store's lock (rolled back on error), so two
    stores opening one database do not both mark the same turn."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock) -> None:
        self._db, self._lock = db, lock

    def __enter__(self) -> None:
        self._lock.acquire()
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *_: object) -> None:
        try:
            self._db.execute("ROLLBACK" if kind else "COMMIT")
        finally:
            self._lock.release()
