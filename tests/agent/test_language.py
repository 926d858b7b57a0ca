"""Our own sentences follow the language the user was heard in; the voice follows the text."""

from __future__ import annotations

from pathlib import Path

import pytest

from voice_agent import ToolRegistry, tool
from voice_agent.agent import VoiceAgent
from voice_agent.agent._phrases import CHINESE, ENGLISH
from voice_agent.models import TTSInstruction
from voice_agent.models.profiles import Profile
from voice_agent.models.tts import EspeakTTS, LanguageTTS
from voice_agent.testing import ScriptedUnderstanding

HOME = Path(__file__).resolve().parents[2] / "examples" / "home"
KITCHEN = '{"name": "set_light", "arguments": {"room": "kitchen", "on": true}}'


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ToolRegistry:
    monkeypatch.setenv("VOICE_AGENT_HOME_DB", str(tmp_path / "home.sqlite3"))
    registry = ToolRegistry()
    registry.register_path(HOME / "tools.py")
    return registry


def _agent(tools: ToolRegistry, **script: object) -> VoiceAgent:
    model = ScriptedUnderstanding(**script)  # type: ignore[arg-type]
    profile = Profile(name="scripted", understanding=model, tts=EspeakTTS())
    return VoiceAgent(tools=tools, profile=profile, speak=False, interactive=False)


async def test_a_chinese_request_hears_the_tools_chinese_template(home: ToolRegistry) -> None:
    result = await _agent(home, replies=[KITCHEN]).turn(
        text=(HOME / "requests_zh.txt").read_text().strip()
    )
    assert [c.status for c in result.tool_calls] == ["ran"]
    assert result.reply_text == "灯已经开了。"  # the pack's zh template, a boolean read 开


async def test_a_chinese_request_hears_our_report_where_a_tool_has_only_english(
    home: ToolRegistry,
) -> None:
    english_only = ToolRegistry([t for t in home if t.name != "set_light"])

    @tool(report="The {room} lights are {on}.")
    def set_light(room: str, on: bool) -> str:
        """Switch a room's lights."""
        return "ok"

    english_only.register(set_light)
    result = await _agent(english_only, replies=[KITCHEN]).turn(text="把厨房的灯打开。")
    assert result.reply_text == CHINESE.done


async def test_an_english_request_keeps_the_tools_template(home: ToolRegistry) -> None:
    result = await _agent(home, replies=[KITCHEN]).turn(text="Turn on the kitchen lights.")
    assert result.reply_text == "The kitchen lights are on."


async def test_not_heard_and_cannot_confirm_are_said_in_the_heard_language(
    home: ToolRegistry,
) -> None:
    silent = _agent(home, language="zh", default="")
    assert (await silent.turn(text="")).reply_text == CHINESE.not_heard
    unlock = '{"name": "unlock_front_door", "arguments": {}}'
    risky = await _agent(home, replies=[unlock]).turn(text="把前门打开。")  # nobody to ask
    assert [c.name for c in risky.tool_calls] == ["unlock_front_door"]
    assert risky.reply_text.startswith(CHINESE.cannot_confirm)
    assert (await _agent(home, default="").turn(text="")).reply_text == ENGLISH.not_heard


def test_the_voice_follows_the_text_and_the_turn_language_for_bare_digits() -> None:
    english, mandarin = EspeakTTS(), EspeakTTS(voice="cmn")
    voices = LanguageTTS({"zh": mandarin}, english)
    assert voices.voice_for("好的，已经办好了。") is mandarin
    assert voices.voice_for("21.", TTSInstruction(language="zh").language) is mandarin
    assert voices.voice_for("21.") is english
    assert voices.voice_for("The kitchen lights are on.", "zh") is english


async def test_a_risky_chinese_request_is_asked_in_chinese_and_a_chinese_yes_runs_it(
    home: ToolRegistry,
) -> None:
    unlock = '{"name": "unlock_front_door", "arguments": {}}'
    model = ScriptedUnderstanding(replies=[unlock])
    profile = Profile(name="scripted", understanding=model, tts=EspeakTTS())
    agent = VoiceAgent(tools=home, profile=profile, speak=False)
    asked = await agent.turn(text="把前门打开。")
    assert "要我继续吗" in asked.reply_text and agent.pending is not None
    done = await agent.turn(text="是的。")
    assert [c.status for c in done.tool_calls] == ["ran"]


async def test_a_missing_argument_is_asked_for_in_chinese() -> None:
    from voice_agent import tool

    @tool
    def set_timer(minutes: int) -> str:
        """设置一个倒计时。

        Args:
            minutes: 倒计时的分钟数。
        """
        return f"{minutes} min"

    agent = _agent(ToolRegistry([set_timer]), replies=['{"name": "set_timer", "arguments": {}}'])
    result = await agent.turn(text="帮我设一个计时器。")
    assert result.reply_text == "请告诉我倒计时的分钟数，好吗？"
