"""Barge-in on the embedded LLM: how soon the next turn's answer starts after the user cuts in.

Run by hand: ``python benchmarks/barge_in.py``. The user interrupts a long spoken reply after
its first few tokens and asks something else. Measured from the interruption to the first token
of the new answer, median of 5:

- **stop at the next token** (ours): the abandoned generation sees ``stopped()`` and ends at its
  next token; the new turn then has the context to itself.
- **baseline: finish, then answer**: what a model that only serialises its turns (a lock, no
  stop) does: the abandoned reply runs to its end before the new turn starts.

Without either (the code before the context lock) the two generations interleaved on one
llama.cpp context: the new answer came out as "!!!!…", and two at once aborted the process.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from rich.console import Console
from rich.table import Table

from voice_agent.models import UnderstandingRequest
from voice_agent.models.llm import LlamaCppLLM

STORY = UnderstandingRequest(text="Tell me a long story about a lighthouse keeper and a storm.")
QUESTION = UnderstandingRequest(text="What is two plus two?")
HEARD = 3
"""Tokens of the long reply generated before the user cuts in."""


async def first_token(llm: LlamaCppLLM, request: UnderstandingRequest) -> float:
    start = time.perf_counter()
    stream = llm.stream(request)
    async for _ in stream:
        break
    await stream.aclose()
    return time.perf_counter() - start


async def interrupted(llm: LlamaCppLLM) -> float:
    """Cut in after HEARD tokens; the abandoned stream is closed, so its worker is told."""
    stream = llm.stream(STORY)
    count = 0
    async for _ in stream:
        count += 1
        if count == HEARD:
            break
    start = time.perf_counter()
    await stream.aclose()
    await first_token(llm, QUESTION)
    return time.perf_counter() - start


async def finished_first(llm: LlamaCppLLM) -> tuple[float, int]:
    """The baseline: the abandoned reply is generated to its end, then the new turn starts."""
    pieces: list[str] = []
    start = time.perf_counter()
    stream = llm.stream(STORY)
    async for piece in stream:
        pieces.append(piece)
        if len(pieces) == HEARD:
            start = time.perf_counter()
    async for piece in stream:
        pieces.append(piece)
    await first_token(llm, QUESTION)
    return time.perf_counter() - start, len(pieces)


async def main() -> None:
    llm = LlamaCppLLM()
    llm.load()
    await first_token(llm, QUESTION)  # warm: load, grammar, prefix
    ours, base, lengths = [], [], []
    for _ in range(5):
        ours.append(await interrupted(llm))
        seconds, tokens = await finished_first(llm)
        base.append(seconds)
        lengths.append(tokens)
    table = Table(title=f"From barge-in to the next answer's first token (median of {len(ours)})")
    table.add_column("method")
    table.add_column("seconds", justify="right")
    table.add_column("vs baseline", justify="right")
    b, o = statistics.median(base), statistics.median(ours)
    table.add_row(
        f"baseline: finish the abandoned reply ({max(lengths)} tokens), then answer",
        f"{b:.2f}",
        "1.00×",
    )
    table.add_row("stop at the next token (ours)", f"{o:.2f}", f"{o / b:.2f}×")
    Console().print(table)


if __name__ == "__main__":
    asyncio.run(main())
