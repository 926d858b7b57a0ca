"""Listening to a live stream: utterances cut out by an endpointer over any voice activity
detector's probabilities (Silero unless the caller gives another)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import numpy as np

from voice_agent.audio import MODEL_RATE, Audio, AudioStream
from voice_agent.models import VoiceActivityDetector
from voice_agent.models.vad import Endpointer, SileroVAD

__all__ = ["Utterance", "listen", "read_lines", "utterances"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Utterance:
    """One turn's input from a live conversation: speech cut out of the stream, or a line
    typed beside it."""

    audio: Audio | None = None
    text: str | None = None
    endpoint_ms: float
    """How long after the speech ended the end of the turn was decided (0 when it was cut
    at the length limit or by the end of the stream)."""


class _Cutter:
    """Frames in, utterances out: pre-roll before the detected start, cut at the end or the
    length limit."""

    def __init__(self, vad: VoiceActivityDetector, pre_roll_ms: float, max_seconds: float):
        self.vad = vad
        self.vad.reset()
        self.window = self.vad.window_samples
        self.endpointer = Endpointer(vad.settings, self.window / MODEL_RATE)
        self.pre_roll: deque[np.ndarray] = deque(
            maxlen=max(1, int(pre_roll_ms / 1000 * MODEL_RATE / self.window))
        )
        self.max_samples = max_seconds * MODEL_RATE
        self.collected: list[np.ndarray] = []
        self.speaking = False

    def push(
        self, frame: np.ndarray, on_speech_start: Callable[[], None] | None
    ) -> Utterance | None:
        """One VAD window; the utterance it ends, if it ends one."""
        event = self.endpointer.push(self.vad.stream_probability(frame))
        (self.collected if self.speaking else self.pre_roll).append(frame)
        if event is not None and event.kind == "speech_start":
            self.speaking, self.collected = True, list(self.pre_roll)
            if on_speech_start is not None:
                on_speech_start()
            return None
        ended = event is not None and event.kind == "speech_end"
        if not ended and not (
            self.speaking and len(self.collected) * self.window > self.max_samples
        ):
            return None
        delay = (self.endpointer.elapsed - event.time) * 1000 if event is not None else 0.0
        return self.cut(delay)

    def cut(self, endpoint_ms: float = 0.0) -> Utterance:
        audio = Audio(
            samples=np.concatenate(self.collected).astype(np.float32), sample_rate=MODEL_RATE
        )
        self.speaking, self.collected = False, []
        self.pre_roll.clear()
        return Utterance(audio=audio, endpoint_ms=endpoint_ms)


async def utterances(
    stream: AudioStream,
    *,
    vad: VoiceActivityDetector | None = None,
    pre_roll_ms: float = 400,
    max_seconds: float = 30.0,
    on_speech_start: Callable[[], None] | None = None,
) -> AsyncIterator[Utterance]:
    """Each utterance of ``stream``, from just before speech starts to when it has ended.

    Speech is declared over after the endpointer's hangover of silence, so the delay between
    the end of speech and the utterance being yielded is that hangover (600 ms by default).

    Args:
        stream: live input.
        vad: the detector, one per stream (it may keep state between windows), with the
            smoothing its probabilities need; a new :class:`SileroVAD` by default.
        pre_roll_ms: audio kept from before the detected start (the detector needs some speech
            before it is sure, and word onsets are quiet).
        max_seconds: an utterance longer than this is cut and yielded.
        on_speech_start: called the moment speech is detected (barge-in hooks here).
    """
    cutter = _Cutter(vad or SileroVAD(), pre_roll_ms, max_seconds)
    pending = np.zeros(0, dtype=np.float32)
    async for chunk in stream.chunks():
        pending = np.concatenate([pending, chunk.astype(np.float32)])
        while len(pending) >= cutter.window:
            frame, pending = pending[: cutter.window], pending[cutter.window :]
            if (utterance := cutter.push(frame, on_speech_start)) is not None:
                yield utterance
    if cutter.speaking and cutter.collected:
        yield cutter.cut()


async def listen(
    stream: AudioStream,
    into: asyncio.Queue[Utterance | BaseException | None],
    on_speech_start: Callable[[], None],
    vad: VoiceActivityDetector | None = None,
) -> None:
    """Put each utterance of ``stream`` (cut by ``vad``, Silero by default) on ``into``, then
    None; a failure of the stream is put there too, for the conversation loop to raise."""
    try:
        async for utterance in utterances(stream, vad=vad, on_speech_start=on_speech_start):
            into.put_nowait(utterance)
    except Exception as e:  # handed to the conversation loop, which raises it
        into.put_nowait(e)
    finally:
        into.put_nowait(None)


async def read_lines(
    typed: AsyncIterator[str] | None,
    into: asyncio.Queue[Utterance | BaseException | None],
    on_line: Callable[[], None],
) -> None:
    """Put each typed line on ``into`` as a turn of its own; a line barges in as speech does."""
    if typed is None:
        return
    async for line in typed:
        on_line()
        into.put_nowait(Utterance(text=line, endpoint_ms=0.0))
