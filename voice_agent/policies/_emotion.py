"""Emotion-aware replies: emotion label + confidence + sounds heard + recent history → style.

Declared as data (a YAML preset shipped in the package, overridable by the user) and usable as
Python. A style carries guidance for the model (how to answer) and a TTS instruction (how to
sound). A label under the preset's ``min_confidence`` is reported as neutral (the estimate kept
as ``raw``) and answered in the neutral style; escalations look at recent turns ("angry twice")
and can offer a handover to a person. Sounds heard in the turn (audio events: laughter,
crying) have styles of their own (the preset's ``events``), which win over the emotion's.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from voice_agent.errors import ConfigError
from voice_agent.models import EMOTIONS, AudioEvent, Emotion, EmotionEstimate, TTSInstruction
from voice_agent.policies._decisions import PolicyDecision

__all__ = ["EmotionPolicy", "ReplyStyle"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyStyle:
    """How to answer this turn."""

    label: Emotion
    """The emotion the style responds to (after the confidence threshold)."""
    guidance: str
    """Added to the model's system prompt."""
    tts: TTSInstruction
    """How the voice should sound."""
    instruct: str
    """CosyVoice instruct text for the same style."""
    max_sentences: int | None = None
    """Reply length cap, spoken sentences."""
    handover: bool = False
    """Offer to hand over to a person."""
    event: str | None = None
    """The audio-event label the style answers (``laughter``), for an event's style."""


def _read_preset(path: str | Path | None, where: str) -> dict[str, Any]:
    """A preset file's mapping (None: the shipped one)."""
    try:
        text = (
            Path(path).read_text(encoding="utf-8")
            if path
            else files("voice_agent.policies").joinpath("presets/default.yaml").read_text()
        )
        data = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"cannot read the emotion preset {where}: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{where} needs a 'styles' mapping")
    return data


