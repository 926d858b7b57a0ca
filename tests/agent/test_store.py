"""The history store on real SQLite files: an audit log that only appends, and turns cut off
by a killed process marked so by the next store that opens the file."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from voice_agent import tool
from voice_agent.agent import HistoryStore, VoiceAgent
from voice_agent.models.profiles import Profile
from voice_agent.models.tts import EspeakTTS
from voice_agent.testing import ScriptedUnderstanding

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
UNLOCK = '<tool_call>{"name": "unlock", "arguments": {"door": "front"}}</tool_call>'


@tool(confirm=True)
def unlock(door: str) -> str:
    """Unlock a door."""
    return f"{door} door unlocked"


async def test_a_confirmed_call_keeps_the_row_that_asked(tmp_path: Path) -> None:
    """The confirmed call was written again under the answering turn with INSERT OR REPLACE,
    and the asking turn lost its record."""
    db = tmp_path / "history.sqlite3"
    model = ScriptedUnderstanding(replies=[UNLOCK, "The front door is unlocked."])
    agent = VoiceAgent(
        tools=[unlock],
        speak=False,
        store=HistoryStore(db),
        profile=Profile(name="s", understanding=model, tts=EspeakTTS()),
    )
    asked = await agent.turn(text="Unlock the front door.")
    assert asked.reply_text.startswith("Do you want me to")
    done = await agent.turn(text="Yes, go ahead.")
    assert [(c.name, c.status) for c in done.tool_calls] == [("unlock", "ran")]

    reopened = HistoryStore(db)
    first, second = reopened.turns(agent.session_id)
    assert [(c["confirmation"], c["status"]) for c in first["tool_calls"]] == [
        ("ask", "needs confirmation")
    ]
    assert [(c["confirmation"], c["status"], c["result"]) for c in second["tool_calls"]] == [
        ("confirmed", "ran", "front door unlocked")
    ]
    events = reopened.call_events(agent.session_id)
    assert [(e["phase"], e["status"]) for e in events] == [
        ("started", "needs confirmation"),
        ("finished", "needs confirmation"),
        ("started", "running"),
        ("finished", "ran"),
    ]
    assert len({e["call_id"] for e in events}) == 1, "one call, four rows"
    with sqlite3.connect(db) as raw:
        for statement in ("UPDATE call_events SET status = 'ran'", "DELETE FROM call_events"):
            with pytest.raises(sqlite3.IntegrityError, match="only appends"):
                raw.execute(statement)


SAME_ID = (
    '<tool_call>{"name": "unlock", "arguments": {"door": "front"}, "id": "call_1"}</tool_call>'
)
"""A model that numbers its calls per reply (OpenAI-style servers do) gives every session the
same call id."""


def _history(db: Path, session: str) -> str:
    """What ``voice-agent history`` prints for a session, one line per call."""
    return subprocess.run(
        [sys.executable, "-m", "voice_agent.cli", "history", "--db", str(db), "--session", session],
        env={**os.environ, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=True,
    ).stdout


def _agent(store: HistoryStore) -> VoiceAgent:
    model = ScriptedUnderstanding(replies=[SAME_ID, "The front door is unlocked."])
    profile = Profile(name="s", understanding=model, tts=EspeakTTS())
    return VoiceAgent(tools=[unlock], speak=False, store=store, profile=profile)


async def test_each_step_of_a_confirmed_call_is_audited_under_its_own_turn(
    tmp_path: Path,
) -> None:
    """Asked in one turn, confirmed in the next: both turns keep their rows with their
    decisions, written by call id and turn id. The finish was written under whichever turn last
    started a call of that id, here another session's, which then showed a result it never had."""
    db = tmp_path / "history.sqlite3"
    store = HistoryStore(db)
    mine, other = _agent(store), _agent(store)
    await mine.turn(text="Unlock the front door.")
    await other.turn(text="Unlock the front door.")  # asks too, with the same call id
    done = await mine.turn(text="Yes, go ahead.")
    assert [(c.name, c.status) for c in done.tool_calls] == [("unlock", "ran")]

    reopened = HistoryStore(db)
    asked, confirmed = reopened.turns(mine.session_id)
    rows = [
        (e["turn_id"], e["phase"], e["confirmation"], e["status"])
        for e in reopened.call_events(mine.session_id)
    ]
    assert rows == [
        (asked["id"], "started", "ask", "needs confirmation"),
        (asked["id"], "finished", "ask", "needs confirmation"),
        (confirmed["id"], "started", "confirmed", "running"),
        (confirmed["id"], "finished", "confirmed", "ran"),
    ]
    assert confirmed["tool_calls"][0]["result"] == "front door unlocked"
    [waiting] = reopened.turns(other.session_id)
    assert [(c["confirmation"], c["status"], c["result"]) for c in waiting["tool_calls"]] == [
        ("ask", "needs confirmation", None)
    ]
    assert [e["phase"] for e in reopened.call_events(other.session_id)] == ["started", "finished"]

    shown = _history(db, mine.session_id)
    assert "→ needs confirmation (asked)" in shown and "→ ran (confirmed)" in shown


