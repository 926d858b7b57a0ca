"""`VoiceAgent`: one conversation, turn by turn — hear, decide, act, answer in a fitting voice.

A turn: the audio (or text) is perceived (transcript, emotion); the emotion policy picks the
reply's style; the model's reply streams through the tool layer's splitter, its words going to
the voice sentence by sentence while it is still generating, its calls validated, confirmed
when risky, and executed; results go back to the model until it answers in words (bounded
steps). Every stage is an event; every call is in the audit log before it runs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from voice_agent.agent._events import (
    AudioChunkEvent,
    AudioWarningEvent,
    CallStatus,
    EmotionEvent,
    Event,
    MetricsEvent,
    ToolCallEvent,
    ToolResultEvent,
    TranscriptEvent,
)
from voice_agent.agent._listen import utterances
from voice_agent.agent._speaker import Speaker
from voice_agent.agent._store import HistoryStore
from voice_agent.audio import Audio, AudioOutput, AudioStream, load_audio
from voice_agent.errors import ConfigError
from voice_agent.log import get_logger
from voice_agent.models import (
    ConversationalModel,
    EmotionEstimate,
    Message,
    UnderstandingRequest,
)
from voice_agent.models.profiles import Profile, load_profile
from voice_agent.policies import (
    ClarificationPolicy,
    ConfirmationPolicy,
    EmotionPolicy,
    PendingConfirmation,
    PolicyDecision,
    action,
    describe,
)
from voice_agent.tools import Tool, ToolCall, ToolCallSplitter, ToolRegistry, ToolResult

__all__ = ["CallRecord", "TurnResult", "VoiceAgent"]

log = get_logger(__name__)
T = TypeVar("T")

NOT_HEARD = "Sorry, I did not catch that. Could you say it again?"
CANCELLED = "Okay, I won't do that."
GAVE_UP = "Sorry, I could not finish that."
REPORT = (
    "The results of the calls just made are in. Tell the user in one short sentence, in the "
    "past tense, what was just done (for this request only) or what went wrong."
)


@dataclass(slots=True, kw_only=True)
class CallRecord:
    """A call of the turn and what came of it."""

    call_id: str
    name: str
    arguments: dict[str, Any]
    status: CallStatus
    result: Any = None
    error: str | None = None


@dataclass(slots=True, kw_only=True)
class TurnResult:
    """Everything one turn produced."""

    transcript: str = ""
    emotion: EmotionEstimate | None = None
    tool_calls: list[CallRecord] = field(default_factory=list)
    reply_text: str = ""
    reply_audio: Audio | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    decisions: list[PolicyDecision] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    interrupted: bool = False
    """The user spoke over the reply (barge-in) and the turn was cut short."""


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
        self.asr_bias = asr_bias
        self.history: list[Message] = []
        self.pending: PendingConfirmation | None = None
        self._current: asyncio.Task[None] | None = None
        self._started = False
        self.session_id = (
            store.new_session(self.profile.name, self.registry.names) if store else "memory"
        )

    async def start(self) -> None:
        """Warm the models up (loads weights, brings the system + tools prefix into the
        context, opens the voice). The first turn does this itself, beside the speech
        recognizer, when it was not called."""
        self._started = True
        llm = getattr(self.profile.understanding, "llm", None)
        load_voice = getattr(self.profile.tts, "load", None) if self.speak else None
        jobs = []
        if llm is not None and hasattr(llm, "warm_up"):
            jobs.append(llm.warm_up([t.schema for t in self.registry]))
        if callable(load_voice):
            jobs.append(asyncio.to_thread(load_voice))
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

    def interrupt(self) -> bool:
        """Barge-in: cut the current turn short (speech stops, running tools are cancelled,
        the reply is recorded as interrupted). Returns False when no turn was running."""
        if self._current is None or self._current.done():
            return False
        self._current.cancel()
        return True

    async def converse(
        self,
        stream: AudioStream,
        output: AudioOutput,
        *,
        barge_in: bool = True,
        max_turns: int | None = None,
    ) -> list[TurnResult]:
        """A live conversation: listen to ``stream``, answer each utterance through ``output``.

        With ``barge_in``, speech detected while a turn is running (the model thinking, a tool
        working or the reply playing) stops playback at once and interrupts the turn; the new
        utterance becomes the next turn. Without echo cancellation the agent can hear its own
        voice on loudspeakers: use headphones, or ``barge_in=False``.

        Returns:
            The turns, in order, when the stream ends (or after ``max_turns``).

        Raises:
            AudioError: the input stream failed (for instance, the device disappeared); turns
                already taken are in the history store.
        """
        queue: asyncio.Queue[tuple[Audio, float] | BaseException | None] = asyncio.Queue()

        def speech_started() -> None:
            if barge_in and self._current is not None and not self._current.done():
                output.stop()
                self.interrupt()

        delay = [0.0]

        async def listen() -> None:
            try:
                async for utterance in utterances(
                    stream, on_speech_start=speech_started, endpoint_delays=delay
                ):
                    queue.put_nowait((utterance, delay[0]))
            except Exception as e:  # handed to the conversation loop, which raises it
                queue.put_nowait(e)
            finally:
                queue.put_nowait(None)

        listener = asyncio.create_task(listen())
        results: list[TurnResult] = []
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                utterance, endpoint_ms = item
                result = TurnResult(timings_ms={"endpoint": endpoint_ms})
                async for event in self.stream_turn(utterance, result=result):
                    if isinstance(event, AudioChunkEvent) and not result.interrupted:
                        await output.play(event.audio)
                results.append(result)
                if max_turns is not None and len(results) >= max_turns:
                    break
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
        return results

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

        def emit(event: Event) -> None:
            result.events.append(event)
            if isinstance(event, PolicyDecision):
                result.decisions.append(event)
            if self.on_event is not None:
                self.on_event(event)
            queue.put_nowait(event)

        async def run() -> None:
            try:
                await self._turn(speech, text, result, emit)
            finally:
                queue.put_nowait(None)

        task = asyncio.create_task(run())
        self._current = task
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

    async def _turn(
        self,
        audio: Audio | None,
        text: str | None,
        result: TurnResult,
        emit: Callable[[Event], None],
    ) -> None:
        start = time.perf_counter()
        turn_id = self.store.start_turn(self.session_id) if self.store else ""
        for warning in audio.warnings if audio is not None else ():
            emit(AudioWarningEvent(message=warning))
        model = self.profile.understanding
        metadata = {"session_id": self.session_id}
        if not isinstance(model, ConversationalModel):
            raise ConfigError(f"{model.name} cannot be driven turn by turn by the agent")
        perception = await self._warm_beside(
            model.perceive(
                UnderstandingRequest(
                    audio=audio,
                    text=text,
                    tools=[t.schema for t in self.registry],
                    asr_hints=self._asr_hints() if audio is not None else (),
                    metadata=metadata,
                )
            )
        )
        result.timings_ms.update(perception.timings_ms)
        emotion = self.emotion_policy.reported(perception.emotion)  # under threshold: neutral
        result.transcript, result.emotion = perception.transcript, emotion
        emit(TranscriptEvent(text=perception.transcript))
        if emotion is not None:
            emit(EmotionEvent(emotion=emotion))
        if self.store:
            label = emotion.label if emotion else None
            confidence = emotion.confidence if emotion else None
            self.store.heard(turn_id, perception.transcript, label, confidence)
        style, decision = self.emotion_policy.decide(emotion)
        emit(decision)
        speaker = Speaker(
            self.profile.tts if self.speak else None, style.tts, emit, style.max_sentences
        )
        status = "answered"
        try:
            if not perception.transcript.strip():
                speaker.say(NOT_HEARD)
                status = "not_heard"
            else:
                self.history.append(Message(role="user", content=perception.transcript))
                system = f"When you answer in words: {style.guidance}" + (
                    " Offer to hand over to a person." if style.handover else ""
                )
                status = await self._steps(
                    model, system, metadata, turn_id, result, speaker, emit, audio
                )
            await speaker.close()
        except asyncio.CancelledError:
            # Barge-in: stop speaking at once, running tools were cancelled with this task;
            # record the reply as interrupted where it stopped.
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
            speaker.cancel()
            result.interrupted = True
            status = "interrupted"
            if self.history and self.history[-1].role == "assistant":
                self.history.pop()  # the model wrote more than the user got to hear
            self.history.append(
                Message(role="assistant", content=f"{speaker.text} [interrupted]".strip())
            )
        result.reply_text = speaker.text
        result.reply_audio = speaker.audio
        if speaker.first_audio_at is not None:
            result.timings_ms["first_audio"] = (speaker.first_audio_at - start) * 1000
        result.timings_ms["turn"] = (time.perf_counter() - start) * 1000
        emit(MetricsEvent(timings_ms=dict(result.timings_ms)))
        if self.store:
            self.store.finish_turn(turn_id, result.reply_text, status, result.timings_ms)

    async def _steps(
        self,
        model: ConversationalModel,
        system: str,
        metadata: dict[str, Any],
        turn_id: str,
        result: TurnResult,
        speaker: Speaker,
        emit: Callable[[Event], None],
        audio: Audio | None = None,
    ) -> str:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            verdict, decision = self.confirmation.answer(pending, self.history[-1].content)
            emit(decision)
            if verdict == "no":
                self._record(
                    pending.call,
                    "refused",
                    None,
                    "the user did not confirm",
                    turn_id,
                    result,
                    emit,
                    store_start="refused",
                )
                speaker.say(CANCELLED)
                return "refused"
            await self._execute([pending.call], turn_id, result, speaker, emit, confirmed=True)
        invalid: dict[str, int] = {}
        for step in range(self.max_steps):
            started = time.perf_counter()
            # After tool results the model reports in words: a small model otherwise repeats
            # the call it just made (seen with the 0.5B default). follow_up_calls=True allows
            # chains of calls instead.
            choice: Literal["auto", "none", "required"] = (
                "auto" if step == 0 or self.follow_up_calls else "none"
            )
            if step == 0 and self.commands_only:
                choice = "required"
            request = UnderstandingRequest(
                audio=audio,  # a speech-native model hears the user; a cascade reads the history
                history=list(self.history),
                system=system,
                tools=[t.schema for t in self.registry],
                metadata=metadata,
                tool_choice=choice,
                instructions=REPORT if step > 0 else None,
            )
            splitter = ToolCallSplitter(known=self.registry.names)
            pieces: list[str] = []
            calls: list[ToolCall] = []
            async for token in model.respond(request):
                pieces.append(token)
                piece = splitter.feed(token)
                speaker.feed(piece.text)
                calls += piece.calls
            last = splitter.finish()
            speaker.feed(last.text)
            calls += last.calls
            result.timings_ms[f"model_step{step}"] = (time.perf_counter() - started) * 1000
            if not calls:
                if step == 0:
                    self.history.append(Message(role="assistant", content="".join(pieces)))
                # After calls, the spoken report stays out of the model's history: a small
                # model that sees "request → words" in its history stops calling tools.
                return "answered"
            self.history.append(Message(role="assistant", content="".join(pieces)))
            spoken_before, recorded_before = len(speaker.spoken), len(result.tool_calls)
            calls, copied = self._without_unsaid_examples(calls)
            question = await self._execute(calls, turn_id, result, speaker, emit, invalid=invalid)
            if copied is not None:
                question = question or self._ask_unsaid(*copied, turn_id, result, emit)
            reports = self._reports(result.tool_calls[recorded_before:])
            if question is None and reports:
                for sentence in reports:  # said by the tools' templates: no report step
                    speaker.say(sentence)
                return "answered"
            ran = [c for c in result.tool_calls if c.status in ("ran", "failed")]
            if question is None and not ran and len(speaker.spoken) > spoken_before:
                return "refused"  # every call was refused, and that has been said
            if question is not None:
                speaker.say(question)
                self.history.append(Message(role="assistant", content=question))
                return "asked"
        speaker.say(GAVE_UP)
        return "gave_up"

    def _without_unsaid_examples(
        self, calls: list[ToolCall]
    ) -> tuple[list[ToolCall], tuple[ToolCall, str] | None]:
        """The calls with optional arguments the model copied from a description's example
        (which the user did not say) left out; a call whose required argument is such a copy
        does not run, and is returned with its problem, so the user is asked instead."""
        said = " ".join([m.content for m in self.history if m.role == "user"][-2:])
        kept: list[ToolCall] = []
        copied: tuple[ToolCall, str] | None = None
        for call in calls:
            call, problems = self.registry.without_unsaid_examples(call, said)
            if not problems:
                kept.append(call)
            elif copied is None:
                copied = (call, problems[0])
        return kept, copied

    def _ask_unsaid(
        self,
        call: ToolCall,
        problem: str,
        turn_id: str,
        result: TurnResult,
        emit: Callable[[Event], None],
    ) -> str | None:
        """Record a call not run because a required value was a copied example; the question
        that asks the user for it."""
        emit(ToolCallEvent(call_id=call.id, name=call.name, arguments=dict(call.arguments)))
        self._record(call, "failed", None, problem, turn_id, result, emit, store_start="not needed")
        outcome = ToolResult(
            call_id=call.id, name=call.name, ok=False, error=problem, kind="invalid_arguments"
        )
        self.history.append(
            Message(role="tool", name=call.name, tool_call_id=call.id, content=outcome.to_message())
        )
        ask, decision = self.clarification.question(
            outcome, self.registry.get(call.name), self.clarification.max_invalid
        )
        emit(decision)
        return ask

    def _reports(self, records: list[CallRecord]) -> list[str]:
        """The tools' own sentences for a step whose calls all ran, or [] when any call did
        not run or has no template or short status to say (the model then reports)."""
        sentences = []
        for record in records:
            tool = self.registry.get(record.name)
            said = tool.spoken_report(record.arguments, record.result) if tool else None
            if record.status != "ran" or said is None:
                return []
            sentences.append(said)
        if sentences:
            log.info("agent.reported_by_template", calls=len(sentences))
        return sentences

    def _acknowledgement(self, calls: list[ToolCall]) -> str:
        """What the agent says while slow tools run: their actions, from the calls themselves
        (no model step), so the user hears at once that the request was understood."""
        actions = list(dict.fromkeys(action(c, self.registry.get(c.name)) for c in calls))
        said = actions[0] if len(actions) == 1 else f"{', '.join(actions[:-1])} and {actions[-1]}"
        return f"One moment: I'll {said}."

    async def _execute(
        self,
        calls: list[ToolCall],
        turn_id: str,
        result: TurnResult,
        speaker: Speaker,
        emit: Callable[[Event], None],
        *,
        confirmed: bool = False,
        invalid: dict[str, int] | None = None,
    ) -> str | None:
        """Run a step's calls; returns a question for the user when one must be asked."""
        runnable: list[ToolCall] = []
        question: str | None = None
        for call in calls:
            emit(ToolCallEvent(call_id=call.id, name=call.name, arguments=dict(call.arguments)))
            tool = self.registry.get(call.name)
            if tool is not None and tool.confirm and not confirmed:
                pending, decision = self.confirmation.ask(
                    call, tool, self.history[-1].content if self.history else ""
                )
                emit(decision)
                self._record(
                    call,
                    "needs confirmation",
                    None,
                    decision.reason,
                    turn_id,
                    result,
                    emit,
                    store_start=decision.decision,
                )
                if pending is not None and question is None:
                    self.pending, question = pending, pending.question
                elif pending is None:  # cannot ask: say so plainly, never let the model guess
                    speaker.say(
                        f"I did not {describe(call, tool)}: it needs your confirmation, "
                        "and I cannot ask for it here."
                    )
                self.history.append(
                    Message(
                        role="tool",
                        name=call.name,
                        tool_call_id=call.id,
                        content=f"not run: {decision.reason}",
                    )
                )
                continue
            runnable.append(call)
        if not runnable:
            return question
        for call in runnable:
            if self.store:
                self.store.call_started(
                    turn_id,
                    self.session_id,
                    call.id,
                    call.name,
                    dict(call.arguments),
                    "confirmed" if confirmed else "not needed",
                    "running",
                )
        execution = asyncio.create_task(
            self.registry.execute(runnable, confirm=_yes if confirmed else None)
        )
        try:
            if self.acknowledge_after is not None:
                done, _ = await asyncio.wait({execution}, timeout=self.acknowledge_after)
                if not done:
                    speaker.say(self._acknowledgement(runnable))
            outcomes = await execution
        except asyncio.CancelledError:  # barge-in: the running tools stop too
            execution.cancel()
            await asyncio.gather(execution, return_exceptions=True)
            for call in runnable:
                self._record(
                    call,
                    "cancelled",
                    None,
                    "interrupted by the user",
                    turn_id,
                    result,
                    emit,
                    confirmation="confirmed" if confirmed else "not needed",
                )
            raise
        for call, outcome in zip(runnable, outcomes, strict=True):
            status: CallStatus = "ran" if outcome.ok else "failed"
            self._record(
                call,
                status,
                outcome.value,
                outcome.error,
                turn_id,
                result,
                emit,
                confirmation="confirmed" if confirmed else "not needed",
                duration_ms=outcome.duration_ms,
            )
            self.history.append(
                Message(
                    role="tool", name=call.name, tool_call_id=call.id, content=outcome.to_message()
                )
            )
            if outcome.kind == "invalid_arguments" and invalid is not None and question is None:
                invalid[call.name] = invalid.get(call.name, 0) + 1
                ask, decision = self.clarification.question(
                    outcome, self.registry.get(call.name), invalid[call.name]
                )
                emit(decision)
                question = ask
        return question

    def _record(
        self,
        call: ToolCall,
        status: CallStatus,
        value: Any,
        error: str | None,
        turn_id: str,
        result: TurnResult,
        emit: Callable[[Event], None],
        *,
        store_start: str | None = None,
        confirmation: str = "not needed",
        duration_ms: float = 0.0,
    ) -> None:
        if self.store:
            if store_start is not None:
                confirmation = store_start
                self.store.call_started(
                    turn_id,
                    self.session_id,
                    call.id,
                    call.name,
                    dict(call.arguments),
                    confirmation,
                    status,
                )
            self.store.call_finished(
                turn_id,
                self.session_id,
                call.id,
                call.name,
                confirmation=confirmation,
                status=status,
                result=value,
                error=error,
                duration_ms=duration_ms,
            )
        result.tool_calls.append(
            CallRecord(
                call_id=call.id,
                name=call.name,
                arguments=dict(call.arguments),
                status=status,
                result=value,
                error=error,
            )
        )
        emit(
            ToolResultEvent(
                call_id=call.id,
                name=call.name,
                status=status,
                ok=status == "ran",
                value=value,
                error=error,
                duration_ms=duration_ms,
            )
        )


async def _yes(call: ToolCall, tool: Tool) -> bool:
    """The user already said yes to this call."""
    return True
