"""`VoiceAgent`: one conversation, turn by turn — hear, decide, act, answer in a fitting voice.

A turn: the audio (or text) is perceived (transcript, emotion); the emotion policy picks the
reply's style; the model's reply streams through the tool layer's splitter, its words going to
the voice sentence by sentence while it is still generating, its calls validated, confirmed
when risky, and executed; results go back to the model until it answers in words (bounded
steps). Every stage is an event; every call is in the audit log before it runs.
"""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from voice_agent.agent._events import AudioChunkEvent, AudioEventsEvent, Event
from voice_agent.agent._listen import Utterance, listen, read_lines
from voice_agent.agent._result import TurnResult
from voice_agent.agent._store import HistoryStore
from voice_agent.agent._turn import TurnRun
from voice_agent.audio import Audio, AudioOutput, AudioStream, load_audio
from voice_agent.errors import ConfigError
from voice_agent.log import get_logger
from voice_agent.models import AudioEvent, Message, VoiceActivityDetector
from voice_agent.models.profiles import Profile, load_profile
from voice_agent.policies import (
    ClarificationPolicy,
    ConfirmationPolicy,
    EmotionPolicy,
    PendingConfirmation,
)
from voice_agent.tools import ToolRegistry

__all__ = ["VoiceAgent"]

log = get_logger(__name__)
T = TypeVar("T")
Automation = Callable[[AudioEvent], object]
"""Called with a heard sound; may return an awaitable (then run as a task of the agent)."""


