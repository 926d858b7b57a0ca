"""The report of a run: a markdown table a person reads at a glance, beside the published
reference numbers, and PNG plots of the same."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from voice_agent.evals import acebench, bfcl
from voice_agent.evals._flips import flips, heard_rows
from voice_agent.evals._runner import read_results

__all__ = ["REFERENCE", "CategoryRow", "build_report", "category_rows"]

REFERENCE: dict[str, dict[str, float]] = {
    # Accuracy (%) from the Fun-Audio-Chat report's speech function-calling tables
    # (REFERENCE.md §4). ACEBench there is Mandarin and human-recorded.
    "BFCL-Single": {
        "GPT-Audio": 88.58,
        "Gemini-2.5-Pro": 88.41,
        "Step-Audio2-Mini": 77.51,
        "Fun-Audio-Chat-30B-A3B": 92.21,
        "Fun-Audio-Chat-8B": 92.73,
    },
    "BFCL-Parallel": {
        "GPT-Audio": 83.60,
        "Gemini-2.5-Pro": 80.91,
        "Step-Audio2-Mini": 49.73,
        "Fun-Audio-Chat-30B-A3B": 86.29,
        "Fun-Audio-Chat-8B": 87.63,
    },
    "ACEBench-Single": {
        "GPT-Audio": 68.30,
        "Gemini-2.5-Pro": 68.30,
        "Step-Audio2-Mini": 38.90,
        "Fun-Audio-Chat-30B-A3B": 76.40,
        "Fun-Audio-Chat-8B": 66.30,
    },
    "ACEBench-Parallel": {
        "GPT-Audio": 60.20,
        "Gemini-2.5-Pro": 53.40,
        "Step-Audio2-Mini": 4.50,
        "Fun-Audio-Chat-30B-A3B": 59.10,
        "Fun-Audio-Chat-8B": 54.50,
    },
}
_POOLS: dict[str, tuple[str, ...]] = {
    "BFCL-Single": ("simple_python", "multiple"),
    "BFCL-Parallel": ("parallel", "parallel_multiple"),
    "ACEBench-Single": ("normal_single_turn_single_function",),
    "ACEBench-Parallel": ("normal_single_turn_parallel_function",),
}


_LEADERBOARD_ROWS = {
    "non_live_ast": "BFCL Non-Live AST",
    "live_ast": "BFCL Live AST",
    "irrelevance": "BFCL irrelevance",
    "relevance": "BFCL live relevance",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class CategoryRow:
    """Accuracy of one category in one modality."""

    modality: str
    benchmark: str
    category: str
    n: int
    correct: int
    accuracy: float
    """0-1; ACEBench multi-turn categories count whole conversations, as the official runner."""
    p50_ms: float
    p90_ms: float


def _percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def category_rows(records: Sequence[dict[str, Any]]) -> list[CategoryRow]:
    """Per-category accuracy and model latency, grouped by modality."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[(r["modality"], r["benchmark"], r["category"])].append(r)
    rows = []
    for (modality, benchmark, category), items in sorted(groups.items()):
        correct = sum(bool(r["valid"]) for r in items)
        if category in acebench.MULTI_TURN_CATEGORIES:
            verdicts = [
                (r["id"], bfcl.Verdict(valid=bool(r["valid"])))
                for r in sorted(items, key=lambda r: _id_order(r["id"]))
            ]
            accuracy = acebench.multi_turn_accuracy(verdicts)[0]
        else:
            accuracy = correct / len(items)
        latencies = [r["latency_ms"].get("model_ms", 0.0) for r in items]
        rows.append(
            CategoryRow(
                modality=modality,
                benchmark=benchmark,
                category=category,
                n=len(items),
                correct=correct,
                accuracy=accuracy,
                p50_ms=_percentile(latencies, 50),
                p90_ms=_percentile(latencies, 90),
            )
        )
    return rows


def _id_order(entry_id: str) -> tuple[int, ...]:
    return tuple(int(p) for p in entry_id.split("_") if p.isdigit())


