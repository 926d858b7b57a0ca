"""Sessions, turns and the audit log of every tool call, in SQLite (WAL).

A call is written before it runs and updated after it returns, each in its own committed
statement, so a process killed mid-turn loses nothing already said or done.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

__all__ = ["HistoryStore", "default_db_path"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, started_at REAL NOT NULL, profile TEXT, tools TEXT);
CREATE TABLE IF NOT EXISTS turns (
    id TEXT PRIMARY KEY, session_id TEXT NOT NULL REFERENCES sessions(id), started_at REAL,
    transcript TEXT, emotion TEXT, emotion_confidence REAL, reply_text TEXT,
    status TEXT, timings TEXT);
CREATE TABLE IF NOT EXISTS tool_calls (
    id TEXT PRIMARY KEY, turn_id TEXT NOT NULL REFERENCES turns(id), session_id TEXT,
    name TEXT, arguments TEXT, confirmation TEXT, status TEXT, result TEXT, error TEXT,
    started_at REAL, finished_at REAL, duration_ms REAL);
CREATE INDEX IF NOT EXISTS turns_by_session ON turns(session_id, started_at);
CREATE INDEX IF NOT EXISTS calls_by_turn ON tool_calls(turn_id);
"""


def default_db_path() -> Path:
    """``$VOICE_AGENT_DB``, else ``$XDG_DATA_HOME/voice-agent/history.sqlite3``."""
    if os.environ.get("VOICE_AGENT_DB"):
        return Path(os.environ["VOICE_AGENT_DB"])
    base = os.environ.get("XDG_DATA_HOME", os.path.expanduser("~/.local/share"))
    return Path(base) / "voice-agent" / "history.sqlite3"


class HistoryStore:
    """The agent's durable memory. Thread-safe; every write is committed at once."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else default_db_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the database."""
        self._db.close()

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
        """Record that a turn began; returns its id."""
        turn_id = uuid.uuid4().hex[:12]
        self._write(
            "INSERT INTO turns (id, session_id, started_at, status) VALUES (?, ?, ?, ?)",
            (turn_id, session_id, time.time(), "started"),
        )
        return turn_id

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
        """Record a call before it runs (or that it will not run, and why)."""
        self._write(
            "INSERT OR REPLACE INTO tool_calls (id, turn_id, session_id, name, arguments,"
            " confirmation, status, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
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
        self, call_id: str, status: str, result: Any, error: str | None, duration_ms: float
    ) -> None:
        """Record what a call returned."""
        self._write(
            "UPDATE tool_calls SET status = ?, result = ?, error = ?, finished_at = ?, "
            "duration_ms = ? WHERE id = ?",
            (status, json.dumps(result, default=str), error, time.time(), duration_ms, call_id),
        )

    def finish_turn(
        self, turn_id: str, reply_text: str, status: str, timings: dict[str, float]
    ) -> None:
        """Record the reply and timings."""
        self._write(
            "UPDATE turns SET reply_text = ?, status = ?, timings = ? WHERE id = ?",
            (reply_text, status, json.dumps(timings), turn_id),
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

    def turns(self, session_id: str) -> list[dict[str, Any]]:
        """A session's turns in order, each with its tool calls."""
        with self._lock:
            turns = self._db.execute(
                "SELECT id, started_at, transcript, emotion, emotion_confidence, reply_text, "
                "status, timings FROM turns WHERE session_id = ? ORDER BY started_at",
                (session_id,),
            ).fetchall()
            calls = self._db.execute(
                "SELECT turn_id, id, name, arguments, confirmation, status, result, error, "
                "duration_ms FROM tool_calls WHERE session_id = ? ORDER BY started_at",
                (session_id,),
            ).fetchall()
        by_turn: dict[str, list[dict[str, Any]]] = {}
        for c in calls:
            by_turn.setdefault(c[0], []).append(
                {
                    "id": c[1],
                    "name": c[2],
                    "arguments": json.loads(c[3] or "{}"),
                    "confirmation": c[4],
                    "status": c[5],
                    "result": json.loads(c[6]) if c[6] else None,
                    "error": c[7],
                    "duration_ms": c[8],
                }
            )
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
                "tool_calls": by_turn.get(t[0], []),
            }
            for t in turns
        ]
