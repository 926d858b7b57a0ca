"""Run a model over a suite: resumable, one JSON line per sample, with a live progress bar.

The query (typed, or synthesized and degraded audio) goes to the understanding model, the tool
layer parses its raw output, and the benchmark's checker scores the calls. By default the model
is asked directly (``understand``); ``through_agent`` runs each sample as one turn of a
:class:`~voice_agent.agent.VoiceAgent` in scoring mode instead (perceive, then the agent's own
prompt and history, policies switched off, nothing run), so that a score says what the agent
would have done. Each result is appended and flushed as soon as it is
known, so a killed run resumes where it stopped and loses nothing already done.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from voice_agent.errors import ConfigError
from voice_agent.evals import acebench, bfcl
from voice_agent.evals._samples import Sample
from voice_agent.evals._speech import Augmentation, SpeechSource
from voice_agent.evals._wer import word_errors
from voice_agent.log import get_logger
from voice_agent.models import (
    ConversationalModel,
    Understanding,
    UnderstandingModel,
    UnderstandingRequest,
)
from voice_agent.tools import (
    Tool,
    ToolError,
    ToolRegistry,
    normalize_bfcl_schema,
    parse_tool_calls,
    tool_vocabulary,
)

__all__ = ["RunSummary", "read_results", "run_samples", "score_output"]

log = get_logger(__name__)


def score_output(sample: Sample, output: str) -> tuple[list[dict[str, Any]], bfcl.Verdict]:
    """Parse a raw model output with the tool layer and score it with the benchmark's checker."""
    names = [str(f.get("name")) for f in sample.functions]
    parsed = parse_tool_calls(output, known=names)
    decoded = bfcl.calls_to_decoded(parsed.calls)
    entry = sample.entry
    if isinstance(entry, bfcl.BfclEntry):
        if sample.category in bfcl.AST_CATEGORIES and not parsed.calls:
            reason = "; ".join(parsed.problems) or "the model answered without a call"
            return decoded, bfcl.Verdict.fail("ast_decoder:decoder_failed", reason)
        return decoded, bfcl.score_decoded(entry, sample.category, decoded)
    if sample.category in acebench.SPECIAL_CATEGORIES:
        return decoded, acebench.check_special(sample.category, output, entry.answer)
    return decoded, acebench.check_normal(entry.functions, decoded, entry.answer, sample.category)


def read_results(path: Path) -> list[dict[str, Any]]:
    """The complete result lines of a results file; a torn last line (a killed run) is dropped
    and cut from the file so that appending goes on cleanly."""
    if not path.exists():
        return []
    raw = path.read_bytes()
    complete = raw[: raw.rfind(b"\n") + 1]
    if len(complete) != len(raw):
        log.warning("eval.torn_line_dropped", path=str(path), bytes=len(raw) - len(complete))
        with path.open("r+b") as f:
            f.truncate(len(complete))
    records = []
    for number, line in enumerate(complete.decode("utf-8").splitlines(), 1):
        try:
            records.append(json.loads(line))
        except ValueError:
            log.warning("eval.bad_result_line", path=str(path), line=number)
    return records


@dataclass(slots=True, kw_only=True)
class RunSummary:
    """What one call of :func:`run_samples` did."""

    results_path: Path
    done_before: int = 0
    """Samples found already done (resumed)."""
    ran: int = 0
    correct: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    """Samples whose model call failed (key → the exception, as ``Type: message``); they are
    not written, so a rerun retries them."""


async def run_samples(
    samples: Iterable[Sample],
    model: UnderstandingModel,
    out_dir: Path,
    *,
    speech: SpeechSource | None = None,
    augmentation: Augmentation | None = None,
    asr_bias: bool = True,
    concurrency: int = 1,
    show_progress: bool = True,
    through_agent: bool = False,
) -> RunSummary:
    """Put every sample not yet in ``out_dir/results.jsonl`` to ``model`` and record the result.

    Args:
        asr_bias: tell the recognizer to expect the words of the sample's function docs, as the
            agent does for its registered tools (:func:`voice_agent.tools.tool_vocabulary`).
        through_agent: run each sample as an agent turn in scoring mode (``model`` must then
            be a :class:`~voice_agent.models.ConversationalModel`), not through ``understand``.
        concurrency: samples in flight at once. Pays against a model server that answers
            several requests together (vLLM, llama.cpp's server with parallel slots); an
            embedded model answers one at a time whatever this says. Lines are written in the
            order samples finish, each whole, so a resumed run reads them the same way.

    Raises:
        ConfigError: a speech sample and no ``speech`` source (a voice's cache or recordings),
            or a concurrency below 1.
    """
    if concurrency < 1:
        raise ConfigError(f"concurrency must be at least 1, not {concurrency}")
    path, done = _open_results(out_dir)
    todo = [s for s in samples if s.key not in done]
    summary = RunSummary(results_path=path, done_before=len(done))
    augmentation = augmentation or Augmentation()
    if any(s.modality == "speech" for s in todo) and speech is None:
        raise ConfigError("speech suites need a voice to synthesize the queries")
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("acc {task.fields[accuracy]}"),
        TimeRemainingColumn(),
        disable=not show_progress,
    )
    with progress, path.open("a", encoding="utf-8") as results:
        task = progress.add_task(f"{len(todo)} to run", total=len(todo), accuracy="–")
        pending = iter(todo)

        async def worker() -> None:
            for sample in pending:  # one iterator shared by the workers: each sample once
                record = await _run_one(
                    sample, model, speech, augmentation, asr_bias=asr_bias, agent=through_agent
                )
                _record(results, summary, sample, record)
                accuracy = f"{summary.correct / summary.ran:.1%}" if summary.ran else "–"
                progress.update(task, advance=1, accuracy=accuracy)

        await _in_parallel(worker, min(concurrency, len(todo)))
    return summary


