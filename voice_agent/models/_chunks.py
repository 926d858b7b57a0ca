"""Pieces of speech, as they are made, turned into numbered :class:`AudioChunk` values."""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np

from voice_agent.audio import Audio
from voice_agent.models.protocols import AudioChunk

__all__ = ["numbered_chunks"]


async def numbered_chunks(pieces: AsyncIterator[Audio]) -> AsyncIterator[AudioChunk]:
    """``pieces`` as chunks, in order, clipped to [-1, 1]; kept one behind so that the last
    one can be marked ``final`` (a voice that streams does not know a piece is its last until
    the next one fails to come)."""
    index, pending = 0, None
    async for piece in pieces:
        if pending is not None:
            yield _chunk(pending, index, final=False)
            index += 1
        pending = piece
    if pending is not None:
        yield _chunk(pending, index, final=True)


def _chunk(piece: Audio, index: int, *, final: bool) -> AudioChunk:
    audio = Audio(samples=np.clip(piece.samples, -1.0, 1.0), sample_rate=piece.sample_rate)
    return AudioChunk(audio=audio, index=index, final=final)
