"""Blocking generation in a worker thread, consumed as an async stream of pieces."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Callable
from typing import TypeVar

__all__ = ["stream_from_thread"]

T = TypeVar("T")


async def stream_from_thread(
    work: Callable[[Callable[[T], None], Callable[[], bool]], object],
) -> AsyncGenerator[T, None]:
    """Run ``work(emit, stopped)`` in a worker thread and yield what it emits, as it emits it.

    The model runs outside the event loop (audio keeps flowing); when the consumer stops early
    (barge-in), ``stopped()`` turns True so the worker can quit at its next piece. An exception
    in the worker is raised here.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[T] | None] = asyncio.Queue()
    stop = threading.Event()

    def emit(piece: T) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, (piece,))

    async def produce() -> None:
        try:
            await asyncio.to_thread(work, emit, stop.is_set)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, None)

    task = asyncio.create_task(produce())
    try:
        while (item := await queue.get()) is not None:
            yield item[0]
        await task
    finally:
        stop.set()
        if not task.done():
            task.cancel()
