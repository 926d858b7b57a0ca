"""Turn latency on the cpu-default profile: streamed agent vs the same stages one after another.

Run by hand: ``python benchmarks/turn_latency.py``. For each spoken query (the example WAVs and
a few more spoken by Piper) it measures, from the end of speech (the file is complete when the
turn starts), the time to the tool result and to the first reply audio, (1) with the agent,
which speaks the first sentence while the model is still writing the rest, and (2) with the
baseline: ASR, then the whole model reply, then the tools, then the whole report, then the whole
reply rendered by the voice, each stage waiting for the previous one. Same models, same warm
caches; the ratio is the gain from streaming.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from voice_agent.agent import VoiceAgent
from voice_agent.agent._agent import REPORT
from voice_agent.audio import Audio, load_audio
from voice_agent.models import Message, UnderstandingRequest
from voice_agent.models.profiles import load_profile
from voice_agent.tools import ToolRegistry

HOME = Path(__file__).resolve().parents[1] / "examples" / "home"
EXTRA = [
    "Set the thermostat to twenty one degrees.",
    "Turn off the bedroom lights.",
    "Add three apples to the shopping list.",
    "Dim the office lights to thirty percent.",
]


def p90(values: list[float]) -> float:
    return float(np.percentile(values, 90))


async def queries() -> list[Audio]:
    out = [load_audio(p) for p in sorted(HOME.glob("*.wav")) if "unlock" not in p.name]
    tts = load_profile("cpu-default").tts
    for text in EXTRA:
        chunks = [c.audio async for c in tts.synthesize(text)]
        rate = chunks[0].sample_rate
        out.append(
            Audio(samples=np.concatenate([c.samples for c in chunks]), sample_rate=rate).resampled(
                16_000
            )
        )
    return out


async def baseline(registry: ToolRegistry, audio: Audio) -> tuple[float, float]:
    profile = load_profile("cpu-default")
    model = profile.understanding
    start = time.perf_counter()
    perception = await model.perceive(UnderstandingRequest(audio=audio))  # type: ignore[attr-defined]
    tools = [t.schema for t in registry]
    history = [Message(role="user", content=perception.transcript)]
    first = "".join(
        [
            t
            async for t in model.respond(  # type: ignore[attr-defined]
                UnderstandingRequest(history=history, tools=tools)
            )
        ]
    )
    calls = registry.parse(first)
    results = await registry.execute(calls)
    tool_done = time.perf_counter() - start
    history += [Message(role="assistant", content=first)]
    history += [Message(role="tool", content=r.to_message()) for r in results]
    report = "".join(
        [
            t
            async for t in model.respond(  # type: ignore[attr-defined]
                UnderstandingRequest(
                    history=history, tools=tools, tool_choice="none", instructions=REPORT
                )
            )
        ]
    )
    [c async for c in profile.tts.synthesize(report)]
    return tool_done, time.perf_counter() - start


async def main() -> None:
    os.environ.setdefault("VOICE_AGENT_HOME_DB", str(Path(tempfile.mkdtemp()) / "home.sqlite3"))
    registry = ToolRegistry()
    registry.register_path(HOME / "tools.py")
    agent = VoiceAgent(tools=registry, acknowledge_after=None)
    await agent.start()
    spoken = await queries()
    streamed_tool, streamed_audio, base_tool, base_audio = [], [], [], []
    for audio in spoken:
        agent.history.clear()  # same starting point for both pipelines
        result = await agent.turn(audio)
        streamed_audio.append(result.timings_ms.get("first_audio", float("nan")) / 1000)
        tool_times = [e for e in result.events if e.type == "tool_result"]
        streamed_tool.append(
            sum(result.timings_ms.get(k, 0) for k in ("asr", "emotion", "model_step0")) / 1000
            if tool_times
            else float("nan")
        )
        t_tool, t_audio = await baseline(registry, audio)
        base_tool.append(t_tool)
        base_audio.append(t_audio)
    table = Table(
        title=f"{len(spoken)} spoken queries, cpu-default, 2 cores (seconds from end of speech)"
    )
    for column in (
        "measure",
        "streamed agent median",
        "p90",
        "one stage after another median",
        "p90",
        "baseline ÷ agent",
    ):
        table.add_column(column, justify="right" if column != "measure" else "left")
    for name, ours, theirs in (
        ("tool result", streamed_tool, base_tool),
        ("first reply audio", streamed_audio, base_audio),
    ):
        ours_ok = [v for v in ours if v == v]
        table.add_row(
            name,
            f"{statistics.median(ours_ok):.2f}",
            f"{p90(ours_ok):.2f}",
            f"{statistics.median(theirs):.2f}",
            f"{p90(theirs):.2f}",
            f"{statistics.median(theirs) / statistics.median(ours_ok):.2f}×",
        )
    Console().print(table)


if __name__ == "__main__":
    asyncio.run(main())
