"""Spoken home requests, end to end: is the whole turn right, per voice, per model, biased or not?

Run by hand (2 cores: a full run takes most of an hour; start small)::

    PYTHONPATH=. python benchmarks/spoken_requests.py --limit 5 --voices espeak-rp --speeds 1
    PYTHONPATH=. python benchmarks/spoken_requests.py         # 0.5B and 1.5B, bias on and off

The requests are data (``spoken_requests.yaml``: text, the calls that must run, the tools that
must not run without confirmation). Each is rendered by voices the tests do not use (espeak-ng
en-GB RP with the m3 variant, flite's slt, festival's kal diphone voice) at two speeds, cached
under ``$VOICE_AGENT_CACHE/benchmarks/spoken_requests``, and given to the real agent
(``VoiceAgent(speak=False, interactive=False)`` on the cpu-default profile, ``llm`` swapped),
so it measures what a user gets: Whisper, the emotion estimator, the model under its grammar,
the tool layer's validation and confirmation. A turn is right when exactly the expected calls
ran with the expected arguments and every risky call ended as "needs confirmation". The same
requests typed (no ASR) give each model's ceiling, and the baseline each spoken row is compared
to. The model's first step is all that decides the calls (after results it may only speak), so
turns stop there unless ``--full-turns``.

Also counted: calls whose string argument is the parameter's own description (the 0.5B once
played "The artist or band to play.").
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from voice_agent.agent import VoiceAgent
from voice_agent.audio import Audio, load_audio
from voice_agent.evals import word_errors
from voice_agent.models._weights import cache_dir
from voice_agent.models.llm.llama import DEFAULT_SYSTEM
from voice_agent.models.profiles import load_profile
from voice_agent.policies import EmotionPolicy
from voice_agent.tools import ToolRegistry, description_copies, unsaid_examples

ROOT = Path(__file__).resolve().parents[1]
REQUESTS = Path(__file__).with_suffix(".yaml")
TOOLS = (ROOT / "examples/home/tools.py", Path(__file__).with_name("spoken_requests_tools.py"))
console = Console(width=150)


# --- voices ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Voice:
    """A Debian speech synthesizer with one voice; ``speed`` 1.0 is its normal rate."""

    name: str
    render: Callable[[str, float, Path], None]


def _espeak(voice: str) -> Callable[[str, float, Path], None]:
    def render(text: str, speed: float, out: Path) -> None:
        rate = str(round(160 * speed))
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", rate, "-w", str(out), "--", text], check=True
        )

    return render


def _flite(voice: str) -> Callable[[str, float, Path], None]:
    def render(text: str, speed: float, out: Path) -> None:
        stretch = f"duration_stretch={1 / speed:.3f}"
        subprocess.run(
            ["flite", "-voice", voice, "--setf", stretch, "-t", text, "-o", str(out)], check=True
        )

    return render


def _festival(text: str, speed: float, out: Path) -> None:
    stretch = f"(Parameter.set 'Duration_Stretch {1 / speed:.3f})"
    subprocess.run(["text2wave", "-eval", stretch, "-o", str(out)], input=text.encode(), check=True)


VOICES = {
    "espeak-rp": Voice("espeak-ng en-gb-x-rp+m3", _espeak("en-gb-x-rp+m3")),
    "flite-slt": Voice("flite slt", _flite("slt")),
    "festival-kal": Voice("festival kal_diphone", _festival),
}
SPEEDS = (1.0, 1.3)


def rendered(voice: str, speed: float, text: str) -> Audio:
    """The request spoken by ``voice`` at ``speed``, from the cache when it is there."""
    key = hashlib.sha256(f"{voice}|{speed}|{text}".encode()).hexdigest()[:16]
    path = cache_dir() / "benchmarks" / "spoken_requests" / f"{voice}-{speed}-{key}.wav"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part.wav")
        VOICES[voice].render(text, speed, partial)
        partial.replace(path)
    return load_audio(path).resampled(16_000)


# --- scoring --------------------------------------------------------------------------------


def _norm(value: str) -> str:
    value = value.lower().replace("p.m.", "pm").replace("a.m.", "am")
    value = re.sub(r"(\d)\s*(am|pm)\b", r"\1 \2", value)
    return " ".join(re.findall(r"[a-z0-9:.']+", value)).strip(". ")


def value_matches(expected: Any, actual: Any) -> bool:
    """One argument against the expectation (a list means any of its alternatives)."""
    if isinstance(expected, list):
        return any(value_matches(e, actual) for e in expected)
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, int | float):
        return isinstance(actual, int | float) and abs(actual - expected) < 1e-6
    if isinstance(expected, str):
        return isinstance(actual, str) and _norm(expected) == _norm(actual)
    return bool(expected == actual)


def call_matches(
    expected: Mapping[str, Any], call: Mapping[str, Any], schema: Mapping[str, Any]
) -> bool:
    """A call against an expected one, by what the tool receives: an argument beyond the
    expected ones must be the default, or listed under the expectation's ``ignore``; an
    expected one left out must be the default (the tool gets it all the same)."""
    if call["name"] != expected["name"]:
        return False
    want, ignore = expected.get("arguments", {}), set(expected.get("ignore", ()))
    properties = schema.get("parameters", {}).get("properties", {})
    for key, value in call["arguments"].items():
        if key in want:
            if not value_matches(want[key], value):
                return False
        elif key not in ignore and properties.get(key, {}).get("default", ...) != value:
            return False
    return all(
        key in call["arguments"] or value_matches(want[key], properties.get(key, {}).get("default"))
        for key in want
    )


def turn_correct(
    request: Mapping[str, Any], calls: Sequence[Mapping[str, Any]], registry: ToolRegistry
) -> bool:
    """Exactly the expected calls ran (any order), and every blocked tool waited for a yes."""
    ran = [c for c in calls if c["status"] == "ran"]
    left = list(request.get("calls", []))
    if len(ran) != len(left):
        return False
    for call in ran:
        tool = registry.get(call["name"])
        schema = tool.schema if tool else {}
        match = next((e for e in left if call_matches(e, call, schema)), None)
        if match is None:
            return False
        left.remove(match)
    for name in request.get("blocked", []):
        if not any(c["name"] == name and c["status"] == "needs confirmation" for c in calls):
            return False
    return all(c["status"] in ("ran", "needs confirmation") for c in calls)


def copied_descriptions(
    calls: Sequence[Mapping[str, Any]], registry: ToolRegistry, said: str
) -> list[str]:
    """``tool:description`` for each argument that is its parameter's description, and
    ``tool:example`` for one that is the description's example the user did not say."""
    out = []
    for call in calls:
        tool = registry.get(call["name"])
        if tool is not None:
            arguments = call["arguments"]
            out += [f"{tool.name}:description"] * len(
                description_copies(tool.parameters, arguments)
            )
            out += [f"{tool.name}:example"] * len(unsaid_examples(tool.parameters, arguments, said))
    return out


