"""A call's report said by the tool's own template or status string, without a second model
step; the model still reports what no template covers."""

from __future__ import annotations

import asyncio

import pytest

from voice_agent import ToolRegistry, tool
from voice_agent.agent import VoiceAgent
from voice_agent.errors import ToolDefinitionError
from voice_agent.models.profiles import Profile
from voice_agent.models.tts import EspeakTTS
from voice_agent.testing import ScriptedUnderstanding


@tool(report="The {room} lights are {on}.")
def set_light(room: str, on: bool, brightness: int = 100) -> dict[str, object]:
    """Switch a room's lights."""
    return {"room": room, "on": on}


@tool
def thermostat(celsius: float) -> str:
    """Set the temperature."""
    return f"thermostat set to {celsius:g} degrees"


@tool
def weather() -> dict[str, float]:
    """Today's weather."""
    return {"high": 21.5, "low": 12.0}


def agent(*replies: str) -> tuple[VoiceAgent, ScriptedUnderstanding]:
    model = ScriptedUnderstanding(replies=list(replies))
    profile = Profile(name="scripted", understanding=model, tts=EspeakTTS())
    tools = ToolRegistry([set_light, thermostat, weather])
    return VoiceAgent(tools=tools, profile=profile, speak=False), model


def reports_asked(model: ScriptedUnderstanding) -> list[object]:
    """The model steps that were asked to report results in words."""
    return [r for r in model.requests if r.instructions]


@pytest.mark.parametrize(
    ("call", "said"),
    [
        (
            '{"name": "set_light", "arguments": {"room": "kitchen", "on": true}}',
            "The kitchen lights are on.",
        ),
        ('{"name": "thermostat", "arguments": {"celsius": 21}}', "Thermostat set to 21 degrees."),
        (
            '[{"name": "set_light", "arguments": {"room": "office", "on": false}}, '
            '{"name": "thermostat", "arguments": {"celsius": 19.5}}]',
            "The office lights are off. Thermostat set to 19.5 degrees.",
        ),
    ],
)
async def test_a_template_or_status_string_reports_without_a_second_model_step(
    call: str, said: str
) -> None:
    voice_agent, model = agent(call, "The model's report, never asked for.")
    result = await voice_agent.turn(text="do it")
    assert result.reply_text == said
    assert not reports_asked(model) and "model_step1" not in result.timings_ms


async def test_a_result_no_template_covers_is_reported_by_the_model() -> None:
    voice_agent, model = agent('{"name": "weather", "arguments": {}}', "Mild, up to 21 degrees.")
    result = await voice_agent.turn(text="weather?")
    assert result.reply_text == "Mild, up to 21 degrees."
    assert len(reports_asked(model)) == 1 and "model_step1" in result.timings_ms


async def test_a_failed_call_is_never_reported_by_its_template() -> None:
    voice_agent, _ = agent(
        '{"name": "set_light", "arguments": {"room": "kitchen"}}', "Which state?"
    )
    result = await voice_agent.turn(text="the kitchen lights")
    assert "lights are" not in result.reply_text
    assert result.tool_calls[0].status != "ran"


@pytest.mark.parametrize(
    ("template", "wrong"),
    [("The {colour} lights.", "{colour}"), ("{result.x}", "attribute"), ("{room", "report")],
)
def test_a_template_naming_what_the_tool_has_not_is_refused_at_definition(
    template: str, wrong: str
) -> None:
    with pytest.raises(ToolDefinitionError, match="report template") as refused:

        @tool(report=template)
        def lights(room: str) -> str:
            """Lights."""
            return room

    assert wrong in str(refused.value)


@tool(report="The blinds are {position}.")
async def move_blinds(position: str) -> str:
    """Move the living room blinds."""
    await asyncio.sleep(0.3)
    return "moved"


@tool
async def brew_coffee() -> str:
    """Brew a pot of coffee."""
    await asyncio.sleep(0.3)
    return "brewed"


async def test_slow_calls_are_acknowledged_from_the_calls_before_their_report() -> None:
    model = ScriptedUnderstanding(
        replies=[
            '{"name": "move_blinds", "arguments": {"position": "down"}}\n'
            '{"name": "brew_coffee", "arguments": {}}',
            "Done.",
        ]
    )
    profile = Profile(name="scripted", understanding=model, tts=EspeakTTS())
    tools = ToolRegistry([move_blinds, brew_coffee])
    slow = VoiceAgent(tools=tools, profile=profile, speak=False, acknowledge_after=0.05)
    result = await slow.turn(text="blinds down and make coffee")
    assert result.reply_text.startswith(
        "One moment: I'll move the living room blinds and brew a pot of coffee."
    )


@tool(report={"en": "Added {item}.", "zh": "已经把{item}加到清单里了", "fr": "{item} ajouté"})
def add_item(item: str, urgent: bool = False) -> str:
    """Add to the list."""
    return "ok"


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("zh", "已经把牛奶加到清单里了。"),
        ("en", "Added 牛奶."),
        ("de", "Added 牛奶."),
        (None, "Added 牛奶."),
    ],
)
def test_the_turns_language_picks_the_template(language: str | None, said: str) -> None:
    assert add_item.spoken_report({"item": "牛奶"}, "ok", language) == said


def test_booleans_read_in_the_templates_language_and_a_language_is_needed() -> None:
    @tool(report={"zh": "灯已经{on}了。"})
    def light(on: bool) -> str:
        """Switch the light."""
        return "ok"

    assert light.spoken_report({"on": False}, "ok", "zh") == "灯已经关了。"
    assert light.spoken_report({"on": True}, "ok", "en") == "灯已经开了。"  # its only one
    with pytest.raises(ToolDefinitionError, match=r"names \{room\}"):

        @tool(report={"en": "On.", "zh": "{room}的灯开了"})
        def bad(on: bool) -> str:
            """Switch."""
            return "ok"

    with pytest.raises(ToolDefinitionError, match="language codes as keys"):

        @tool(report={})
        def empty(on: bool) -> str:
            """Switch."""
            return "ok"
