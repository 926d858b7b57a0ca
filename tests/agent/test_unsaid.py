"""What the model filled in that the user never said does not reach the tool: a value copied
from a description's example (optional: left out, its default applies; required: asked for),
and an optional number the user did not say (left out, the default applies)."""

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


@tool
def set_light(room: str, on: bool, brightness: int = 100) -> str:
    """Turn the lights in a room on or off.

    Args:
        room: Which room.
        on: True to switch on.
        brightness: Percent brightness when on.
    """
    return f"{room} {on} {brightness}"


def light_agent(reply: str) -> VoiceAgent:
    model = ScriptedUnderstanding(replies=[reply, "Done."])
    profile = Profile(name="scripted", understanding=model, tts=EspeakTTS())
    return VoiceAgent(tools=ToolRegistry([set_light]), profile=profile, speak=False)


async def test_an_unsaid_optional_number_is_left_out() -> None:
    light = light_agent(
        '{"name": "set_light", "arguments": {"room": "bathroom", "on": true, "brightness": 50}}'
    )
    result = await light.turn(text="Lights on in the bathroom, please.")
    [call] = result.tool_calls
    assert (call.arguments, call.result) == ({"room": "bathroom", "on": True}, "bathroom True 100")


async def test_a_said_number_is_kept_in_digits_or_words() -> None:
    for said, value in [
        ("Dim the bathroom lights to 30%.", 30),
        ("Bathroom lights to twenty-five percent.", 25),
        ("Bathroom lights at half brightness.", 50),
    ]:
        light = light_agent(
            '{"name": "set_light", "arguments": {"room": "bathroom", "on": true, '
            f'"brightness": {value}}}}}'
        )
        result = await light.turn(text=said)
        assert result.tool_calls[0].arguments["brightness"] == value, said