# --- running --------------------------------------------------------------------------------


@dataclass
class Turn:
    """One request heard (or read) by one configuration."""

    model: str
    bias: bool
    voice: str
    speed: float
    id: str
    text: str
    transcript: str
    correct: bool
    errors: int
    words: int
    calls: list[dict[str, Any]]
    copied: list[str]
    timings_ms: dict[str, float] = field(default_factory=dict)


async def run_config(
    model: str,
    bias: bool,
    requests: list[dict[str, Any]],
    inputs: list[tuple[str, float]],
    full_turns: bool,
    on_turn: Callable[[Turn], None] | None = None,
    system_extra: str = "",
    demos: Sequence[Sequence[str]] | None = None,
    another_call_below: float | None = None,
) -> list[Turn]:
    """Every request in every (voice, speed) of ``inputs`` (voice ``typed``: text turns)."""
    profile = load_profile("cpu-default", llm=model, another_call_below=another_call_below)
    llm = getattr(profile.understanding, "llm", None)
    if system_extra and llm is not None:  # a prompt wording to try (the lead owns llama.py's)
        llm.system = f"{DEFAULT_SYSTEM} {system_extra}"
    if demos is not None and llm is not None:
        llm.demonstrations = tuple((role, text) for role, text in demos)
    registry = home_registry()
    # Every request is neutral speech, so its reply style is the neutral one (issue 12 item 3:
    # an estimate under the threshold never changes it); styles that changed with a guessed
    # emotion would make llama.cpp re-read the tools block on most turns (~7 s), which is
    # measured by benchmarks/turn_latency.py, not here.
    policy = EmotionPolicy.from_yaml()
    policy.min_confidence = 1.01
    warm = VoiceAgent(tools=registry, profile=profile, speak=False, interactive=False)
    await warm.start()
    await warm.turn(rendered("espeak-rp", 1.0, "Turn on the kitchen lights."))  # loads the ASR
    turns: list[Turn] = []
    for voice, speed in inputs:
        for request in requests:
            agent = VoiceAgent(
                tools=registry,
                profile=profile,
                emotion_policy=policy,
                speak=False,
                interactive=False,
                asr_bias=bias,
                max_steps=3 if full_turns else 1,
                acknowledge_after=None,
            )
            if voice == "typed":
                result = await agent.turn(text=request["text"])
            else:
                result = await agent.turn(rendered(voice, speed, request["text"]))
            heard = word_errors(request["text"], result.transcript)
            calls = [
                {"name": c.name, "arguments": c.arguments, "status": c.status}
                for c in result.tool_calls
            ]
            turn = Turn(
                model=model,
                bias=bias,
                voice=voice,
                speed=speed,
                id=request["id"],
                text=request["text"],
                transcript=result.transcript,
                correct=turn_correct(request, calls, registry),
                errors=heard.errors,
                words=heard.words,
                calls=calls,
                copied=copied_descriptions(calls, registry, request["text"]),
                timings_ms={k: round(v, 1) for k, v in result.timings_ms.items()},
            )
            turns.append(turn)
            if on_turn is not None:
                on_turn(turn)
            mark = "[green]✓[/green]" if turn.correct else "[red]✗[/red]"
            console.print(
                f"{mark} {model} bias={'on' if bias else 'off'} {voice} {speed} {request['id']}: "
                f"{result.transcript!r} → "
                + "; ".join(
                    f"{c['name']}({json.dumps(c['arguments'])}) {c['status']}" for c in turn.calls
                ),
                soft_wrap=True,
                highlight=False,
            )
    if llm is not None:
        llm.close()  # the next model gets the memory
    return turns