def _summaries(rows: Sequence[CategoryRow]) -> dict[str, dict[str, float]]:
    """Pooled rows (BFCL-Single, …) and BFCL's leaderboard summaries, per modality, in %."""
    out: dict[str, dict[str, float]] = defaultdict(dict)
    by_key = {(r.modality, r.category): r for r in rows}
    for modality in sorted({r.modality for r in rows}):
        for name, pool in _POOLS.items():
            parts = [by_key[(modality, c)] for c in pool if (modality, c) in by_key]
            if parts:
                out[name][modality] = 100 * sum(p.correct for p in parts) / sum(p.n for p in parts)
        scores = {
            r.category: bfcl.CategoryScore(category=r.category, correct=r.correct, total=r.n)
            for r in rows
            if r.modality == modality and r.benchmark == "bfcl"
        }
        for name, value in bfcl.leaderboard_summary(scores).items():
            if value is not None:
                out[_LEADERBOARD_ROWS[name]][modality] = 100 * value
    return out


def _plots(
    rows: Sequence[CategoryRow],
    summaries: dict[str, dict[str, float]],
    records: Sequence[dict[str, Any]],
    out_dir: Path,
) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    categories = sorted({r.category for r in rows})
    modalities = sorted({r.modality for r in rows})
    by_key = {(r.modality, r.category): r.accuracy * 100 for r in rows}
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(categories)), 4))
    width = 0.8 / max(1, len(modalities))
    for i, modality in enumerate(modalities):
        xs = np.arange(len(categories)) + i * width
        bars = ax.bar(xs, [by_key.get((modality, c), 0) for c in categories], width, label=modality)
        ax.bar_label(bars, fmt="%.1f", fontsize=8)
    ax.set_xticks(np.arange(len(categories)) + width * (len(modalities) - 1) / 2)
    ax.set_xticklabels(categories, rotation=30, ha="right")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Accuracy by category")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "accuracy_by_category.png", dpi=110)
    plt.close(fig)
    made.append("accuracy_by_category.png")

    names = [n for n in _POOLS if n in summaries]
    if names:
        systems = list(next(iter(REFERENCE.values())))
        fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.6), squeeze=False)
        for ax, name in zip(axes[0], names, strict=True):
            labels = [f"ours ({m})" for m in summaries[name]] + systems
            values = list(summaries[name].values()) + [REFERENCE[name][s] for s in systems]
            colors = ["tab:orange"] * len(summaries[name]) + ["tab:gray"] * len(systems)
            bars = ax.barh(labels, values, color=colors)
            ax.bar_label(bars, fmt="%.1f", fontsize=8, padding=2)
            ax.set_xlim(0, 100)
            ax.set_title(name)
            ax.invert_yaxis()
        fig.tight_layout()
        fig.savefig(out_dir / "summary_vs_reference.png", dpi=110)
        plt.close(fig)
        made.append("summary_vs_reference.png")

    fig, ax = plt.subplots(figsize=(6, 3.2))
    data = [
        [r["latency_ms"].get("model_ms", 0.0) for r in records if r["modality"] == m]
        for m in modalities
    ]
    ax.boxplot(data, tick_labels=modalities)
    ax.set_ylabel("model time per sample (ms)")
    ax.set_title("Latency")
    fig.tight_layout()
    fig.savefig(out_dir / "latency.png", dpi=110)
    plt.close(fig)
    made.append("latency.png")
    return made


