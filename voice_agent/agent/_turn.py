"""`TurnRun`: one turn of a conversation, its state and its steps.

A turn owns what is its own: its id in the history store, its timings, its voice (the
``Speaker``), its clarification counters and the confirmation it answers. The session
(``VoiceAgent``) keeps what outlives a turn: the history, the policies, the question left
pending for the next turn. Everything the turn does is told once, as an event: the history
store and the ``TurnResult`` read the same events the caller receives.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from voice_agent.agent._events import (
    AudioEventsEvent,
    AudioWarningEvent,
    Confirmation,
    EmotionEvent,
    Event,
    MetricsEvent,
    ToolCallEvent,
    ToolResultEvent,
    TranscriptEvent,
    TurnEndEvent,
    TurnStatus,
)
from voice_agent.agent._phrases import Phrases, phrases
from voice_agent.agent._result import CallRecord, TurnResult
from voice_agent.agent._speaker import Speaker
from voice_agent.audio import Audio
from voice_agent.log import get_logger
from voice_agent.models import (
    ConversationalModel,
    EmotionEstimate,
    Message,
    Perception,
    UnderstandingRequest,
    text_language,
)
from voice_agent.policies import PendingConfirmation, ReplyStyle, action, describe
from voice_agent.tools import ArgumentProblem, Tool, ToolCall, ToolCallSplitter, ToolResult

if TYPE_CHECKING:
    from voice_agent.agent._agent import VoiceAgent

__all__ = ["TurnRun"]

log = get_logger(__name__)

_RUNS: tuple[Confirmation, ...] = ("not needed", "confirmed")
"""The decisions under which a call runs."""
REPORT = (
    "The results of the calls just made are in. Tell the user in one short sentence, in the "
    "past tense, what was just done (for this request only) or what went wrong."
)


class TurnRun:
    """One turn: hear, decide what may run, run it, report; every step an event.

    Args:
        agent: the session the turn belongs to.
        result: folded from the events as they are emitted (a caller may pre-fill timings).
        sink: receives every event after the store and the result have read it.
    """

    def __init__(
        self, agent: VoiceAgent, result: TurnResult, sink: Callable[[Event], None]
    ) -> None:
        self.agent, self.result, self._sink = agent, result, sink
        self.turn_id = agent.store.start_turn(agent.session_id) if agent.store else ""
        self.started = time.perf_counter()
        self.timings: dict[str, float] = dict(result.timings_ms)
        self.invalid: dict[str, int] = {}
        """Invalid-argument results per tool in this turn (the clarification policy's count)."""
        self.speaker: Speaker | None = None
        self.confirmed: ToolCall | None = None
        """The call the user said yes to in this turn (the registry's hook lets it run)."""
        self.confirmations: dict[str, Confirmation] = {}
        """What was decided about running each call told so far, by call id."""
        self._asked: str | None = None
        """The confirmation question of the step being run, if one was put."""
        self.language: str | None = None
        """The language the user was heard in (the recognizer's, else the typed text's
        script); our own sentences and the voice follow it."""

    @property
    def phrases(self) -> Phrases:
        """Our sentences in the turn's language."""
        return phrases(self.language)

    def emit(self, event: Event) -> None:
        """Tell an event: the store writes it, the result folds it, then the caller gets it.
        The first tool result's time is kept (``tool_result``: end of speech to an action
        done, the figure a user of an automation feels)."""
        if isinstance(event, ToolResultEvent) and "tool_result" not in self.timings:
            self.timings["tool_result"] = (time.perf_counter() - self.started) * 1000
        if self.agent.store is not None:
            self.agent.store.record(self.agent.session_id, self.turn_id, event)
        self.result.add(event)
        self._sink(event)

    @property
    def voice(self) -> Speaker:
        if self.speaker is None:
            raise RuntimeError("the turn speaks only after it has heard the user")
        return self.speaker

    # --- hearing ---------------------------------------------------------------------------

    async def run(self, audio: Audio | None, text: str | None) -> None:
        """The whole turn, to its end event and metrics."""
        agent = self.agent
        for warning in audio.warnings if audio is not None else ():
            self.emit(AudioWarningEvent(message=warning))
        model = agent.profile.understanding
        perception = await agent._warm_beside(model.perceive(self._perceive_request(audio, text)))
        style = self._heard(perception)
        tts = agent.profile.tts if agent.speak else None
        instruction = dataclasses.replace(style.tts, language=self.language)
        self.speaker = Speaker(tts, instruction, self.emit, style.max_sentences)
        status = await self._answer(model, perception.transcript, style, audio)
        if self.speaker.first_audio_at is not None:
            self.timings["first_audio"] = (self.speaker.first_audio_at - self.started) * 1000
        self.timings["turn"] = (time.perf_counter() - self.started) * 1000
        self.emit(TurnEndEvent(status=status, reply_text=self.speaker.text))
        self.emit(MetricsEvent(timings_ms=dict(self.timings)))

    def _perceive_request(self, audio: Audio | None, text: str | None) -> UnderstandingRequest:
        agent = self.agent
        return UnderstandingRequest(
            audio=audio,
            text=text,
            tools=[t.schema for t in agent.registry],
            asr_hints=agent._asr_hints() if audio is not None else (),
            metadata={"session_id": agent.session_id},
        )

    def _heard(self, perception: Perception) -> ReplyStyle:
        """Tell what was heard and how it sounded; the reply style for it."""
        self.timings.update(perception.timings_ms)
        self.language = perception.language or text_language(perception.transcript)
        policy = self.agent.emotion_policy
        emotion: EmotionEstimate | None = policy.reported(perception.emotion)  # unsure: neutral
        self.emit(TranscriptEvent(text=perception.transcript))
        if emotion is not None:
            self.emit(EmotionEvent(emotion=emotion))
        if perception.events is not None:
            self.emit(AudioEventsEvent(events=perception.events))
        style, decision = policy.decide(emotion, perception.events or ())
        self.emit(decision)
        return style

    async def _answer(
        self,
        model: ConversationalModel,
        transcript: str,
        style: ReplyStyle,
        audio: Audio | None,
    ) -> TurnStatus:
        """Act on what was heard and say the reply to its end; barge-in stops both."""
        history, speaker = self.agent.history, self.voice
        try:
            status: TurnStatus = "not_heard"
            if not transcript.strip():
                speaker.say(self.phrases.not_heard)
            else:
                history.append(Message(role="user", content=transcript))
                system = None if self.agent.scoring else self._style(style)
                status = await self._steps(model, system, audio)
            await speaker.close()
            return status
        except asyncio.CancelledError:
            # Barge-in: stop speaking at once, running tools were cancelled with this task;
            # record the reply as interrupted where it stopped.
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
            speaker.cancel()
            if history and history[-1].role == "assistant":
                history.pop()  # the model wrote more than the user got to hear
            history.append(
                Message(role="assistant", content=f"{speaker.text} [interrupted]".strip())
            )
            return "interrupted"

    @staticmethod
    def _style(style: ReplyStyle) -> str:
        """The reply style as the turn's system text."""
        handover = " Offer to hand over to a person." if style.handover else ""
        return f"When you answer in words: {style.guidance}{handover}"

    # --- deciding and acting ---------------------------------------------------------------

    async def _steps(
        self, model: ConversationalModel, system: str | None, audio: Audio | None
    ) -> TurnStatus:
        """Model steps until the model answers in words, a question is asked, or the steps
        run out; a pending confirmation is answered first."""
        agent = self.agent
        pending, agent.pending = agent.pending, None
        if pending is not None and not await self._answer_confirmation(pending):
            return "refused"
        for step in range(agent.max_steps):
            calls, written = await self._model_step(model, system, audio, step)
            if calls or step == 0:
                # After calls, the spoken report stays out of the model's history: a small
                # model that sees "request → words" in its history stops calling tools.
                agent.history.append(Message(role="assistant", content=written))
            if not calls or agent.scoring:  # scoring: what the model wrote is the answer
                return "answered"
            ended = await self._act(calls)
            if ended is not None:
                return ended
        self.voice.say(self.phrases.gave_up)
        return "gave_up"

    async def _model_step(
        self, model: ConversationalModel, system: str | None, audio: Audio | None, step: int
    ) -> tuple[list[ToolCall], str]:
        """One model step: its words go to the voice as they come, its calls are returned
        with everything it wrote."""
        agent, started = self.agent, time.perf_counter()
        # After tool results the model reports in words: a small model otherwise repeats the
        # call it just made (seen with the 0.5B default). follow_up_calls=True allows chains.
        choice: Literal["auto", "none", "required"] = (
            "auto" if step == 0 or agent.follow_up_calls else "none"
        )
        if step == 0 and agent.commands_only:
            choice = "required"
        request = UnderstandingRequest(
            audio=audio if model.capabilities.audio_in else None,  # else: read the history
            history=list(agent.history),
            system=system,
            tools=[t.schema for t in agent.registry],
            metadata={"session_id": agent.session_id},
            tool_choice=choice,
            instructions=REPORT if step > 0 else None,
            unwanted=None if agent.scoring else self._unwanted(),
        )
        splitter = ToolCallSplitter(known=agent.registry.names)
        pieces: list[str] = []
        calls: list[ToolCall] = []
        async for token in model.respond(request):
            pieces.append(token)
            piece = splitter.feed(token)
            self.voice.feed(piece.text)
            calls += piece.calls
        last = splitter.finish()
        self.voice.feed(last.text)
        self.timings[f"model_step{step}"] = (time.perf_counter() - started) * 1000
        return calls + last.calls, "".join(pieces)

    async def _act(self, calls: list[ToolCall]) -> TurnStatus | None:
        """Run a step's calls and say what came of them; None when the model reports next."""
        speaker = self.voice
        spoken_before, recorded_before = len(speaker.spoken), len(self.result.tool_calls)
        calls, copied = self._without_unsaid(calls)
        question = await self._execute(calls)
        if copied is not None:
            question = question or self._ask_unsaid(*copied)
        reports = self._reports(self.result.tool_calls[recorded_before:])
        if question is None and reports:
            for sentence in reports:  # said by the tools' templates: no report step
                speaker.say(sentence)
            return "answered"
        ran = [c for c in self.result.tool_calls if c.status in ("ran", "failed")]
        if question is None and not ran and len(speaker.spoken) > spoken_before:
            return "refused"  # every call was refused, and that has been said
        if question is not None:
            speaker.say(question)
            self.agent.history.append(Message(role="assistant", content=question))
            return "asked"
        return None

    def _without_unsaid(
        self, calls: list[ToolCall]
    ) -> tuple[list[ToolCall], tuple[ToolCall, ArgumentProblem] | None]:
        """The calls with optional arguments the model copied from a description's example
        (which the user did not say) left out; a call whose required argument is such a copy
        does not run, and is returned with its problem, so the user is asked instead."""
        registry, said = self.agent.registry, self._said()
        kept: list[ToolCall] = []
        copied: tuple[ToolCall, ArgumentProblem] | None = None
        for call in calls:
            call, problems = registry.without_unsaid(call, said)
            if not problems:
                kept.append(call)
            elif copied is None:
                copied = (call, problems[0])
        return kept, copied

    def _said(self) -> str:
        """What the user said that a value may come from: this turn and the one before."""
        return " ".join([m.content for m in self.agent.history if m.role == "user"][-2:])

    def _unwanted(self) -> Callable[[str, Mapping[str, Any]], str | None]:
        """The model's check of each call it writes: a value copied from a description is
        written again before the call is whole (the repair of :meth:`_without_unsaid`, made
        while the model can still do better)."""
        registry, said = self.agent.registry, self._said()
        return lambda name, arguments: registry.copied_argument(name, arguments, said)

    def _ask_unsaid(self, call: ToolCall, problem: ArgumentProblem) -> str | None:
        """Tell a call not run because a required value was a copied example; the question
        that asks the user for it."""
        outcome = ToolResult(
            call_id=call.id,
            name=call.name,
            ok=False,
            error=str(problem),
            kind="invalid_arguments",
            problems=(problem,),
        )
        self._told(call, outcome)
        clarification = self.agent.clarification
        ask, decision = clarification.question(
            outcome, self.agent.registry.get(call.name), clarification.max_invalid, self.language
        )
        self.emit(decision)
        return ask

    def _reports(self, records: list[CallRecord]) -> list[str]:
        """The tools' own sentences for a step whose calls all ran, or [] when any call did
        not run or has no template or short status to say (the model then reports)."""
        sentences = []
        for record in records:
            tool = self.agent.registry.get(record.name)
            said = (
                tool.spoken_report(record.arguments, record.result, self.language) if tool else None
            )
            if record.status != "ran" or said is None:
                return []
            sentences.append(said)
        if sentences and self._foreign(sentences):
            log.info("agent.reported_by_phrase", calls=len(sentences), language=self.language)
            return [self.phrases.done]
        if sentences:
            log.info("agent.reported_by_template", calls=len(sentences))
        return sentences

    def _foreign(self, sentences: list[str]) -> bool:
        """Whether the templates' sentences are not in the turn's language (a tool pack's
        English templates in a Chinese turn), so that our phrase says it instead."""
        if self.language in (None, "en"):
            return False
        return any(text_language(s) != self.language for s in sentences)

    # --- confirmation ----------------------------------------------------------------------

    async def _answer_confirmation(self, pending: PendingConfirmation) -> bool:
        """Read this turn as the answer to the last one's question; run the call on a yes.
        False when it was refused (and that has been said)."""
        history = self.agent.history
        verdict, decision = self.agent.confirmation.answer(pending, history[-1].content)
        self.emit(decision)
        if verdict == "yes":
            self.confirmed = pending.call
            await self._execute([pending.call], confirmed=True)
            return True
        call = pending.call
        refusal = ToolResult(
            call_id=call.id,
            name=call.name,
            ok=False,
            error="the user did not confirm",
            kind="refused",
        )
        self._tell_call(call, "refused")
        self._told(call, refusal, to_model=False)
        self.voice.say(self.phrases.cancelled)
        return False

    async def _confirm(self, call: ToolCall, tool: Tool) -> bool | None:
        """The registry's hook before a risky call runs: yes for the call the user confirmed
        in this turn; any other is asked about (the call left pending for the next turn), or
        refused with the reason said when this run cannot ask. None: the call waits."""
        agent = self.agent
        if self.confirmed is not None and call.id == self.confirmed.id:
            self._tell_call(call, "confirmed")
            return True
        pending, decision = agent.confirmation.ask(
            call, tool, agent.history[-1].content if agent.history else "", self.language
        )
        self._tell_call(call, "ask" if pending is not None else "refused")
        self.emit(decision)
        if pending is None:  # cannot ask: say so plainly, never let the model guess
            self.voice.say(self.phrases.cannot_confirm.format(action=describe(call, tool)))
        elif agent.pending is None:  # one question at a time
            agent.pending, self._asked = pending, pending.question
        return None

    def _tell_call(self, call: ToolCall, confirmation: Confirmation) -> None:
        """Tell that a call is about to run, or will not, and why."""
        self.confirmations[call.id] = confirmation
        self.emit(ToolCallEvent(call=call, confirmation=confirmation))

    # --- running ---------------------------------------------------------------------------

    async def _execute(self, calls: list[ToolCall], *, confirmed: bool = False) -> str | None:
        """Run a step's calls (a risky one only through the registry's confirmation hook);
        returns a question for the user when one must be asked."""
        registry = self.agent.registry
        self._asked = None
        for call in calls:
            tool = registry.get(call.name)
            if tool is None or not tool.confirm:  # a risky call is told by the hook
                self._tell_call(call, "not needed")
        outcomes = await self._run(calls)
        question = self._asked
        for call, outcome in zip(calls, outcomes, strict=True):
            self._told(call, outcome)
            if question is None and not confirmed:  # one question at a time
                question = self._clarify(outcome)
        return question

    async def _run(self, calls: list[ToolCall]) -> list[ToolResult]:
        """The calls run together; said what they do when they are slow; cancelled with the
        turn (barge-in), which is told for each."""
        agent = self.agent
        execution = asyncio.create_task(agent.registry.execute(calls, confirm=self._confirm))
        try:
            if agent.acknowledge_after is not None:
                done, _ = await asyncio.wait({execution}, timeout=agent.acknowledge_after)
                running = [c for c in calls if self.confirmations.get(c.id) in _RUNS]
                if not done and running:
                    self.voice.say(self._acknowledgement(running))
            return await execution
        except asyncio.CancelledError:  # barge-in: the running tools stop too
            execution.cancel()
            await asyncio.gather(execution, return_exceptions=True)
            for call in calls:
                stopped = ToolResult(
                    call_id=call.id,
                    name=call.name,
                    ok=False,
                    error="interrupted by the user",
                    kind="cancelled",
                )
                self._told(call, stopped, to_model=False)
            raise

    def _acknowledgement(self, calls: list[ToolCall]) -> str:
        """What the agent says while slow tools run: their actions, from the calls themselves
        (no model step), so the user hears at once that the request was understood."""
        registry = self.agent.registry
        actions = list(dict.fromkeys(action(c, registry.get(c.name)) for c in calls))
        said = actions[0] if len(actions) == 1 else f"{', '.join(actions[:-1])} and {actions[-1]}"
        return self.phrases.one_moment.format(actions=said)

    def _told(self, call: ToolCall, outcome: ToolResult, *, to_model: bool = True) -> None:
        """Tell what came of a call, and give the model the tool's answer. A risky call the
        registry answered before its hook (bad arguments) is told as a call first."""
        if call.id not in self.confirmations:
            self._tell_call(call, "not needed")
        confirmation = self.confirmations[call.id]
        self.emit(ToolResultEvent(call=call, result=outcome, confirmation=confirmation))
        if to_model:
            self.agent.history.append(
                Message(
                    role="tool", name=call.name, tool_call_id=call.id, content=outcome.to_message()
                )
            )

    def _clarify(self, outcome: ToolResult) -> str | None:
        """A question for the user when a call's arguments were invalid too often, or one is
        missing; None lets the model retry."""
        if outcome.kind != "invalid_arguments":
            return None
        self.invalid[outcome.name] = self.invalid.get(outcome.name, 0) + 1
        ask, decision = self.agent.clarification.question(
            outcome,
            self.agent.registry.get(outcome.name),
            self.invalid[outcome.name],
            self.language,
        )
        self.emit(decision)
        return ask
