"""The cpu-default models on this machine: load time, speed, peak memory, time to first call.

Run by hand: ``python benchmarks/models_cpu.py``. Each component is measured in a fresh
subprocess so that its peak memory (max RSS) is its own. Speeds are real-time factors (seconds
of compute per second of audio; lower is better) or tokens per second. The last rows time a
spoken query with 20 registered tools from the end of speech to the first complete tool call,
cold (empty key/value cache) and with the system + tools prefix already cached; their ratio is
the gain of the prefix cache.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

COMPONENTS = ("asr", "piper", "espeak", "vad", "llm", "first_call")
QUERY = "Please turn on the kitchen lights at half brightness."


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _speech(text: str) -> Any:
    from voice_agent.models.tts import PiperTTS

    chunks = [c.audio async for c in PiperTTS().synthesize(text)]
    return chunks[0].resampled(16_000)


def _tools() -> list[dict[str, Any]]:
    """The home pack plus BFCL function docs: 20 tools."""
    from voice_agent.evals.bfcl import load_category
    from voice_agent.tools import ToolRegistry, normalize_bfcl_schema

    registry = ToolRegistry()
    registry.register_path(Path(__file__).resolve().parents[1] / "examples/home/tools.py")
    data = Path(__file__).resolve().parents[2] / "shared/data/bfcl"
    for entry in load_category("multiple", data if data.is_dir() else None):
        for doc in entry.functions:
            if len(registry) < 20 and doc["name"] not in registry:
                registry.register({**doc, "parameters": normalize_bfcl_schema(doc["parameters"])})
    return [t.schema for t in registry]


async def measure(component: str) -> dict[str, Any]:
    from voice_agent.models import UnderstandingRequest

    start = time.perf_counter()
    if component == "asr":
        from voice_agent.models.asr import WhisperASR

        audio = await _speech(QUERY * 3)
        start = time.perf_counter()
        asr = WhisperASR()
        asr.load()
        load = time.perf_counter() - start
        await asr.transcribe(audio)  # warm-up
        start = time.perf_counter()
        await asr.transcribe(audio)
        return {
            "load_s": load,
            "speed": (time.perf_counter() - start) / audio.duration,
            "unit": "RTF",
        }
    if component in ("piper", "espeak"):
        from voice_agent.models.tts import EspeakTTS, PiperTTS

        tts: Any = PiperTTS() if component == "piper" else EspeakTTS()
        if component == "piper":
            tts.load()
        load = time.perf_counter() - start
        start = time.perf_counter()
        chunks = [c.audio async for c in tts.synthesize(QUERY * 3)]
        seconds = sum(c.duration for c in chunks)
        return {"load_s": load, "speed": (time.perf_counter() - start) / seconds, "unit": "RTF"}
    if component == "vad":
        from voice_agent.models.vad import SileroVAD

        vad = SileroVAD()
        vad.load()
        load = time.perf_counter() - start
        audio = await _speech(QUERY * 3)
        start = time.perf_counter()
        vad.segments(audio)
        return {
            "load_s": load,
            "speed": (time.perf_counter() - start) / audio.duration,
            "unit": "RTF",
        }
    if component == "llm":
        from voice_agent.models.llm import LlamaCppLLM

        llm = LlamaCppLLM(grammar=False, max_tokens=128)
        llm.load()
        load = time.perf_counter() - start
        request = UnderstandingRequest(text="Write four sentences about the sea.")
        await llm.complete(request)  # warm-up
        llm.reset_cache()
        start, first, count = time.perf_counter(), 0.0, 0
        async for _ in llm.stream(request):
            count += 1
            first = first or time.perf_counter() - start
        total = time.perf_counter() - start
        return {"load_s": load, "speed": (count - 1) / (total - first), "unit": "tokens/s decode"}
    if component == "first_call":
        return await _first_call()
    raise ValueError(component)


async def _first_call() -> dict[str, Any]:
    from voice_agent.models import UnderstandingRequest
    from voice_agent.models.asr import WhisperASR
    from voice_agent.models.llm import LlamaCppLLM
    from voice_agent.tools import ToolCallSplitter

    tools = _tools()
    asr, llm = WhisperASR(), LlamaCppLLM()
    asr.load()
    llm.load()
    audio = await _speech(QUERY)
    other = await _speech("Set the thermostat to twenty degrees.")

    async def turn(speech: Any) -> float:
        start = time.perf_counter()
        text = (await asr.transcribe(speech)).text
        splitter = ToolCallSplitter()
        async for token in llm.stream(UnderstandingRequest(text=text, tools=tools)):
            if splitter.feed(token).calls:
                return time.perf_counter() - start
        if splitter.finish().calls:
            return time.perf_counter() - start
        raise RuntimeError("no tool call")

    await turn(other)  # warm both models
    llm.reset_cache()
    cold = await turn(audio)
    await turn(other)  # same system + tools prefix, now cached
    warm = await turn(audio)
    return {"load_s": 0.0, "cold_s": cold, "warm_s": warm, "tools": len(tools), "unit": "s"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--component", choices=COMPONENTS)
    args = parser.parse_args()
    if args.component:
        result = asyncio.run(measure(args.component))
        result["peak_mb"] = _peak_mb()
        print(json.dumps(result))
        return
    results = {}
    for component in COMPONENTS:
        done = subprocess.run(
            [sys.executable, __file__, "--component", component],
            capture_output=True,
            text=True,
            check=True,
        )
        results[component] = json.loads(done.stdout.strip().splitlines()[-1])
    table = Table(title="cpu-default models on this machine (2 cores)")
    for column in ("component", "load s", "speed", "peak RSS MB"):
        table.add_column(column, justify="left" if column == "component" else "right")
    names = {
        "asr": "Whisper tiny.en (int8)",
        "piper": "Piper en_US-joe (ONNX)",
        "espeak": "espeak-ng",
        "vad": "Silero VAD",
        "llm": "Qwen2.5-Coder-0.5B Q4_K_M (llama.cpp)",
    }
    for component, name in names.items():
        r = results[component]
        table.add_row(
            name, f"{r['load_s']:.2f}", f"{r['speed']:.3f} {r['unit']}", f"{r['peak_mb']:.0f}"
        )
    Console().print(table)
    fc = results["first_call"]
    timing = Table(title=f"Spoken query, {fc['tools']} tools: end of speech → first tool call")
    for column in ("prefix cache", "seconds", "cold ÷ this"):
        timing.add_column(column, justify="right")
    timing.add_row("none (cold, baseline)", f"{fc['cold_s']:.2f}", "1.00×")
    timing.add_row(
        "system + tools cached", f"{fc['warm_s']:.2f}", f"{fc['cold_s'] / fc['warm_s']:.2f}×"
    )
    Console().print(timing)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
