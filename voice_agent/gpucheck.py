"""One command for the day a GPU is there: load the real checkpoints and check the GPU path.

    python -m voice_agent.gpucheck --funaudiochat ~/models/Fun-Audio-Chat-8B \\
        --cosyvoice ~/models/CosyVoice3 --out gpu-check
    voice-agent gpu-check …            (the same command)

It loads Fun-Audio-Chat and CosyVoice3 and lists every unknown, missing and mis-shaped tensor
of each (there must be none), the GPU memory after each load, runs one spoken turn of
``examples/home`` with its tools (the call, the reply, the emotion label), measures CosyVoice3's
first-chunk latency and real-time factor, and scores a Speech-BFCL-Single slice (20 samples:
the first 10 of simple_python and of multiple, spoken by the embedded Piper voice). Progress
shows as it goes; the results are printed as a table and written to ``OUT/gpu-check.json``
(with the spoken reply and the benchmark's result lines beside it). The exit code is 0 when
every stage ran and every tensor fit, 1 otherwise.

The tests run this same code on the tiny random checkpoints of
:mod:`voice_agent.testing.tiny_checkpoints` with ``--device cpu``, so on a GPU the only unknowns
are the weights. The answers of random weights are noise: the check says what the model did
(which call, which words); whether that is right is for the person reading it, as is the time.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from voice_agent.errors import VoiceAgentError
from voice_agent.log import configure_logging, get_logger

__all__ = ["EXAMPLES", "exit_code", "gpu_check", "print_report", "run_check"]

log = get_logger(__name__)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "home"
"""The checkout's home example: the spoken request and the tool pack of the turn."""
TTS_TEXT = "Okay, the kitchen lights are on now. Is there anything else I can do for you?"
"""What CosyVoice3 speaks for the latency and real-time-factor figures (two sentences)."""
Stage = dict[str, Any]


Advance = Callable[[], None]
"""Moves a stage's bar one step (the benchmark's samples)."""


async def _stage(
    name: str,
    progress: Progress,
    work: Callable[[Advance], Awaitable[Stage]],
    total: int | None = None,
) -> Stage:
    """Run one stage under its bar (a spinner without ``total``); a failure becomes
    ``{"ok": False, "error": …}`` and the other stages go on."""
    task = progress.add_task(name, total=total)
    start = time.perf_counter()
    try:
        result = await work(lambda: progress.advance(task))
    except Exception as e:  # a check reports what broke and goes on with the other stages
        log.exception("gpucheck.stage_failed", stage=name)
        result = {"ok": False, "error": f"{type(e).__name__}: {e}"}
    result["seconds"] = round(time.perf_counter() - start, 2)
    progress.update(task, total=total or 1, completed=total or 1)
    return result


def _gpu_memory(device: str) -> dict[str, Any]:
    """Allocated, reserved and total memory of the device in GB; on the CPU, a note."""
    import torch

    if not device.startswith("cuda") or not torch.cuda.is_available():
        return {"device": device, "note": f"device {device}: no GPU memory to report"}
    index = torch.device(device).index or 0
    free, total = torch.cuda.mem_get_info(index)
    gb = 1024**3
    return {
        "device": f"cuda:{index} ({torch.cuda.get_device_name(index)})",
        "allocated_gb": round(torch.cuda.memory_allocated(index) / gb, 2),
        "reserved_gb": round(torch.cuda.memory_reserved(index) / gb, 2),
        "peak_gb": round(torch.cuda.max_memory_allocated(index) / gb, 2),
        "free_gb": round(free / gb, 2),
        "total_gb": round(total / gb, 2),
    }


def _mismatch(e: Exception) -> Stage:
    """A load that failed: the tensor lists when the checkpoint did not fit, else the error."""
    from voice_agent.models._checkpoint import CheckpointMismatch

    result: Stage = {"ok": False, "error": f"{type(e).__name__}: {e}"}
    if isinstance(e, CheckpointMismatch):
        result["tensors"] = [r.as_dict() for r in e.reports]
    return result