async def test_a_refused_call_records_the_refusal_as_its_decision(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "history.sqlite3")
    agent = _agent(store)
    await agent.turn(text="Unlock the front door.")
    refused = await agent.turn(text="No, leave it locked.")
    assert [(c.name, c.status) for c in refused.tool_calls] == [("unlock", "refused")]
    events = store.call_events(agent.session_id)
    assert [(e["phase"], e["confirmation"], e["status"]) for e in events] == [
        ("started", "ask", "needs confirmation"),
        ("finished", "ask", "needs confirmation"),
        ("started", "refused", "refused"),
        ("finished", "refused", "refused"),
    ]


def _process(db: Path, tmp_path: Path) -> subprocess.Popen[str]:
    """Another process that starts a turn and a call, says so, and waits to be killed."""
    script = tmp_path / "turn.py"
    script.write_text(
        textwrap.dedent(f"""
        import sys, time
        from voice_agent.agent import HistoryStore
        store = HistoryStore({str(db)!r})
        session = store.new_session("probe", ["water_garden"])
        turn = store.start_turn(session)
        store.heard(turn, "Water the garden.", None, None)
        store.call_started(turn, session, "call_1", "water_garden", {{"minutes": 5}},
                           "not needed", "running")
        print(session, flush=True)
        time.sleep(120)
        """)
    )
    return subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},  # this checkout's store, not the installed one
    )


def test_a_killed_turn_is_marked_interrupted_and_a_live_one_is_not(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    process = _process(db, tmp_path)
    try:
        assert process.stdout is not None
        session = process.stdout.readline().strip()
        live = HistoryStore(db)
        assert live.interrupted == [], "the other process is still running its turn"
        [turn] = live.turns(session)
        assert turn["status"] == "started" and turn["tool_calls"][0]["status"] == "running"
    finally:
        process.kill()  # SIGKILL: no handler, no cleanup
        process.wait(10)
    store = HistoryStore(db)
    [turn] = store.turns(session)
    assert store.interrupted == [turn["id"]]
    assert turn["status"] == "interrupted" and turn["noticed_at"] is not None
    assert turn["transcript"] == "Water the garden."
    [call] = turn["tool_calls"]
    assert (call["name"], call["arguments"], call["status"]) == (
        "water_garden",
        {"minutes": 5},
        "interrupted",
    )
    assert "may or may not have taken effect" in call["error"]
    assert HistoryStore(db).interrupted == [], "marked once, by the first store to notice"
    phases = [e["phase"] for e in HistoryStore(db).call_events(session)]
    assert phases == ["started", "interrupted"]
    shown = subprocess.run(
        [sys.executable, "-m", "voice_agent.cli", "history", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=True,
    ).stdout
    words = " ".join(w for w in shown.split() if w not in "│┃")  # the table wraps its cells
    assert all(w in words for w in ("(interrupted:", "process", "mid-turn;", "noticed"))
    assert "→ interrupted" in shown


def test_a_database_written_before_the_event_log_is_read_whole(tmp_path: Path) -> None:
    """The one-row-per-call table of older stores (a dump of one the 20b2c0f store wrote) is copied
    into the event log once; an unfinished turn there counts as ended."""
    db = tmp_path / "history.sqlite3"
    with sqlite3.connect(db) as old:
        old.executescript((DATA / "history_store_20b2c0f.sql").read_text())
    session = "27d154ae7373"

    store = HistoryStore(db)
    [saved] = store.turns(session)
    assert saved["status"] == "interrupted"
    assert [(c["id"], c["arguments"], c["status"], c["result"]) for c in saved["tool_calls"]] == [
        ("c1", {"a": 1}, "ran", 2)
    ]
    assert len(HistoryStore(db).call_events(session)) == 2, "copied once"
