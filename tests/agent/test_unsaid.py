"""A value the model copied from a description's example, which the user never said, does not
reach the tool: an optional one is left out (its default applies), a required one is asked for."""

from __future__ import annotations

from voice_agent import ToolRegistry, tool
from voice_agent.agent import VoiceAgent
from voice_agent.models.profiles import Profile
from voice_agent.models.tts import EspeakTTS
from voice_agent.testing import ScriptedUnderstanding


@tool
def set_timer(minutes: int, label: str | None = None) -> str:
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
        time: The time of day, e.g. "6 pm".
    """
    return f"reminder at {time}: {text}"


def agent(reply: str) -> VoiceAgent:
    model = ScriptedUnderstanding(replies=[reply, "Done."])
    profile = Profile(name="scripted", understanding=model, tts=EspeakTTS())
    return VoiceAgent(tools=ToolRegistry([set_timer, set_reminder]), profile=profile, speak=False)


async def test_an_unsaid_optional_example_is_left_out() -> None:
    timer = agent('{"name": "set_timer", "arguments": {"minutes": 5, "label": "pasta"}}')
    result = await timer.turn(text="Timer for five minutes for the eggs.")
    [call] = result.tool_calls
    assert (call.status, call.arguments, call.result) == ("ran", {"minutes": 5}, "timer for 5 min")


async def test_a_said_example_is_kept() -> None:
    timer = agent('{"name": "set_timer", "arguments": {"minutes": 12, "label": "pasta"}}')
    result = await timer.turn(text="A twelve minute timer for the pasta.")
    assert result.tool_calls[0].arguments == {"minutes": 12, "label": "pasta"}


async def test_an_unsaid_required_example_is_asked_for_and_not_run() -> None:
    reminder = agent(
        '{"name": "set_reminder", "arguments": {"text": "water the plants", "time": "6 pm"}}'
    )
    result = await reminder.turn(text="Remind me to call mom at six pm.")
    [call] = result.tool_calls
    assert call.status == "failed" and "description's example" in (call.error or "")
    assert result.reply_text == "What to remind the user of?"
    assert reminder.pending is None  # the next turn is an answer for the model, not a yes/no