async def _load_funaudiochat(directory: Path, device: str) -> tuple[Any, Stage]:
    from voice_agent.models.funaudiochat import FunAudioChat

    model = FunAudioChat(directory, device=device)
    try:
        await asyncio.to_thread(model.load)
    except VoiceAgentError as e:
        return None, _mismatch(e)
    assert model.checkpoint is not None
    return model, {
        "ok": model.checkpoint.ok,
        "tensors": [model.checkpoint.as_dict()],
        "memory": _gpu_memory(device),
    }


async def _load_cosyvoice(directory: Path, device: str, prompt: Path | None) -> tuple[Any, Stage]:
    from voice_agent.models.cosyvoice3 import CosyVoice3TTS

    if not (directory / "cosyvoice3.yaml").is_file():
        return None, {"ok": False, "error": f"{directory} is not a Fun-CosyVoice3 directory"}
    tts = CosyVoice3TTS(directory, device=device, prompt_wav=prompt, stream=True)
    try:
        runtime = await asyncio.to_thread(tts.load)
    except VoiceAgentError as e:
        return None, _mismatch(e)
    return tts, {
        "ok": all(r.ok for r in runtime.checkpoint),
        "tensors": [r.as_dict() for r in runtime.checkpoint],
        "prompt_wav": str(tts.prompt_wav),
        "memory": _gpu_memory(device),
    }


async def _turn(understanding: Any, tts: Any, audio: Path, tools: Path, out: Path) -> Stage:
    """One spoken request through the agent with the home tools, spoken by CosyVoice3."""
    from voice_agent.agent import HistoryStore, VoiceAgent
    from voice_agent.audio import load_audio
    from voice_agent.models.profiles import Profile
    from voice_agent.models.tts import EspeakTTS
    from voice_agent.serve import turn_dict
    from voice_agent.tools import ToolRegistry

    registry = ToolRegistry()
    registry.register_path(str(tools))
    profile = Profile(name="gpu-check", understanding=understanding, tts=tts or EspeakTTS())
    agent = VoiceAgent(
        tools=registry,
        profile=profile,
        store=HistoryStore(out / "history.sqlite3"),
        interactive=False,
        speak=tts is not None,  # without CosyVoice3 the turn is not spoken (said so below)
    )
    async with agent.registry:
        result = await agent.turn(load_audio(audio))
    saved = None
    if result.reply_audio is not None:
        saved = out / "reply.wav"
        result.reply_audio.save(saved)
    turn = turn_dict(agent.session_id, result, str(saved) if saved else None)
    emotion = turn["emotion"]
    return {
        "ok": True,
        "audio": str(audio),
        "transcript": turn["transcript"],
        "calls": [
            {"name": c["name"], "arguments": c["arguments"], "status": c["status"]}
            for c in turn["tool_calls"]
        ],
        "reply": turn["reply_text"],
        "emotion": {"label": emotion["label"], "confidence": emotion["confidence"]}
        if emotion
        else None,
        "reply_audio": turn["reply_audio"],
        "reply_seconds": round(result.reply_audio.duration, 2) if result.reply_audio else None,
        "spoken_by": "cosyvoice3" if tts is not None else "not spoken (CosyVoice3 did not load)",
        "timings_ms": turn["timings_ms"],
    }


async def _tts_speed(tts: Any) -> Stage:
    """First-chunk latency and real-time factor of a streamed two-sentence reply (after one
    short warm-up synthesis, so the speaker prompt and the kernels are ready)."""
    async for _ in tts.synthesize("Hello."):
        pass
    start = time.perf_counter()
    first, samples, chunks, rate = None, 0, 0, 24000
    async for chunk in tts.synthesize(TTS_TEXT):
        if first is None:
            first = time.perf_counter() - start
        samples += len(chunk.audio.samples)
        chunks += 1
        rate = chunk.audio.sample_rate
    total = time.perf_counter() - start
    audio_seconds = samples / rate
    return {
        "ok": first is not None and samples > 0,
        "text": TTS_TEXT,
        "first_chunk_ms": round((first or 0.0) * 1000, 1),
        "audio_seconds": round(audio_seconds, 2),
        "total_seconds": round(total, 2),
        "real_time_factor": round(total / audio_seconds, 3) if audio_seconds else None,
        "chunks": chunks,
        "sample_rate": rate,
    }


