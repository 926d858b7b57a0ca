"""`ScriptedUnderstanding`: replays recorded model outputs through the real interface."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Mapping, Sequence
from pathlib import Path
from typing import Any

from voice_agent.errors import ConfigError
from voice_agent.models import (
    AudioEvent,
    EmotionEstimate,
    Perception,
    Understanding,
    UnderstandingCapabilities,
    UnderstandingRequest,
)

__all__ = ["ScriptedUnderstanding"]


class ScriptedUnderstanding:
    """An understanding model that answers from a script: ``understand`` by
    ``metadata["sample_id"]`` (eval runs), ``respond`` with ``replies`` in order (agent turns).

    It checks what a real model would need (audio for speech turns, text otherwise) so that a
    pipeline that forgets to pass the audio fails here too.

    Args:
        outputs: sample id → the raw output to replay.
        default: replayed for ids that are not in the script.
        delay: seconds to wait per turn, to exercise timing and progress code.
        replies: what ``respond`` says, turn by turn.
        emotion: the emotion every turn is perceived with.
        events: the sounds every turn is perceived with (None: no detector listened).
        language: the language every turn is heard in, as a recognizer would detect it.
    """

    name = "scripted"
    capabilities = UnderstandingCapabilities(streaming=True, audio_in=False)

    def __init__(
        self,
        outputs: Mapping[str, str] | None = None,
        *,
        default: str = "",
        delay: float = 0.0,
        replies: Sequence[str] = (),
        emotion: EmotionEstimate | None = None,
        events: Sequence[AudioEvent] | None = None,
        language: str | None = None,
    ) -> None:
        self.outputs, self.default, self.delay = dict(outputs or {}), default, delay
        self.replies = list(replies)
        self.emotion = emotion
        self.events = tuple(events) if events is not None else None
        self.language = language
        self.requests: list[UnderstandingRequest] = []
        self.warmed: list[list[str]] = []
        """The tool names of each ``warm_up``, in order."""

    @classmethod
    def from_file(cls, path: str | Path, **options: float | str) -> ScriptedUnderstanding:
        """Read a JSON Lines script: one ``{"id": ..., "output": ...}`` per line.

        Raises:
            ConfigError: the file is missing or a line is not such an object.
        """
        outputs: dict[str, str] = {}
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as e:
            raise ConfigError(f"cannot read the script {path}: {e.strerror}") from None
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                outputs[str(record["id"])] = str(record["output"])
            except (ValueError, KeyError, TypeError):
                raise ConfigError(
                    f'{path} line {number}: expected {{"id": ..., "output": ...}}'
                ) from None
        return cls(outputs, **options)  # type: ignore[arg-type]

    async def warm_up(self, tools: Sequence[Mapping[str, Any]] = ()) -> None:
        """Nothing to load; the tools offered are recorded."""
        self.warmed.append([str(t.get("name", "")) for t in tools])

    async def perceive(self, request: UnderstandingRequest) -> Perception:
        """The typed text as the transcript (audio turns: the script's ``default``)."""
        self.requests.append(request)
        heard = request.text if request.text is not None else self.default
        return Perception(
            transcript=heard, emotion=self.emotion, events=self.events, language=self.language
        )

    async def respond(self, request: UnderstandingRequest) -> AsyncGenerator[str, None]:
        """The next scripted reply, a few characters at a time like a streaming model."""
        self.requests.append(request)
        reply = self.replies.pop(0) if self.replies else "Okay."
        for start in range(0, len(reply), 7):
            if self.delay:
                await asyncio.sleep(self.delay)
            yield reply[start : start + 7]

    async def understand(self, request: UnderstandingRequest) -> Understanding:
        """Replay the output recorded for this request's sample."""
        if request.audio is None and request.text is None:
            raise ValueError("a turn needs audio or text")
        self.requests.append(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        sample = str(request.metadata.get("sample_id", ""))
        return Understanding(output=self.outputs.get(sample, self.default))