def _style(label: Emotion | None, spec: dict[str, Any], where: str) -> ReplyStyle:
    """The style ``spec`` gives; ``label`` None: an event's style, labelled by its emotion."""
    try:
        emotion = spec.get("emotion", "neutral")
        if emotion not in EMOTIONS:
            raise ValueError(f"emotion {emotion!r} is not one of {EMOTIONS}")
        return ReplyStyle(
            label=label or emotion,
            guidance=str(spec["guidance"]),
            tts=TTSInstruction(
                emotion=emotion,
                style=str(spec["instruct"]) if spec.get("instruct") else None,
                speed=float(spec.get("speed", 1.0)),
                volume=float(spec.get("volume", 1.0)),
            ),
            instruct=str(spec.get("instruct", "")),
            max_sentences=spec.get("max_sentences"),
            handover=bool(spec.get("handover", False)),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise ConfigError(f"{where}: style {label or spec!r} is invalid: {e}") from e


def _event_styles(data: dict[str, Any], where: str) -> list[tuple[str, float, ReplyStyle]]:
    """The preset's ``events``: ``(label, min_score, style)`` in the order written."""
    found = []
    for label, spec in (data.get("events") or {}).items():
        if not isinstance(spec, dict):
            raise ConfigError(f"{where}: event {label!r} needs a mapping")
        score = spec.get("min_score", 0.5)
        if not isinstance(score, (int, float)) or not 0 <= score <= 1:
            raise ConfigError(f"{where}: event {label!r}: min_score must be from 0 to 1")
        style = _style(None, spec, where)
        found.append((str(label), float(score), replace(style, event=str(label))))
    return found


class EmotionPolicy:
    """Pick a reply style from the detected emotion and the recent ones.

    Args:
        styles: one style per emotion label (``neutral`` required).
        escalations: ``(label, times, style)``: when ``label`` was detected at least
            ``times`` in the last ``history`` turns, use ``style`` instead.
        min_confidence: below this, the emotion is reported and answered as neutral. No
            default here: the shipped preset holds the one value (:meth:`from_yaml`).
        history: turns remembered for escalations.
        events: ``(label, min_score, style)``: when an audio event of ``label`` was heard at
            ``min_score`` or more, answer in ``style`` (the first that matches, in order).
    """

    def __init__(
        self,
        styles: dict[Emotion, ReplyStyle],
        *,
        escalations: list[tuple[Emotion, int, ReplyStyle]] | None = None,
        min_confidence: float,
        history: int = 3,
        events: list[tuple[str, float, ReplyStyle]] | None = None,
    ) -> None:
        if "neutral" not in styles:
            raise ConfigError("an emotion policy needs a 'neutral' style")
        self.styles, self.escalations = styles, escalations or []
        self.events = events or []
        self.min_confidence = min_confidence
        self.recent: deque[Emotion] = deque(maxlen=history)

    @classmethod
    def from_yaml(cls, path: str | Path | None = None) -> EmotionPolicy:
        """Load a preset; None loads the one shipped with the package.

        A preset without ``min_confidence`` takes the shipped preset's, so that the threshold
        is written down once.

        Raises:
            ConfigError: the file is missing or not a valid preset.
        """
        where = str(path) if path else "the default preset"
        data = _read_preset(path, where)
        if not isinstance(data.get("styles"), dict):
            raise ConfigError(f"{where} needs a 'styles' mapping")
        threshold = (
            data["min_confidence"]
            if "min_confidence" in data
            else _read_preset(None, "the default preset").get("min_confidence")
        )
        if not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
            raise ConfigError(f"{where}: min_confidence must be a number from 0 to 1")
        styles: dict[Emotion, ReplyStyle] = {}
        for label, spec in data["styles"].items():
            if label not in EMOTIONS:
                raise ConfigError(f"{where}: unknown emotion {label!r}; use one of {EMOTIONS}")
            styles[label] = _style(label, spec, where)
        escalations = []
        for spec in data.get("escalations") or []:
            label = spec.get("label")
            if label not in EMOTIONS:
                raise ConfigError(f"{where}: escalation for unknown emotion {label!r}")
            escalations.append((label, int(spec.get("times", 2)), _style(label, spec, where)))
        return cls(
            styles,
            escalations=escalations,
            min_confidence=float(threshold),
            history=int(data.get("history", 3)),
            events=_event_styles(data, where),
        )

    def reported(self, emotion: EmotionEstimate | None) -> EmotionEstimate | None:
        """The emotion as this policy hears it: a label under ``min_confidence`` becomes neutral
        (confidence ``1 - raw``'s, the estimate kept as ``raw``), so that what a turn reports and
        the style it is answered in never disagree."""
        if emotion is None or emotion.label == "neutral" or emotion.raw is not None:
            return emotion
        if emotion.confidence >= self.min_confidence:
            return emotion
        return EmotionEstimate(
            label="neutral",
            confidence=round(1 - emotion.confidence, 3),
            raw=emotion,
            source=emotion.source,
        )

    def heard(self, events: Sequence[AudioEvent]) -> tuple[AudioEvent, ReplyStyle] | None:
        """The first event style (in the preset's order) whose label was heard at its
        ``min_score`` or more, with the strongest such event; None when none was."""
        for label, min_score, style in self.events:
            matching = [e for e in events if e.label == label and e.score >= min_score]
            if matching:
                return max(matching, key=lambda e: e.score), style
        return None

    def decide(
        self, emotion: EmotionEstimate | None, events: Sequence[AudioEvent] = ()
    ) -> tuple[ReplyStyle, PolicyDecision]:
        """The style for this turn and the decision event explaining it (the estimate as
        given or as :meth:`reported` it, and the sounds heard in the turn)."""
        emotion = self.reported(emotion)
        if emotion is None:
            label: Emotion = "neutral"
            reason = "no emotion estimate for this turn"
        elif emotion.raw is not None:
            label = "neutral"
            reason = (
                f"{emotion.raw.label} at confidence {emotion.raw.confidence:.2f} is below "
                f"{self.min_confidence:.2f}: neutral"
            )
        else:
            label = emotion.label
            reason = f"{emotion.label} at confidence {emotion.confidence:.2f}"
        self.recent.append(label)
        for escalated, times, style in self.escalations:
            count = sum(1 for seen in self.recent if seen == escalated)
            if label == escalated and count >= times:
                return style, PolicyDecision(
                    policy="emotion",
                    decision=f"escalate:{escalated}",
                    reason=f"{reason}; {escalated} {count} times in the last "
                    f"{len(self.recent)} turns",
                )
        if (sound := self.heard(events)) is not None:
            event, style = sound
            return style, PolicyDecision(
                policy="emotion",
                decision=f"event:{event.label}",
                reason=f"{event.label} heard ({event.audioset}, score {event.score:.2f}, "
                f"{event.start:.1f}-{event.end:.1f} s); {reason}",
            )
        style = self.styles.get(label) or replace(self.styles["neutral"], label=label)
        return style, PolicyDecision(
            policy="emotion", decision=f"style:{style.label}", reason=reason
        )
