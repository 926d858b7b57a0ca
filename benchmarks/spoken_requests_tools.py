"""Three more home tools for the spoken-requests benchmark: times, names, free text.

``examples/home/tools.py`` (lights, thermostat, shopping list, front door) has no time and no
name to hear; a voice agent's users ask for timers, reminders and music as often as for
lights. The handlers only echo what they were given: the benchmark checks the arguments.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from voice_agent import tool

Room = Literal["kitchen", "living room", "bedroom", "bathroom", "office"]


@tool
def set_timer(minutes: Annotated[int, Field(ge=1, le=600)], label: str | None = None) -> str:
    """Start a countdown timer.

    Args:
        minutes: How long, in minutes.
        label: What the timer is for, e.g. "pasta".
    """
    return f"timer for {minutes} min" + (f" ({label})" if label else "")


@tool
def set_reminder(text: str, time: str) -> str:
    """Remind the user of something at a time of day.

    Args:
        text: What to remind the user of, e.g. "water the plants".
        time: The time of day, e.g. "6 pm" or "7:30 am".
    """
    return f"reminder at {time}: {text}"


@tool
def play_music(artist: str, room: Room = "living room") -> str:
    """Play music by an artist or band.

    Args:
        artist: The artist or band to play.
        room: Where to play it.
    """
    return f"playing {artist} in the {room}"
