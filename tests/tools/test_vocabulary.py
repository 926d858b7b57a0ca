"""The words a recognizer should expect, read from the tools' own schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from voice_agent.tools import (
    ToolCall,
    ToolRegistry,
    recent_words,
    tool,
    tool_vocabulary,
    unsaid_examples,
)

HOME = Path(__file__).resolve().parents[2] / "examples" / "home" / "tools.py"


def home() -> ToolRegistry:
    registry = ToolRegistry()
    registry.register_path(HOME)
    return registry


def test_the_home_pack_gives_its_names_rooms_and_examples_tool_names_first() -> None:
    words = home().vocabulary()
    names = ["set light", "set thermostat", "add to shopping list", "unlock front door"]
    assert words[:4] == names
    for expected in ("kitchen", "living room", "bedroom", "bathroom", "office", "milk"):
        assert expected in words[4:]
    assert {"brightness", "celsius", "quantity"} <= set(words)
    assert len(words) == len({w.lower() for w in words})  # no phrase twice


def test_examples_literals_and_nested_enums_from_any_schema() -> None:
    schema = {
        "type": "function",
        "function": {
            "name": "bookTable.at-restaurant",
            "description": 'Book a table, e.g. at "Chez Panisse".',
            "parameters": {
                "type": "object",
                "properties": {
                    "time": {"type": "string", "description": "When, for example 7 pm or 19:30."},
                    "party": {
                        "anyOf": [
                            {"type": "string", "enum": ["family", "business"]},
                            {"type": "null"},
                        ]
                    },
                    "guest_name": {"type": "string", "examples": ["Ada Lovelace"]},
                },
            },
        },
    }
    words = tool_vocabulary([schema])
    assert words[0] == "book table at restaurant"
    for expected in ("Chez Panisse", "7 pm", "19:30", "family", "business", "Ada Lovelace"):
        assert expected in words
    assert words.index("Ada Lovelace") < words.index("guest name")


def test_recent_turns_come_after_the_tools_latest_first_without_function_words() -> None:
    words = home().vocabulary(["Add oat milk please", "Which brand of oat milk?"])
    tools = home().vocabulary()
    assert words[: len(tools)] == tools
    assert words[len(tools) :] == ["brand", "oat", "Add"]
    assert recent_words(["one two three four"], limit=2) == ["two", "three"]


@tool
def play_music(artist: str, room: Literal["kitchen", "office"] = "kitchen") -> str:
    """Play music by an artist.

    Args:
        artist: The artist or band to play.
        room: Where to play it.
    """
    return artist


def test_an_argument_that_is_its_parameters_description_is_invalid() -> None:
    registry = ToolRegistry([play_music])
    copied = ToolCall(id="1", name="play_music", arguments={"artist": "the artist or band to play"})
    [problem] = registry.validate(copied)
    assert problem.startswith("arguments.artist:") and "description" in problem
    part = ToolCall(id="3", name="play_music", arguments={"artist": "The artist or band"})
    assert len(registry.validate(part)) == 1  # most of the description is a copy too
    for artist in ("Band of Horses", "The Band", "Artist"):  # a few of its words are not
        call = ToolCall(id="4", name="play_music", arguments={"artist": artist})
        assert registry.validate(call) == [], artist
    assert (
        registry.validate(ToolCall(id="2", name="play_music", arguments={"artist": "ABBA"})) == []
    )


@tool
def set_reminder(text: str, time: str) -> str:
    """Remind the user of something.

    Args:
        text: What to remind the user of.
        time: The time of day, e.g. "6 pm".
    """
    return text


@tool
def set_timer(minutes: int, label: str | None = None) -> str:
    """Start a countdown timer.

    Args:
        minutes: How long, in minutes.
        label: What the timer is for, e.g. "pasta".
    """
    return label or ""


def test_an_example_copied_from_the_description_is_found_unless_the_user_said_it() -> None:
    said_in_words = unsaid_examples(
        set_reminder.parameters, {"text": "call mom", "time": "6 pm"}, "Remind me at six pm"
    )
    assert said_in_words == []  # "six pm" is the "6 pm" of the description, said
    for written in ("at 6pm", "at 6 p.m.", "at 6 PM"):  # how Whisper writes the same words
        assert unsaid_examples(set_reminder.parameters, {"time": "6 pm"}, written) == []
    assert len(unsaid_examples(set_reminder.parameters, {"time": "6 pm"}, "at seven pm")) == 1
    parameters = set_timer.parameters
    copied = unsaid_examples(parameters, {"minutes": 5, "label": "Pasta"}, "Timer for the eggs")
    assert len(copied) == 1 and copied[0].startswith("arguments.label:")
    assert (
        unsaid_examples(parameters, {"minutes": 12, "label": "pasta"}, "a timer for the pasta")
        == []
    )
    assert unsaid_examples(parameters, {"minutes": 5, "label": "eggs"}, "Timer for the eggs") == []


def test_the_copied_argument_of_a_call_is_named_for_a_decoder_to_write_again() -> None:
    """The registry names the first argument a decoder should take back: a description's
    example the user did not say, or the description itself; nothing for what was said, or
    for a tool it does not know."""
    registry = ToolRegistry([set_reminder, set_timer])
    said = "Timer for five minutes for the eggs"
    assert registry.copied_argument("set_timer", {"minutes": 5, "label": "pasta"}, said) == "label"
    assert registry.copied_argument("set_timer", {"minutes": 5, "label": "eggs"}, said) is None
    copy = {"text": "What to remind the user of.", "time": "6 pm"}
    assert registry.copied_argument("set_reminder", copy, "remind me at six pm") == "text"
    assert registry.copied_argument("set_reminder", copy, "remind me") == "text"
    assert registry.copied_argument("no_such_tool", {"label": "pasta"}, said) is None