class VoiceAgent:
    """A spoken conversation with tools.

    Args:
        tools: a :class:`ToolRegistry`, or anything it can register.
        profile: a profile name (``cpu-default``, ``remote:URL``) or a loaded :class:`Profile`.
        emotion_policy: reply styles; the shipped preset by default.
        confirmation: how risky calls are confirmed; ``interactive`` decides the default.
        clarification: when to ask the user for an argument.
        store: where sessions, turns and the audit log go; None keeps nothing on disk.
        interactive: whether a question can be asked and answered (False: risky calls refused).
        speak: render the reply with the voice (False: text only).
        max_steps: model calls per turn (tool results go back to the model in between).
        acknowledge_after: seconds a tool may run before the agent says what it is doing
            ("One moment: I'll start a countdown timer."), built from the calls.
        follow_up_calls: let the model call more tools after seeing results (multi-step
            chains); off by default: the model then reports the results in words.
        commands_only: every request must become a tool call (a voice remote for a device,
            say): the first step is decoded as calls only, never as chat.
        asr_bias: tell the speech recognizer the tools' words and the recent turns' words
            (``ToolRegistry.vocabulary``), which it then hears better; False hears unbiased.
        scoring: the turn as a benchmark scores it: the policies are switched off (no reply
            style in the prompt) and the first model step is the answer, nothing run (its raw
            text is the last history message); evals run their samples this way.
        on_event: called with every event, in order.
    """

    def __init__(
        self,
        *,
        tools: ToolRegistry | Iterable[Any] = (),
        profile: str | Profile = "cpu-default",
        emotion_policy: EmotionPolicy | None = None,
        confirmation: ConfirmationPolicy | None = None,
        clarification: ClarificationPolicy | None = None,
        store: HistoryStore | None = None,
        interactive: bool = True,
        speak: bool = True,
        max_steps: int = 3,
        acknowledge_after: float | None = 1.5,
        follow_up_calls: bool = False,
        commands_only: bool = False,
        asr_bias: bool = True,
        scoring: bool = False,
        on_event: Callable[[Event], None] | None = None,
    ) -> None:
        self.registry = tools if isinstance(tools, ToolRegistry) else ToolRegistry(tools)
        self.profile = load_profile(profile) if isinstance(profile, str) else profile
        self.emotion_policy = emotion_policy or EmotionPolicy.from_yaml()
        self.confirmation = confirmation or ConfirmationPolicy(interactive=interactive)
        self.clarification = clarification or ClarificationPolicy()
        self.store, self.speak, self.max_steps = store, speak, max_steps
        self.acknowledge_after, self.on_event = acknowledge_after, on_event
        self.follow_up_calls, self.commands_only = follow_up_calls, commands_only
        self.asr_bias, self.scoring = asr_bias, scoring
        self.history: list[Message] = []
        self.pending: PendingConfirmation | None = None
        """A risky call asked about in the last turn; the next turn answers it."""
        self._running: set[asyncio.Task[None]] = set()
        self._automations: list[tuple[str, float, Automation]] = []
        self._automating: set[asyncio.Future[object]] = set()
        """Async automations still running (kept here so that none is lost to the GC)."""
        self._started = False
        self.session_id = (
            store.new_session(self.profile.name, self.registry.names)
            if store
            else f"memory-{uuid.uuid4().hex[:12]}"
        )
        """Names the session to the models too: the cascade keeps a speaker's emotion baseline
        under it, so agents sharing a profile's models never share a baseline."""

    async def start(self) -> None:
        """Warm the models up: each backend's own ``warm_up`` (weights, the tools' grammar, the
        cached prompt prefix of system text, tools and shown exchange; the voice). The first
        turn does this itself, beside the speech recognizer, when it was not called."""
        self._started = True
        jobs = [self.profile.understanding.warm_up([t.schema for t in self.registry])]
        if self.speak:
            jobs.append(self.profile.tts.warm_up())
        await asyncio.gather(*jobs)

    async def _warm_beside(self, work: Awaitable[T]) -> T:
        """``work`` (the first turn's hearing) with the models loading beside it; a failed
        load is left to the step that needs the model, which raises it with its own words."""
        if self._started:
            return await work
        warming = asyncio.create_task(self.start())
        try:
            return await work
        finally:
            try:
                await warming
            except Exception as e:
                log.warning("agent.warm_up_failed", error=str(e)[:200])

    def _asr_hints(self) -> list[str]:
        """What the recognizer should expect: the tools' words, then the last two spoken
        messages' (an assistant message that is a call's JSON was never spoken)."""
        if not self.asr_bias:
            return []
        spoken = [
            m.content
            for m in self.history
            if m.role == "user" or (m.role == "assistant" and not m.content.startswith(("{", "[")))
        ]
        return self.registry.vocabulary(spoken[-2:])

    def on_audio_event(self, label: str, callback: Automation, *, min_score: float = 0.0) -> None:
        """Run ``callback`` when a sound is heard in a turn: an automation ("the smoke alarm is
        sounding: notify me").

        Args:
            label: an event label (``smoke_alarm``, ``doorbell``, ``laughter``; see
                ``voice_agent.models.events.GROUPS``) or an AudioSet class name (``Siren``).
            callback: called once per turn in which it was heard, with its strongest event, as
                the turn's ``audio_events`` event is told (before the reply). An async
                callback runs as a task beside the turn; a failure is logged, never raised
                into the turn.
            min_score: the least score that counts.
        """
        self._automations.append((label, min_score, callback))

    def _automate(self, event: AudioEventsEvent) -> None:
        """Call the automations of the sounds an event tells."""
        for label, min_score, callback in self._automations:
            heard = [
                e for e in event.events if label in (e.label, e.audioset) and e.score >= min_score
            ]
            if not heard:
                continue
            try:
                outcome = callback(max(heard, key=lambda e: e.score))
            except Exception:
                log.exception("agent.automation_failed", label=label)
                continue
            if inspect.isawaitable(outcome):
                task = asyncio.ensure_future(outcome)
                self._automating.add(task)
                task.add_done_callback(self._automation_done)

    def _automation_done(self, task: asyncio.Future[object]) -> None:
        self._automating.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("agent.automation_failed", error=repr(task.exception())[:200])

    def interrupt(self) -> bool:
        """Barge-in: cut the current turn short (speech stops, running tools are cancelled,
        the reply is recorded as interrupted). Returns False when no turn was running."""
        if not self._running:
            return False
        for task in self._running:
            task.cancel()
        return True

    async def converse(
        self,
        stream: AudioStream,
        output: AudioOutput,
        *,
        barge_in: bool = True,
        max_turns: int | None = None,
        typed: AsyncIterator[str] | None = None,
        vad: VoiceActivityDetector | None = None,
    ) -> list[TurnResult]:
        """A live conversation: listen to ``stream``, answer each utterance through ``output``.

        With ``barge_in``, speech detected while a turn is running (the model thinking, a tool
        working or the reply playing) stops playback at once and interrupts the turn; the new
        utterance becomes the next turn. Without echo cancellation the agent can hear its own
        voice on loudspeakers: use headphones, or ``barge_in=False``. Lines from ``typed``
        (a console's text box) are turns too, queued with the utterances, and barge in alike.
        ``vad`` cuts the utterances (a new one per conversation; Silero by default).

        Returns:
            The turns, in order, when the stream ends (or after ``max_turns``).

        Raises:
            AudioError: the input stream failed (for instance, the device disappeared); turns
                already taken are in the history store.
        """
        queue: asyncio.Queue[Utterance | BaseException | None] = asyncio.Queue()

        def speech_started() -> None:
            if barge_in and self._running:
                output.stop()
                self.interrupt()

        listener = asyncio.create_task(listen(stream, queue, speech_started, vad))
        reader = asyncio.create_task(read_lines(typed, queue, speech_started))
        results: list[TurnResult] = []
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                results.append(await self._answer_live(item, output))
                if max_turns is not None and len(results) >= max_turns:
                    break
        finally:
            listener.cancel()
            reader.cancel()
            await asyncio.gather(listener, reader, return_exceptions=True)
        return results

    async def _answer_live(self, heard: Utterance, output: AudioOutput) -> TurnResult:
        """One turn of a live conversation, its reply played as it comes (until barge-in)."""
        result = TurnResult(timings_ms={"endpoint": heard.endpoint_ms})
        async for event in self.stream_turn(heard.audio, text=heard.text, result=result):
            if isinstance(event, AudioChunkEvent) and not result.interrupted:
                await output.play(event.audio)
        return result

    async def turn(
        self, audio: Audio | str | Path | bytes | None = None, *, text: str | None = None
    ) -> TurnResult:
        """Run one turn to the end and return everything it produced."""
        result = TurnResult()
        async for _ in self.stream_turn(audio, text=text, result=result):
            pass
        return result

    async def stream_turn(
        self,
        audio: Audio | str | Path | bytes | None = None,
        *,
        text: str | None = None,
        result: TurnResult | None = None,
    ) -> AsyncIterator[Event]:
        """Run one turn, yielding its events as they happen.

        Raises:
            ConfigError: neither audio nor text was given.
            AudioError: the audio cannot be used (empty, not audio, silent, …).
        """
        if audio is None and text is None:
            raise ConfigError("a turn needs audio or text")
        speech = audio if isinstance(audio, Audio) or audio is None else load_audio(audio)
        result = result if result is not None else TurnResult()
        queue: asyncio.Queue[Event | None] = asyncio.Queue()

        def deliver(event: Event) -> None:
            if self.on_event is not None:
                self.on_event(event)
            if isinstance(event, AudioEventsEvent) and self._automations:
                self._automate(event)
            queue.put_nowait(event)

        run = TurnRun(self, result, deliver)

        async def whole_turn() -> None:
            try:
                await run.run(speech, text)
            finally:
                queue.put_nowait(None)

        task = asyncio.create_task(whole_turn())
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        try:
            while (event := await queue.get()) is not None:
                yield event
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # our caller is being cancelled, not just this turn
                result.interrupted = True
        finally:
            if not task.done():
                task.cancel()