# --- report ---------------------------------------------------------------------------------


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(turns: list[Turn]) -> None:
    """Per-row accuracy and WER for every configuration, then a summary per configuration."""
    configs = sorted({(t.model, t.bias) for t in turns}, key=lambda c: (c[0], not c[1]))
    rows = sorted({(t.voice, t.speed) for t in turns}, key=lambda r: (r[0] == "typed", r))
    table = Table(title="Whole-turn accuracy (right tools, right arguments) and WER, per voice")
    table.add_column("voice")
    table.add_column("speed", justify="right")
    for model, bias in configs:
        table.add_column(f"{model} bias {'on' if bias else 'off'}", justify="right")
    for voice, speed in rows:
        cells = []
        for model, bias in configs:
            these = [
                t
                for t in turns
                if (t.model, t.bias, t.voice, t.speed) == (model, bias, voice, speed)
            ]
            if not these:
                cells.append("–")
                continue
            accuracy = 100 * sum(t.correct for t in these) / len(these)
            wer = 100 * sum(t.errors for t in these) / max(1, sum(t.words for t in these))
            cells.append(f"{accuracy:.0f} %" + ("" if voice == "typed" else f"  WER {wer:.0f} %"))
        table.add_row(voice, "–" if voice == "typed" else f"{speed:g}×", *cells)
    console.print(table)

    summary = Table(title="Per configuration (spoken rows only; ratio against the typed requests)")
    for column in (
        "model",
        "ASR bias",
        "turns",
        "accuracy",
        "typed",
        "spoken/typed",
        "WER",
        "copied descr. / example",
        "ASR ms (median)",
        "model step ms (median)",
        "turn ms (median)",
    ):
        summary.add_column(column, justify="right")
    for model, bias in configs:
        spoken = [t for t in turns if (t.model, t.bias) == (model, bias) and t.voice != "typed"]
        typed = [t for t in turns if t.model == model and t.voice == "typed"]
        accuracy = 100 * sum(t.correct for t in spoken) / max(1, len(spoken))
        ceiling = (
            100 * sum(t.correct for t in typed) / max(1, len(typed)) if typed else float("nan")
        )
        wer = 100 * sum(t.errors for t in spoken) / max(1, sum(t.words for t in spoken))
        copied = [c for t in turns if (t.model, t.bias) == (model, bias) for c in t.copied]
        described = sum(c.endswith(":description") for c in copied)
        copies = f"{described} / {len(copied) - described}"
        summary.add_row(
            model,
            "on" if bias else "off",
            str(len(spoken)),
            f"{accuracy:.1f} %",
            f"{ceiling:.1f} %",
            f"{accuracy / ceiling:.2f}" if ceiling == ceiling and ceiling else "–",
            f"{wer:.1f} %",
            copies,
            f"{_median([t.timings_ms.get('asr', 0.0) for t in spoken]):.0f}",
            f"{_median([t.timings_ms.get('model_step0', 0.0) for t in spoken + typed]):.0f}",
            f"{_median([t.timings_ms.get('turn', 0.0) for t in spoken]):.0f}",
        )
    console.print(summary)


