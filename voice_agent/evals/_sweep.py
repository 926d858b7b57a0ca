"""Robustness curves: one spoken suite at several noise levels and speeds, against the same
entries typed.

Each condition is an ordinary run folder (``typed/``, ``clean/``, ``snr10/``, ``speed1.25/``
under the sweep's folder), so a sweep resumes like any run and each condition has its own
report; the sweep adds one table and one PNG over them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from voice_agent.errors import ConfigError
from voice_agent.evals._flips import heard_rows
from voice_agent.evals._runner import RunSummary, read_results, run_samples
from voice_agent.evals._samples import SUITES, Sample, load_suite
from voice_agent.evals._speech import Augmentation, SpeechCache
from voice_agent.models import UnderstandingModel

__all__ = [
    "SweepPoint",
    "plot_sweep",
    "run_sweep",
    "sweep_conditions",
    "typed_suite",
    "write_sweep_report",
]

_TYPED = {"bfcl": "bfcl", "acebench": "acebench"}
"""The typed suite holding a benchmark's categories."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepPoint:
    """Accuracy of the suite under one condition."""

    axis: str
    """``typed``, ``clean``, ``snr`` or ``speed``."""
    value: float | None
    label: str
    n: int
    correct: int
    wer: float | None
    """Pooled word error rate of the spoken samples (None: typed, or no transcripts)."""
    failed: dict[str, str] = field(default_factory=dict)
    """Samples of this condition whose model call failed in this sweep (key → why); not in
    ``n``, retried by a rerun."""

    @property
    def accuracy(self) -> float:
        """0-1."""
        return self.correct / self.n if self.n else 0.0


def typed_suite(name: str) -> str:
    """The typed suite with the categories of spoken suite ``name``.

    Raises:
        ConfigError: ``name`` is not a spoken suite.
    """
    spec = SUITES.get(name)
    if spec is None or spec.modality != "speech":
        spoken = [n for n, s in SUITES.items() if s.modality == "speech"]
        raise ConfigError(f"eval sweep needs a spoken suite, not {name!r}: {', '.join(spoken)}")
    return _TYPED[spec.benchmark]


def sweep_conditions(snrs: Sequence[float], speeds: Sequence[float]) -> list[Augmentation]:
    """Clean speech, each SNR at normal speed, each speed without noise (one axis at a time,
    so each curve shows one cause)."""
    conditions = [Augmentation()]
    conditions += [Augmentation(snr_db=s) for s in snrs]
    conditions += [Augmentation(speed=s) for s in speeds if s != 1.0]
    return conditions


async def run_sweep(
    suite: str,
    model: UnderstandingModel,
    out_dir: Path,
    speech: SpeechCache,
    *,
    snrs: Sequence[float],
    speeds: Sequence[float],
    data: Path | None = None,
    categories: tuple[str, ...] | None = None,
    limit: int | None = None,
    asr_bias: bool = True,
    concurrency: int = 1,
    show_progress: bool = True,
) -> list[SweepPoint]:
    """Run the typed reference and every condition (each resumable), return their accuracy.

    A condition in which every model call failed (a model that cannot answer: a dead server, a
    wrong URL) ends the sweep there; its point, with ``failed`` filled in, is the last one
    returned, since the next conditions would only fail the same way.

    Raises:
        ConfigError: not a spoken suite, or bad data (from :func:`load_suite`).
    """
    reference = typed_suite(suite)
    categories = categories or SUITES[suite].categories  # the typed suite may have more
    typed = load_suite(reference, data=data, categories=categories, limit=limit)
    spoken = load_suite(suite, data=data, categories=categories, limit=limit)
    summary = await run_samples(
        typed, model, out_dir / "typed", concurrency=concurrency, show_progress=show_progress
    )
    points = [_point(out_dir / "typed", typed, "typed", None, "typed", summary.errors)]
    for augmentation in sweep_conditions(snrs, speeds):
        if _hopeless(summary):
            break
        folder = out_dir / augmentation.label
        summary = await run_samples(
            spoken,
            model,
            folder,
            speech=speech,
            augmentation=augmentation,
            asr_bias=asr_bias,
            concurrency=concurrency,
            show_progress=show_progress,
        )
        axis, value = (
            ("snr", augmentation.snr_db)
            if augmentation.snr_db is not None
            else ("speed", augmentation.speed)
            if augmentation.speed is not None
            else ("clean", None)
        )
        points.append(_point(folder, spoken, axis, value, augmentation.label, summary.errors))
    return points