def _bfcl_samples(count: int, data: Path | None) -> list[Any]:
    """The first ``count`` Speech-BFCL-Single samples: half simple_python, half multiple."""
    from voice_agent.evals import load_suite

    samples = load_suite("speech-bfcl-single", data=data, limit=-(-count // 2))
    simple = [s for s in samples if s.category == "simple_python"]
    multiple = [s for s in samples if s.category != "simple_python"]
    return (simple[: count - count // 2] + multiple[: count // 2])[:count]


async def _bfcl(understanding: Any, chosen: list[Any], out: Path, advance: Advance) -> Stage:
    """Speech-BFCL-Single on ``chosen``, one sample at a time so the bar moves; the result
    lines go to ``out/bfcl``."""
    from voice_agent.evals import SpeechCache, run_samples
    from voice_agent.models import cache_dir
    from voice_agent.models.tts import PiperTTS

    folder = out / "bfcl"
    shutil.rmtree(folder, ignore_errors=True)  # a check runs afresh, never resumes
    speech = SpeechCache(PiperTTS(), cache_dir() / "gpucheck-speech")
    correct, failed = 0, list[str]()
    for sample in chosen:
        summary = await run_samples(
            [sample], understanding, folder, speech=speech, show_progress=False
        )
        correct += summary.correct
        failed += summary.errors
        advance()
    ran = len(chosen) - len(failed)
    return {
        "ok": not failed,
        "samples": len(chosen),
        "correct": correct,
        "accuracy": round(correct / ran, 4) if ran else None,
        "failed_samples": failed,
        "results": str(folder / "results.jsonl"),
        "reference": "Fun-Audio-Chat-8B reports 92.73 % on all 578 (REFERENCE.md §4)",
    }


def _environment(device: str) -> dict[str, Any]:
    import torch
    import transformers

    return {
        "device": device,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "transformers": transformers.__version__,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def run_check(
    funaudiochat: Path,
    cosyvoice: Path,
    out: Path,
    *,
    device: str = "cuda",
    samples: int = 20,
    audio: Path | None = None,
    tools: Path | None = None,
    data: Path | None = None,
    prompt_wav: Path | None = None,
    console: Console | None = None,
) -> dict[str, Any]:
    """Run every stage and write ``out/gpu-check.json``; returns what it wrote (the same code
    path for ``cuda`` and ``cpu``).

    Args:
        funaudiochat: the Fun-Audio-Chat-8B directory.
        cosyvoice: the Fun-CosyVoice3-0.5B directory.
        out: the folder for the JSON, the spoken reply and the benchmark's result lines.
        device: ``cuda``/``cuda:N``, or ``cpu`` (the same code, fp32: tiny checkpoints).
        samples: how many Speech-BFCL-Single samples to score.
        audio: the spoken request of the turn (default: examples/home's kitchen lights).
        tools: its tool pack (default: examples/home/tools.py; its state goes where
            ``VOICE_AGENT_HOME_DB`` says, which the command points into ``out``).
        data: BFCL data (directory or wheel); default the pinned wheel (downloaded once).
        prompt_wav: the voice CosyVoice3 clones (default: the embedded Piper voice).
        console: where the progress goes (default: stderr).
    """
    audio = audio or EXAMPLES / "turn_on_kitchen_lights.wav"
    tools = tools or EXAMPLES / "tools.py"
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"environment": _environment(device), "stages": {}}
    start = time.perf_counter()
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console or Console(stderr=True),
    )
    with progress:
        report["stages"] = asyncio.run(
            _stages(
                funaudiochat,
                cosyvoice,
                out,
                device,
                samples,
                audio,
                tools,
                data,
                prompt_wav,
                progress,
                report,
            )
        )
    report["total_seconds"] = round(time.perf_counter() - start, 1)
    report["ok"] = all(s.get("ok") for s in report["stages"].values())
    (out / "gpu-check.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    return report


async def _stages(
    funaudiochat: Path,
    cosyvoice: Path,
    out: Path,
    device: str,
    samples: int,
    audio: Path,
    tools: Path,
    data: Path | None,
    prompt_wav: Path | None,
    progress: Progress,
    report: dict[str, Any],
) -> dict[str, Stage]:
    """The stages in order, each after the ones it needs; ``report`` gets the memory."""
    stages: dict[str, Stage] = {}
    models: dict[str, Any] = {}

    async def load_fac() -> Stage:
        models["fac"], stage = await _load_funaudiochat(funaudiochat, device)
        return stage

    async def load_tts() -> Stage:
        models["tts"], stage = await _load_cosyvoice(cosyvoice, device, prompt_wav)
        return stage

    stages["funaudiochat"] = await _stage("load Fun-Audio-Chat", progress, lambda _: load_fac())
    stages["cosyvoice3"] = await _stage("load CosyVoice3", progress, lambda _: load_tts())
    report["gpu_memory"] = _gpu_memory(device)
    fac, tts = models.get("fac"), models.get("tts")
    skipped: Stage = {"ok": False, "error": "skipped: Fun-Audio-Chat did not load"}
    stages["turn"] = dict(skipped)
    stages["tts"] = {"ok": False, "error": "skipped: CosyVoice3 did not load"}
    stages["bfcl"] = dict(skipped)
    if fac is not None:
        stages["turn"] = await _stage(
            "spoken turn", progress, lambda _: _turn(fac, tts, audio, tools, out)
        )
    if tts is not None:
        stages["tts"] = await _stage("CosyVoice3 speed", progress, lambda _: _tts_speed(tts))
    if fac is not None:

        async def bfcl(advance: Advance) -> Stage:
            chosen = await asyncio.to_thread(_bfcl_samples, samples, data)
            return await _bfcl(fac, chosen, out, advance)

        stages["bfcl"] = await _stage("Speech-BFCL-Single", progress, bfcl, total=samples)
    return stages


def exit_code(report: dict[str, Any]) -> int:
    """0 when every stage ran and every tensor fit, else 1."""
    return 0 if report.get("ok") else 1


def _tensor_cell(stage: Stage) -> str:
    if "tensors" not in stage:
        return escape(stage.get("error", ""))
    lines = []
    for r in stage["tensors"]:
        shaped = [f"{m['name']} {m['checkpoint']}≠{m['expected']}" for m in r["mis_shaped"]]
        bad = [("unknown", r["unknown"]), ("missing", r["missing"]), ("mis-shaped", shaped)]
        problems = [
            f"{what} ({len(names)}): {', '.join(names[:5])}" for what, names in bad if names
        ]
        head = f"{r['file']}: {r['loaded']} loaded" + (
            f", {r['skipped']} skipped" if r["skipped"] else ""
        )
        lines.append(escape("; ".join([head, *problems])))
    return "\n".join(lines)


def _memory_cell(memory: dict[str, Any]) -> str:
    if "allocated_gb" not in memory:
        return str(memory.get("note", ""))
    return (
        f"{memory['allocated_gb']} GB allocated, {memory['reserved_gb']} reserved, "
        f"{memory['free_gb']} of {memory['total_gb']} free ({memory['device']})"
    )


def _short(text: str | None, limit: int = 160) -> str:
    """A model's text for the table: quoted, cut at ``limit`` (the JSON has all of it)."""
    text = text or ""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _row(name: str, stage: Stage) -> tuple[str, str, str]:
    status = "[green]ok[/green]" if stage.get("ok") else "[red]FAILED[/red]"
    if not stage.get("ok") or name.startswith("load"):
        detail = _tensor_cell(stage) if name.startswith("load") else escape(stage.get("error", ""))
        if name.startswith("load") and "memory" in stage:
            detail += "\n" + _memory_cell(stage["memory"])
    elif name == "spoken turn":
        calls = ", ".join(
            f"{c['name']}({json.dumps(c['arguments'])}) {c['status']}" for c in stage["calls"]
        )
        emotion = stage["emotion"] or {}
        detail = escape(
            f"heard: {_short(stage['transcript'])}\ncalls: {calls or 'none'}\n"
            f"reply: {_short(stage['reply'])}\n"
            f"emotion: {emotion.get('label')} ({emotion.get('confidence')}); "
            f"reply audio: {stage['reply_seconds']} s, {stage['spoken_by']}"
        )
    elif name == "CosyVoice3 speed":
        detail = (
            f"first chunk {stage['first_chunk_ms']:.0f} ms; RTF {stage['real_time_factor']} "
            f"({stage['audio_seconds']} s of audio in {stage['total_seconds']} s, "
            f"{stage['chunks']} chunks)"
        )
    else:
        accuracy = stage["accuracy"]
        shown = f"{accuracy:.1%}" if accuracy is not None else "–"
        detail = f"{stage['correct']}/{stage['samples']} = {shown} ({stage['reference']})"
    return name, status, f"{detail}\n[dim]{stage.get('seconds', 0)} s[/dim]"


def print_report(report: dict[str, Any], console: Console, path: Path) -> None:
    """The table of stages, the memory after both loads, where the JSON is."""
    table = Table(title="GPU check", show_lines=True)
    for column in ("stage", "result", "details"):
        table.add_column(column, overflow="fold")
    names = {
        "funaudiochat": "load Fun-Audio-Chat",
        "cosyvoice3": "load CosyVoice3",
        "turn": "spoken turn",
        "tts": "CosyVoice3 speed",
        "bfcl": "Speech-BFCL-Single",
    }
    for key, name in names.items():
        table.add_row(*_row(name, report["stages"][key]))
    table.add_row("GPU memory after both loads", "", _memory_cell(report["gpu_memory"]))
    console.print(table)
    verdict = (
        "[green]all stages ran, every tensor fit[/green]" if report["ok"] else "[red]failed[/red]"
    )
    console.print(f"{verdict}; {report['total_seconds']} s; report: {path}")


def gpu_check(
    funaudiochat: Annotated[
        Path, typer.Option("--funaudiochat", help="The Fun-Audio-Chat-8B checkpoint directory.")
    ],
    cosyvoice: Annotated[
        Path, typer.Option("--cosyvoice", help="The Fun-CosyVoice3-0.5B model directory.")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Folder for gpu-check.json, reply.wav, bfcl/.")
    ] = Path("gpu-check"),
    device: Annotated[
        str, typer.Option("--device", help="cuda, cuda:N, or cpu (tiny checkpoints).")
    ] = "cuda",
    samples: Annotated[
        int, typer.Option("--samples", min=1, help="Speech-BFCL-Single samples to score.")
    ] = 20,
    audio: Annotated[
        Path | None, typer.Option("--audio", help="The turn's spoken request.")
    ] = None,
    tools: Annotated[Path | None, typer.Option("--tools", help="The turn's tool pack.")] = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="BFCL data (default: the pinned wheel).")
    ] = None,
    prompt_wav: Annotated[
        Path | None,
        typer.Option("--prompt-wav", help="The voice CosyVoice3 clones (default: Piper's)."),
    ] = None,
) -> None:
    """Load both GPU models, list tensor mismatches, run a turn, time the voice, score BFCL."""
    console = Console()
    # The home tools keep their state in SQLite (VOICE_AGENT_HOME_DB, else ./home.sqlite3):
    # the command keeps it beside the report rather than in the current folder.
    os.environ.setdefault("VOICE_AGENT_HOME_DB", str(out / "home.sqlite3"))
    report = run_check(
        funaudiochat,
        cosyvoice,
        out,
        device=device,
        samples=samples,
        audio=audio,
        tools=tools,
        data=data,
        prompt_wav=prompt_wav,
    )
    print_report(report, console, out / "gpu-check.json")
    raise typer.Exit(exit_code(report))


def main() -> None:
    """``python -m voice_agent.gpucheck``: the same command as ``voice-agent gpu-check``."""
    configure_logging(json=False, level="WARNING", sensitive=False)
    typer.run(gpu_check)


if __name__ == "__main__":
    main()