def home_registry() -> ToolRegistry:
    """The home tools plus the benchmark's timer, reminder and music tools."""
    registry = ToolRegistry()
    for path in TOOLS:
        registry.register_path(path)
    return registry


def rescored(path: Path) -> list[Turn]:
    """The turns of a results file, judged again against the current expectations."""
    requests = {r["id"]: r for r in yaml.safe_load(REQUESTS.read_text())["requests"]}
    registry = home_registry()
    turns = [Turn(**t) for t in json.loads(path.read_text())]
    for turn in turns:
        turn.correct = turn_correct(requests[turn.id], turn.calls, registry)
        turn.copied = copied_descriptions(turn.calls, registry, turn.text)
    return turns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="0.5b,1.5b", help="comma-separated: 0.5b, 1.5b")
    parser.add_argument("--bias", default="on,off", help="comma-separated: on, off")
    parser.add_argument(
        "--voices", default=",".join(VOICES), help=f"comma-separated: {', '.join(VOICES)}"
    )
    parser.add_argument(
        "--speeds", default=",".join(map(str, SPEEDS)), help="comma-separated rates"
    )
    parser.add_argument("--limit", type=int, default=None, help="only the first N requests")
    parser.add_argument("--ids", default=None, help="only these request ids (comma-separated)")
    parser.add_argument("--no-typed", action="store_true", help="skip the typed ceiling")
    parser.add_argument("--full-turns", action="store_true", help="let turns end in words")
    parser.add_argument("--out", type=Path, default=Path("spoken_requests_results.json"))
    parser.add_argument("--system-extra", default="", help="words added to the system prompt")
    parser.add_argument("--demos", type=Path, default=None, help="YAML [role, text] turns shown")
    parser.add_argument(
        "--another-call-below",
        type=float,
        default=None,
        help="continue after a call while p(end) is below this (default the model's, 0.99)",
    )
    parser.add_argument(
        "--rescore", type=Path, default=None, help="score a results file again (no model runs)"
    )
    args = parser.parse_args()
    if args.rescore:
        report(rescored(args.rescore))
        return
    for program in ("espeak-ng", "flite", "text2wave"):
        if shutil.which(program) is None:
            raise SystemExit(f"{program} is missing: apt-get install espeak-ng flite festival")
    requests = yaml.safe_load(REQUESTS.read_text())["requests"]
    if args.ids:
        wanted = set(args.ids.split(","))
        requests = [r for r in requests if r["id"] in wanted]
    requests = requests[: args.limit]
    voices = [v for v in args.voices.split(",") if v]  # --voices "" runs the typed ceiling only
    inputs = [(v, float(s)) for v in voices for s in args.speeds.split(",")]
    if not args.no_typed:
        inputs.append(("typed", 1.0))
    for voice, speed in inputs:  # render everything first, so timings do not include it
        if voice != "typed":
            for request in requests:
                rendered(voice, speed, request["text"])
    turns: list[Turn] = []
    started = time.perf_counter()

    def save(turn: Turn) -> None:  # after every turn: a long run stopped early keeps its turns
        turns.append(turn)
        args.out.write_text(json.dumps([asdict(t) for t in turns], indent=1))

    demos = yaml.safe_load(args.demos.read_text()) if args.demos else None
    for model in args.models.split(","):
        for i, bias in enumerate(args.bias.split(",")):
            these = inputs if i == 0 else [x for x in inputs if x[0] != "typed"]  # bias: no effect
            asyncio.run(
                run_config(
                    model,
                    bias == "on",
                    requests,
                    these,
                    args.full_turns,
                    save,
                    args.system_extra,
                    demos,
                    args.another_call_below,
                )
            )
    report(turns)
    console.print(
        f"{len(turns)} turns in {time.perf_counter() - started:.0f} s; results: {args.out}"
    )


if __name__ == "__main__":
    main()
