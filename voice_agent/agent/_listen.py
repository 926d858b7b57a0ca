"""Listening to a live stream: utterances cut out by the VAD's endpointer."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Callable

import numpy as np

from voice_agent.audio import MODEL_RATE, Audio, AudioStream
from voice_agent.models.vad import SileroVAD, VADSettings

__all__ = ["utterances"]


async def utterances(
    stream: AudioStream,
    *,
    settings: VADSettings | None = None,
    pre_roll_ms: float = 400,
    max_seconds: float = 30.0,
    on_speech_start: Callable[[], None] | None = None,
    endpoint_delays: list[float] | None = None,
) -> AsyncIterator[Audio]:
    """Each utterance of ``stream``, from just before speech starts to when it has ended.

    Speech is declared over after the endpointer's hangover of silence, so the delay between
    the end of speech and the utterance being yielded is that hangover (600 ms by default).

    Args:
        stream: live input.
        settings: VAD smoothing.
        pre_roll_ms: audio kept from before the detected start (the detector needs some speech
            before it is sure, and word onsets are quiet).
        max_seconds: an utterance longer than this is cut and yielded.
        on_speech_start: called the moment speech is detected (barge-in hooks here).
        endpoint_delays: a one-item list updated, before each utterance is yielded, with the
            endpointing delay in ms (end of speech → end of turn decided).
    """
    vad = SileroVAD(settings)
    vad.reset()
    endpointer = vad.endpointer()
    window = vad.window_samples
    pre_roll: deque[np.ndarray] = deque(
        maxlen=max(1, int(pre_roll_ms / 1000 * MODEL_RATE / window))
    )
    collected: list[np.ndarray] = []
    speaking = False
    pending = np.zeros(0, dtype=np.float32)
    last_delay_ms = endpoint_delays if endpoint_delays is not None else [0.0]

    def cut() -> Audio:
        return Audio(samples=np.concatenate(collected).astype(np.float32), sample_rate=MODEL_RATE)

    async for chunk in stream.chunks():
        pending = np.concatenate([pending, chunk.astype(np.float32)])
        while len(pending) >= window:
            frame, pending = pending[:window], pending[window:]
            event = endpointer.push(vad.stream_probability(frame))
            if speaking:
                collected.append(frame)
            else:
                pre_roll.append(frame)
            if event is not None and event.kind == "speech_start":
                speaking, collected = True, list(pre_roll)
                if on_speech_start is not None:
                    on_speech_start()
            elif (event is not None and event.kind == "speech_end") or (
                speaking and len(collected) * window > max_seconds * MODEL_RATE
            ):
                if event is not None:  # how long after the speech ended this was decided
                    last_delay_ms[0] = (endpointer.elapsed - event.time) * 1000
                yield cut()
                speaking, collected = False, []
                pre_roll.clear()
    if speaking and collected:
        yield cut()