def build_report(out_dir: Path) -> Path:
    """Write ``report.md`` and the PNG plots for the results in ``out_dir``; return the report.

    Raises:
        ConfigError: there are no results yet.
    """
    from voice_agent.errors import ConfigError

    records = read_results(out_dir / "results.jsonl")
    if not records:
        raise ConfigError(f"no results in {out_dir}; run `voice-agent eval run` first")
    rows = category_rows(records)
    summaries = _summaries(rows)
    images = _plots(rows, summaries, records, out_dir)
    models = sorted({str(r.get("model")) for r in records})
    augment = sorted({str(r["augmentation"]) for r in records if r.get("augmentation")})
    lines = [
        "# Function-calling evaluation",
        "",
        f"Model: {', '.join(models)} · {len(records)} samples"
        + (f" · speech: {', '.join(augment)}" if augment else ""),
        "",
        "## Accuracy by category",
        "",
        "| modality | benchmark | category | n | correct | accuracy | p50 ms | p90 ms |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.modality} | {r.benchmark} | {r.category} | {r.n} | {r.correct} | "
        f"{100 * r.accuracy:.2f}% | {r.p50_ms:.0f} | {r.p90_ms:.0f} |"
        for r in rows
    ]
    if summaries:
        systems = list(next(iter(REFERENCE.values())))
        modalities = sorted({m for values in summaries.values() for m in values})
        lines += [
            "",
            "## Summary beside published results (accuracy %)",
            "",
            "| | "
            + " | ".join(f"ours, {m}" for m in modalities)
            + " | "
            + " | ".join(systems)
            + " |",
            "|---|" + "---:|" * (len(modalities) + len(systems)),
        ]
        for name, values in summaries.items():
            ours = [f"{values[m]:.2f}" if m in values else "–" for m in modalities]
            theirs = [f"{REFERENCE[name][s]:.2f}" if name in REFERENCE else "–" for s in systems]
            lines.append(f"| {name} | " + " | ".join(ours + theirs) + " |")
        lines += [
            "",
            "Published rows are speech results from the Fun-Audio-Chat report; their "
            "ACEBench is Mandarin and human-recorded. Ours is the data given with --data "
            "(ACEBench's data_en is English, data_zh Mandarin), typed or synthesized as the "
            "column says.",
        ]
    lines += _heard_lines(records)
    lines += [
        "",
        "## Latency (model time per sample, ms)",
        "",
        "| modality | n | p50 | p90 | p99 |",
        "|---|---:|---:|---:|---:|",
    ]
    for modality in sorted({r["modality"] for r in records}):
        latencies = [
            r["latency_ms"].get("model_ms", 0.0) for r in records if r["modality"] == modality
        ]
        lines.append(
            f"| {modality} | {len(latencies)} | {_percentile(latencies, 50):.0f} | "
            f"{_percentile(latencies, 90):.0f} | {_percentile(latencies, 99):.0f} |"
        )
    lines += ["", *[f"![{name}]({name})" for name in images], ""]
    report = out_dir / "report.md"
    report.write_text("\n".join(lines), encoding="utf-8")
    return report


def _cell(text: str | None) -> str:
    """Text safe inside a markdown table cell."""
    return (text or "").replace("|", "\\|").replace("\n", " ")


def _heard_lines(records: Sequence[dict[str, Any]]) -> list[str]:
    """What the spoken samples were heard as, and the entries that flipped between typed and
    spoken with the cause of each; nothing when the run has no spoken samples."""
    lines: list[str] = []
    rows = heard_rows(records)
    if rows:
        lines += [
            "",
            "## What was heard (spoken samples)",
            "",
            "| category | audio | n | WER | heard exactly | right, heard exactly | "
            "right, misheard |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for r in rows:
            misheard = r.n - r.exact
            lines.append(
                f"| {r.category} | {r.augmentation} | {r.n} | {100 * r.wer:.1f}% | "
                f"{r.exact} | {r.correct_exact}/{r.exact} | {r.correct_misheard}/{misheard} |"
            )
        wrong = [r for r in records if r.get("modality") == "speech" and r.get("word_errors")]
        if wrong:
            lines += [
                "",
                "Misheard samples (said → heard, normalised words):",
                "",
                "| id | audio | WER | right | misheard | transcript |",
                "|---|---|---:|:---:|---|---|",
            ]
            lines += [
                f"| {r['id']} | {r.get('augmentation') or 'clean'} | {100 * r['wer']:.0f}% | "
                f"{'✓' if r['valid'] else '✗'} | {_cell('; '.join(r['misheard']))} | "
                f"{_cell(r['transcript'])} |"
                for r in sorted(wrong, key=lambda r: (r["category"], _id_order(r["id"])))
            ]
    pairs, flipped = flips(records)
    if pairs:
        lost = [f for f in flipped if f.typed_valid]
        ear = [f for f in lost if f.misheard]
        lines += [
            "",
            "## Speech against text, entry by entry",
            "",
            f"{pairs} entries run both ways; {len(flipped)} flipped: {len(lost)} right typed "
            f"and wrong spoken ({len(ear)} on a wrong transcript, {len(lost) - len(ear)} on a "
            f"right one), {len(flipped) - len(lost)} wrong typed and right spoken.",
        ]
        if flipped:
            lines += [
                "",
                "| id | audio | typed | spoken | cause | transcript |",
                "|---|---|---|---|---|---|",
            ]
            lines += [
                f"| {f.id} | {f.augmentation} | {'✓' if f.typed_valid else f.typed_error} | "
                f"{f.spoken_error if f.typed_valid else '✓'} | {_cell(f.cause)} | "
                f"{_cell(f.transcript)} |"
                for f in sorted(flipped, key=lambda f: (f.category, _id_order(f.id)))
            ]
    return lines
