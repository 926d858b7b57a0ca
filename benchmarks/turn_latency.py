"""Turn latency on the cpu-default profile, as a user meets it, against named baselines.

Run by hand on a quiet machine: ``PYTHONPATH=. python benchmarks/turn_latency.py`` (about five
minutes on 2 cores). All times are from the end of speech (the recording is complete when the
turn starts) and in seconds.

1. **The one-shot command** of the README, ``voice-agent run --audio … --tools … --out …``, as
   a new process each time: the first run after install (a cache folder holding only the model
   file that ``scripts/install`` assembled, so the tools prefix is evaluated and saved), then
   ``--runs`` later runs (the saved prefix is restored). The process time is wall time of the
   whole command.
2. **The warm agent** (``VoiceAgent.start()`` done, same process) on the example WAVs and a few
   requests spoken by Piper: to the tool result, to the first reply audio, to the turn's end.
3. Baselines, in the same run on the same requests:
   - *grammar first*: the same agent with the decoding of the previous release: llama-cpp-
     python's ``create_completion`` with the grammar applied to the whole vocabulary at every
     token, and Whisper timing every word;
   - *one stage after another*: ASR, the whole model reply, the tools, a second model step for
     the report, then the voice, each waiting for the previous one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from voice_agent.agent import VoiceAgent
from voice_agent.agent._turn import REPORT
from voice_agent.audio import Audio, load_audio
from voice_agent.models import Message, UnderstandingRequest
from voice_agent.models.asr import WhisperASR
from voice_agent.models.cascade import CascadeUnderstanding
from voice_agent.models.emotion import ProsodyEmotion
from voice_agent.models.llm import QWEN_CODER_05B, LlamaCppLLM
from voice_agent.models.profiles import Profile, load_profile
from voice_agent.tools import ToolRegistry

HOME = Path(__file__).resolve().parents[1] / "examples" / "home"
ONE_SHOT = HOME / "turn_on_kitchen_lights.wav"
EXTRA = [
    "Set the thermostat to twenty one degrees.",
    "Turn off the bedroom lights.",
    "Add three apples to the shopping list.",
    "Dim the office lights to thirty percent.",
]
console = Console(width=140)


class GrammarFirstLLM(LlamaCppLLM):
    """The previous release's decoding: the grammar over the whole vocabulary at every token."""

    def _generate(
        self,
        prompt: str,
        grammar: Any,
        on_token: Callable[[str], None],
        stopped: Callable[[], bool],
        avoid: Any = None,  # the previous release took no value back
    ) -> str:
        pieces: list[str] = []
        completion = self._llm.create_completion(
            prompt,
            max_tokens=self.max_tokens,
            temperature=0.0,
            stream=True,
            grammar=grammar,
            stop=["<|im_end|>", "<|endoftext|>"],
        )
        try:
            for chunk in completion:
                if stopped():
                    break
                text = chunk["choices"][0]["text"]
                if text:
                    pieces.append(text)
                    on_token(text)
        finally:
            completion.close()
        return "".join(pieces)


def p90(values: Sequence[float]) -> float:
    return float(np.percentile(values, 90))


# --- the one-shot command -------------------------------------------------------------------


def one_shot(cache: Path, out: Path) -> dict[str, float]:
    """One ``voice-agent run`` process: its own timings and its wall time, in seconds."""
    command = [sys.executable, "-m", "voice_agent", "run", "--audio", str(ONE_SHOT)]
    command += ["--tools", str(HOME / "tools.py"), "--out", str(out), "--json"]
    env = {**os.environ, "VOICE_AGENT_CACHE": str(cache)}
    env["VOICE_AGENT_DB"] = str(cache / "history.sqlite3")
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    timings = json.loads(done.stdout)["timings_ms"]
    return {
        "tool result": timings.get("tool_result", float("nan")) / 1000,
        "first reply audio": timings.get("first_audio", float("nan")) / 1000,
        "process": wall,
    }


def one_shot_runs(runs: int) -> tuple[dict[str, float], list[dict[str, float]]]:
    """The first run after install (empty cache) and ``runs`` later ones."""
    with tempfile.TemporaryDirectory() as folder:
        cache, out = Path(folder) / "cache", Path(folder) / "reply.wav"
        (cache / "weights").mkdir(parents=True)
        model = QWEN_CODER_05B.assemble()  # as scripts/install left it
        (cache / "weights" / model.name).symlink_to(model)
        first = one_shot(cache, out)
        later = [one_shot(cache, out) for _ in range(runs)]
    return first, later


# --- the warm agent and the baselines -------------------------------------------------------


async def queries() -> list[Audio]:
    out = [load_audio(p) for p in sorted(HOME.glob("*.wav")) if "unlock" not in p.name]
    tts = load_profile("cpu-default").tts
    for text in EXTRA:
        chunks = [c.audio async for c in tts.synthesize(text)]
        samples = np.concatenate([c.samples for c in chunks])
        out.append(Audio(samples=samples, sample_rate=chunks[0].sample_rate).resampled(16_000))
    return out