async def _in_parallel(worker: Callable[[], Coroutine[Any, Any, None]], count: int) -> None:
    """Run ``count`` copies of ``worker``; the first failure stops the others and is raised as
    itself (not wrapped in an ExceptionGroup), so callers catch a ConfigError as before."""
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(count):
                group.create_task(worker())
    except ExceptionGroup as e:
        raise e.exceptions[0] from None


def _record(
    results: TextIO, summary: RunSummary, sample: Sample, record: dict[str, Any] | str
) -> None:
    """Append one sample's line (or, for a failed model call, its reason to the summary). One
    ``write`` of a whole line with no ``await`` before the flush, so concurrent samples never
    interleave inside a line."""
    if isinstance(record, str):
        summary.errors[sample.key] = record
        return
    results.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
    results.flush()
    os.fsync(results.fileno())
    summary.ran += 1
    summary.correct += bool(record["valid"])


def _open_results(out_dir: Path) -> tuple[Path, set[str]]:
    """The results file of ``out_dir`` and the keys of the samples it already holds."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "results.jsonl"
    return path, {f"{r.get('suite')}/{r.get('id')}" for r in read_results(path)}


async def _run_one(
    sample: Sample,
    model: UnderstandingModel,
    speech: SpeechSource | None,
    augmentation: Augmentation,
    *,
    asr_bias: bool,
    agent: bool = False,
) -> dict[str, Any] | str:
    """The sample's result line, or why the model call failed."""
    tools = [
        {
            "name": f.get("name"),
            "description": f.get("description", ""),
            "parameters": normalize_bfcl_schema(
                f.get("parameters") or f.get("arguments") or {"type": "object"}
            ),
        }
        for f in sample.functions
    ]
    timings: dict[str, float] = {}
    audio = None
    if sample.modality == "speech":
        assert speech is not None
        start = time.perf_counter()
        audio = augmentation.apply(await speech.speech(sample.query, sample.id), sample.id)
        timings["speech_ms"] = (time.perf_counter() - start) * 1000
    hints = tool_vocabulary(tools) if audio is not None and asr_bias else []
    request = UnderstandingRequest(
        audio=audio,
        text=None if audio is not None else sample.query,
        tools=tools,
        metadata={"sample_id": sample.id, "suite": sample.suite},
        asr_hints=hints,
    )
    log.info("eval.sample_started", id=sample.id)  # the model's own log lines follow it
    start = time.perf_counter()
    try:
        understanding = await (
            _through_agent(model, request)  # type: ignore[arg-type]
            if agent
            else model.understand(request)
        )
    except Exception as e:
        log.exception("eval.model_failed", sample=sample.key, error=type(e).__name__)
        return f"{type(e).__name__}: {e}"
    timings["model_ms"] = (time.perf_counter() - start) * 1000
    decoded, verdict = score_output(sample, understanding.output)
    spoken = sample.modality == "speech"
    return {
        "suite": sample.suite,
        "benchmark": sample.benchmark,
        "category": sample.category,
        "id": sample.id,
        "modality": sample.modality,
        "augmentation": augmentation.label if spoken else None,
        "asr_hints": len(hints) if spoken else None,
        **(_heard(sample.query, understanding.transcript) if spoken else {}),
        "model": model.name,
        "path": "agent" if agent else "understand",
        "output": understanding.output,
        "calls": decoded,
        "valid": verdict.valid,
        "error_type": verdict.error_type,
        "latency_ms": {k: round(v, 2) for k, v in timings.items()},
    }


def _not_run(**arguments: Any) -> None:
    """The handler of a benchmark's function: a scoring turn never runs one."""
    raise ToolError("benchmark functions are scored, not run")


async def _through_agent(
    model: ConversationalModel, request: UnderstandingRequest
) -> Understanding:
    """The sample as one turn of an agent in scoring mode: the model perceives the query, then
    answers with the agent's prompt and history; its first step's raw text is the output."""
    from voice_agent.agent import VoiceAgent
    from voice_agent.models.profiles import Profile
    from voice_agent.models.tts import EspeakTTS

    registry = ToolRegistry(
        [
            Tool.from_schema(
                str(t["name"]), t["parameters"], _not_run, description=str(t["description"])
            )
            for t in request.tools
        ]
    )
    agent = VoiceAgent(
        tools=registry,
        profile=Profile(name=f"eval:{model.name}", understanding=model, tts=EspeakTTS()),
        interactive=False,
        speak=False,
        asr_bias=bool(request.asr_hints),
        scoring=True,
    )
    result = await agent.turn(request.audio, text=request.text)
    last = agent.history[-1] if agent.history else None
    return Understanding(
        output=last.content if last is not None and last.role == "assistant" else "",
        transcript=result.transcript if request.audio is not None else None,
        emotion=result.emotion,
        timings_ms=result.timings_ms,
    )


def _heard(query: str, transcript: str | None) -> dict[str, Any]:
    """What the recognizer heard and how far it is from what was said. A model that hears the
    audio itself (no transcript) leaves the fields empty rather than guessing."""
    if transcript is None:
        return {"said": query, "transcript": None, "wer": None, "misheard": None}
    errors = word_errors(query, transcript)
    return {
        "said": query,
        "transcript": transcript,
        "wer": round(errors.rate, 4),
        "word_errors": errors.errors,
        "words": errors.words,
        "misheard": errors.misheard,
    }