def _hopeless(summary: RunSummary) -> bool:
    """Every model call of a condition failed: the model cannot answer at all."""
    return bool(summary.errors) and summary.ran == 0


def _point(
    folder: Path,
    samples: Sequence[Sample],
    axis: str,
    value: float | None,
    label: str,
    failed: dict[str, str],
) -> SweepPoint:
    """The condition's accuracy over exactly ``samples`` (a folder may hold more)."""
    keys = {s.key for s in samples}
    records = [
        r for r in read_results(folder / "results.jsonl") if f"{r['suite']}/{r['id']}" in keys
    ]
    heard = heard_rows(records)
    words = sum(int(r.get("words") or 0) for r in records)
    errors = sum(int(r.get("word_errors") or 0) for r in records)
    return SweepPoint(
        axis=axis,
        value=value,
        label=label,
        n=len(records),
        correct=sum(bool(r["valid"]) for r in records),
        wer=errors / words if heard and words else None,
        failed=dict(failed),
    )


def plot_sweep(points: Sequence[SweepPoint], path: Path, title: str) -> Path:
    """Accuracy against SNR and against speed, the typed accuracy as a dashed line; one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    typed = next((p for p in points if p.axis == "typed"), None)
    clean = next((p for p in points if p.axis == "clean"), None)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    for ax, axis, xlabel in ((axes[0], "snr", "SNR (dB)"), (axes[1], "speed", "speed (×)")):
        curve = sorted((p for p in points if p.axis == axis), key=lambda p: p.value or 0.0)
        if axis == "speed" and clean is not None:
            curve = sorted([*curve, _at(clean, 1.0)], key=lambda p: p.value or 0.0)
        xs = [p.value for p in curve]
        ax.plot(xs, [100 * p.accuracy for p in curve], "o-", label="spoken")
        if axis == "snr" and clean is not None:
            ax.axhline(100 * clean.accuracy, color="tab:green", ls=":", label="spoken, clean")
        if typed is not None:
            ax.axhline(100 * typed.accuracy, color="tab:gray", ls="--", label="typed")
        if axis == "snr":
            ax.invert_xaxis()  # left to right: cleaner to noisier
        ax.set_xlabel(xlabel)
        ax.set_ylim(0, 105)  # a line at 100 % (typed, often) would hide under the frame
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("accuracy (%)")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _at(point: SweepPoint, value: float) -> SweepPoint:
    return SweepPoint(
        axis=point.axis,
        value=value,
        label=point.label,
        n=point.n,
        correct=point.correct,
        wer=point.wer,
    )


def write_sweep_report(points: Sequence[SweepPoint], out_dir: Path, title: str) -> Path:
    """``sweep.md`` (one row per condition) and ``sweep.png`` in ``out_dir``; the report."""
    plot_sweep(points, out_dir / "sweep.png", title)
    typed = next((p for p in points if p.axis == "typed"), None)
    lines = [
        f"# {title}",
        "",
        "| condition | n | correct | accuracy | vs typed | WER |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for p in points:
        gap = f"{100 * (p.accuracy - typed.accuracy):+.1f}" if typed and p is not typed else "–"
        wer = f"{100 * p.wer:.1f}%" if p.wer is not None else "–"
        lines.append(
            f"| {p.label} | {p.n} | {p.correct} | {100 * p.accuracy:.1f}% | {gap} | {wer} |"
        )
    lines += ["", "![sweep](sweep.png)", ""]
    report = out_dir / "sweep.md"
    report.write_text("\n".join(lines), encoding="utf-8")
    return report