async def warm_agent(profile: Profile, spoken: list[Audio]) -> dict[str, list[float]]:
    """Each request as a turn of a started agent (history cleared between turns)."""
    registry = ToolRegistry()
    registry.register_path(HOME / "tools.py")
    agent = VoiceAgent(tools=registry, profile=profile, acknowledge_after=None)
    await agent.start()
    measured: dict[str, list[float]] = {"tool result": [], "first reply audio": [], "turn end": []}
    for audio in spoken:
        agent.history.clear()
        result = await agent.turn(audio)
        timings = result.timings_ms
        if "tool_result" in timings:
            measured["tool result"].append(timings["tool_result"] / 1000)
        measured["first reply audio"].append(timings.get("first_audio", float("nan")) / 1000)
        measured["turn end"].append(timings.get("turn", float("nan")) / 1000)
    return measured


async def stage_by_stage(profile: Profile, spoken: list[Audio]) -> dict[str, list[float]]:
    """ASR, whole reply, tools, whole report, whole voice: each stage waits for the last."""
    registry = ToolRegistry()
    registry.register_path(HOME / "tools.py")
    model, tools = profile.understanding, [t.schema for t in registry]
    measured: dict[str, list[float]] = {"tool result": [], "first reply audio": [], "turn end": []}
    for audio in spoken:
        start = time.perf_counter()
        perception = await model.perceive(UnderstandingRequest(audio=audio))  # type: ignore[attr-defined]
        history = [Message(role="user", content=perception.transcript)]
        request = UnderstandingRequest(history=history, tools=tools)
        first = "".join([t async for t in model.respond(request)])  # type: ignore[attr-defined]
        results = await registry.execute(registry.parse(first))
        measured["tool result"].append(time.perf_counter() - start)
        history += [Message(role="assistant", content=first)]
        history += [Message(role="tool", content=r.to_message()) for r in results]
        request = UnderstandingRequest(
            history=history, tools=tools, tool_choice="none", instructions=REPORT
        )
        report = "".join([t async for t in model.respond(request)])  # type: ignore[attr-defined]
        [c async for c in profile.tts.synthesize(report or "Done.")]
        end = time.perf_counter() - start
        measured["first reply audio"].append(end)
        measured["turn end"].append(end)
    return measured


def grammar_first_profile() -> Profile:
    default = load_profile("cpu-default")
    understanding = CascadeUnderstanding(
        WhisperASR(beam_size=1), GrammarFirstLLM(), ProsodyEmotion()
    )
    return Profile(name="grammar-first", understanding=understanding, tts=default.tts)


# --- report ---------------------------------------------------------------------------------


def _cell(values: Sequence[float]) -> str:
    ok = [v for v in values if v == v]
    return f"{statistics.median(ok):.2f} / {p90(ok):.2f}" if ok else "-"


def report(
    first: dict[str, float],
    later: list[dict[str, float]],
    rows: dict[str, dict[str, list[float]]],
    count: int,
) -> None:
    table = Table(title="voice-agent run (the README's main command), a new process each time")
    for column in (
        "measure",
        "first run after install",
        f"later runs, median / p90 ({len(later)})",
    ):
        table.add_column(column, justify="left" if column == "measure" else "right")
    for name in ("tool result", "first reply audio", "process"):
        table.add_row(name, f"{first[name]:.2f}", _cell([r[name] for r in later]))
    console.print(table)
    names = list(rows)
    table = Table(title=f"warm agent, {count} spoken requests: median / p90 (s from end of speech)")
    table.add_column("measure")
    for name in names:
        table.add_column(name, justify="right")
    for name in names[1:]:
        table.add_column(f"{name} ÷ agent (median)", justify="right")
    for measure in ("tool result", "first reply audio", "turn end"):
        ours = [v for v in rows[names[0]][measure] if v == v]
        ratios = []
        for name in names[1:]:
            theirs = [v for v in rows[name][measure] if v == v]
            ratios.append(f"{statistics.median(theirs) / statistics.median(ours):.2f}×")
        table.add_row(measure, *(_cell(rows[n][measure]) for n in names), *ratios)
    console.print(table)


async def warm(spoken: list[Audio]) -> dict[str, dict[str, list[float]]]:
    default = load_profile("cpu-default")
    return {
        "agent": await warm_agent(default, spoken),
        "grammar first": await warm_agent(grammar_first_profile(), spoken),
        "one stage after another": await stage_by_stage(default, spoken),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="later one-shot runs to time")
    args = parser.parse_args()
    os.environ.setdefault("VOICE_AGENT_HOME_DB", str(Path(tempfile.mkdtemp()) / "home.sqlite3"))
    console.print("one-shot command …")
    first, later = one_shot_runs(args.runs)
    console.print("warm agent and baselines …")
    spoken = asyncio.run(queries())
    rows = asyncio.run(warm(spoken))
    report(first, later, rows, len(spoken))


if __name__ == "__main__":
    main()
