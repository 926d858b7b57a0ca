"""Policies as data and code: styles from emotions, confirmation answers, clarification."""

from __future__ import annotations

from pathlib import Path

import pytest

from voice_agent import ConfigError, ToolCall, tool
from voice_agent.models import EmotionEstimate
from voice_agent.policies import ClarificationPolicy, ConfirmationPolicy, EmotionPolicy
from voice_agent.tools import ToolRegistry


def estimate(label: str, confidence: float = 0.8) -> EmotionEstimate:
    return EmotionEstimate(label=label, confidence=confidence)  # type: ignore[arg-type]


def test_styles_follow_emotion_and_low_confidence_is_neutral() -> None:
    policy = EmotionPolicy.from_yaml()
    sad, decision = policy.decide(estimate("sad"))
    assert decision.decision == "style:sad" and sad.tts.speed < 1.0 and sad.instruct
    neutral, decision = policy.decide(estimate("sad", 0.3))
    assert neutral.label == "neutral" and "below 0.50" in decision.reason
    assert policy.decide(None)[0].label == "neutral"


def test_a_label_under_the_threshold_is_reported_neutral_with_the_estimate_kept(
    tmp_path: Path,
) -> None:
    policy = EmotionPolicy.from_yaml()
    raw = estimate("sad", 0.35)
    reported = policy.reported(raw)
    assert reported == EmotionEstimate(label="neutral", confidence=0.65, raw=raw)
    assert policy.reported(reported) == reported, "reporting twice changes nothing"
    style, decision = policy.decide(reported)
    assert style == policy.decide(raw)[0] == policy.decide(None)[0]
    assert decision.decision == "style:neutral" and "sad at confidence 0.35" in decision.reason
    sure = estimate("sad", 0.6)
    assert policy.reported(sure) is sure and policy.decide(sure)[0].label == "sad"
    for _ in range(3):  # neutral fallbacks never count towards an escalation
        policy.decide(estimate("angry", 0.4))
    assert policy.decide(estimate("angry"))[1].decision == "style:angry"
    preset = tmp_path / "styles.yaml"  # no min_confidence: the shipped preset's one value
    preset.write_text("styles:\n  neutral: {guidance: 'Be terse.'}\n")
    assert EmotionPolicy.from_yaml(preset).min_confidence == policy.min_confidence
    preset.write_text("min_confidence: high\nstyles:\n  neutral: {guidance: 'x'}\n")
    with pytest.raises(ConfigError, match="min_confidence must be a number from 0 to 1"):
        EmotionPolicy.from_yaml(preset)


def test_angry_twice_escalates_to_calm_slow_short_and_handover() -> None:
    policy = EmotionPolicy.from_yaml()
    first, d1 = policy.decide(estimate("angry"))
    second, d2 = policy.decide(estimate("angry", 0.9))
    assert d1.decision == "style:angry" and not first.handover
    assert d2.decision == "escalate:angry" and "2 times" in d2.reason
    assert second.handover and second.tts.speed < first.tts.speed <= 1.0
    assert second.max_sentences == 2 and "calm" in second.guidance.lower()


def test_user_presets_and_bad_presets(tmp_path: Path) -> None:
    preset = tmp_path / "styles.yaml"
    preset.write_text("min_confidence: 0.9\nstyles:\n  neutral: {guidance: 'Be terse.'}\n")
    policy = EmotionPolicy.from_yaml(preset)
    style, decision = policy.decide(estimate("happy", 0.8))
    assert style.guidance == "Be terse." and "below 0.90" in decision.reason
    preset.write_text("styles:\n  grumpy: {guidance: x}\n")
    with pytest.raises(ConfigError, match="unknown emotion 'grumpy'"):
        EmotionPolicy.from_yaml(preset)
    with pytest.raises(ConfigError, match="cannot read"):
        EmotionPolicy.from_yaml(tmp_path / "missing.yaml")


@tool(confirm=True)
def unlock_door(door: str) -> str:
    """Unlock a door of the house."""
    return door


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [
        ("Yes please", "yes"),
        ("yeah go ahead", "yes"),
        ("No, don't", "no"),
        ("hmm, what?", "no"),
        ("cancel that", "no"),
        ("Unlock the back door please", "yes"),
        ("Yes. No, wait.", "no"),
        ("是的", "yes"),
        ("好的，打开吧。", "yes"),
        ("对，开门。", "yes"),
        ("不要", "no"),
        ("不好，算了。", "no"),
        ("嗯？", "no"),
    ],
)
def test_confirmation_answers(answer: str, verdict: str) -> None:
    policy = ConfirmationPolicy()
    call = ToolCall(name="unlock_door", arguments={"door": "back"})
    pending, decision = policy.ask(call, unlock_door, "Unlock the back door please.")
    assert pending is not None and decision.decision == "ask"
    assert (
        pending.question == "Do you want me to unlock a door of the house (door back)? "
        "Please say yes or no."
    )
    assert policy.answer(pending, answer)[0] == verdict
    refused = ConfirmationPolicy(interactive=False).ask(call, unlock_door, "x")
    assert refused[0] is None and refused[1].decision == "refused"


async def test_clarification_asks_for_missing_at_once_and_invalid_after_two() -> None:
    @tool
    def set_timer(minutes: int, label: str) -> str:
        """Start a timer.

        Args:
            minutes: How many minutes to count down.
            label: What the timer is for.
        """
        return label

    policy = ClarificationPolicy()
    # The registry's own results: the policy reads their problems (parameter, expected, got),
    # not the error text the model gets.
    registry = ToolRegistry([set_timer])
    missing = await registry.execute_one(ToolCall(name="set_timer", arguments={"label": "eggs"}))
    assert [(p.path, p.missing) for p in missing.problems] == [(("minutes",), True)]
    question, decision = policy.question(missing, set_timer, 1)
    assert question == "How many minutes to count down?"
    assert decision.decision == "ask_argument"
    wrong = await registry.execute_one(
        ToolCall(name="set_timer", arguments={"minutes": "ten", "label": "eggs"})
    )
    assert [(p.path, p.expected, p.got) for p in wrong.problems] == [
        (("minutes",), "integer", "ten")
    ]
    assert policy.question(wrong, set_timer, 1)[0] is None
    assert policy.question(wrong, set_timer, 2)[1].decision == "ask_argument"
