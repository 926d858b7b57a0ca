"""A small home-automation tool pack with real state in SQLite.

Point ``VOICE_AGENT_HOME_DB`` at a file to keep the state somewhere else (the default is
``home.sqlite3`` in the current directory).
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from typing import Annotated, Literal

from pydantic import Field

from voice_agent import tool

Room = Literal["kitchen", "living room", "bedroom", "bathroom", "office"]


def _db() -> sqlite3.Connection:
    conn = sqlite3.connect(os.environ.get("VOICE_AGENT_HOME_DB", "home.sqlite3"))
    conn.execute(
        "CREATE TABLE IF NOT EXISTS lights (room TEXT PRIMARY KEY, on_ INTEGER, brightness INTEGER)"
    )
    conn.execute(
        "CREATE TABLE IF NOT EXISTS thermostat (id INTEGER PRIMARY KEY CHECK (id = 1), "
        "celsius REAL)"
    )
    conn.execute("CREATE TABLE IF NOT EXISTS shopping (item TEXT PRIMARY KEY, quantity INTEGER)")
    return conn


@tool(report={"en": "The {room} lights are {on}.", "zh": "灯已经{on}了。"})
def set_light(
    room: Room,
    on: bool,
    brightness: Annotated[int, Field(ge=0, le=100)] = 100,
) -> dict[str, object]:
    """Turn the lights in a room on or off, optionally dimmed.

    Args:
        room: Which room.
        on: True to switch on, False to switch off.
        brightness: Percent brightness when on.
    """
    with closing(_db()) as db, db:
        db.execute(
            "INSERT OR REPLACE INTO lights VALUES (?, ?, ?)",
            (room, int(on), brightness if on else 0),
        )
    return {"room": room, "on": on, "brightness": brightness if on else 0}


@tool
def set_thermostat(celsius: Annotated[float, Field(ge=10, le=30)]) -> str:
    """Set the home's target temperature.

    Args:
        celsius: Target temperature in degrees Celsius.
    """
    with closing(_db()) as db, db:
        db.execute("INSERT OR REPLACE INTO thermostat VALUES (1, ?)", (celsius,))
    return f"thermostat set to {celsius:g} degrees"


@tool(report={"en": "Added {item} to the shopping list.", "zh": "已经把{item}加到购物清单里了。"})
def add_to_shopping_list(item: str, quantity: Annotated[int, Field(ge=1)] = 1) -> list[str]:
    """Add an item to the shopping list and return the whole list.

    Args:
        item: What to buy, e.g. "milk".
        quantity: How many.
    """
    with closing(_db()) as db, db:
        db.execute(
            "INSERT INTO shopping VALUES (?, ?) ON CONFLICT(item) DO UPDATE SET "
            "quantity = quantity + excluded.quantity",
            (item.lower(), quantity),
        )
        rows = db.execute("SELECT item, quantity FROM shopping ORDER BY item").fetchall()
    return [f"{q} × {i}" for i, q in rows]


@tool(confirm=True)
def unlock_front_door() -> str:
    """Unlock the front door."""
    return "front door unlocked"
