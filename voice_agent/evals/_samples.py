"""Suites: which benchmark categories a run covers, spoken or typed, as a flat list of samples."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from voice_agent.errors import ConfigError
from voice_agent.evals import acebench, bfcl

__all__ = ["SUITES", "Sample", "SuiteSpec", "load_suite"]

Modality = Literal["text", "speech"]
Benchmark = Literal["bfcl", "acebench"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SuiteSpec:
    """A named selection of categories and how the query reaches the model."""

    benchmark: Benchmark
    modality: Modality
    categories: tuple[str, ...]
    description: str


SUITES: dict[str, SuiteSpec] = {
    "bfcl": SuiteSpec(
        benchmark="bfcl",
        modality="text",
        categories=("simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance"),
        description="BFCL v4 non-live AST categories and irrelevance, typed",
    ),
    "bfcl-live": SuiteSpec(
        benchmark="bfcl",
        modality="text",
        categories=(
            "live_simple",
            "live_multiple",
            "live_parallel",
            "live_parallel_multiple",
            "live_irrelevance",
            "live_relevance",
        ),
        description="BFCL v4 live categories, typed",
    ),
    "acebench": SuiteSpec(
        benchmark="acebench",
        modality="text",
        categories=acebench.CATEGORIES,
        description="ACEBench English normal and special categories, typed",
    ),
    "speech-bfcl-single": SuiteSpec(
        benchmark="bfcl",
        modality="speech",
        categories=("simple_python", "multiple"),
        description="Speech-BFCL single: simple_python + multiple, spoken (578 in the report)",
    ),
    "speech-bfcl-parallel": SuiteSpec(
        benchmark="bfcl",
        modality="speech",
        categories=("parallel", "parallel_multiple"),
        description="Speech-BFCL parallel: parallel + parallel_multiple, spoken",
    ),
    "speech-acebench-single": SuiteSpec(
        benchmark="acebench",
        modality="speech",
        categories=("normal_single_turn_single_function",),
        description="Speech-ACEBench single, English, synthesized (the report's is Mandarin, "
        "human-recorded)",
    ),
    "speech-acebench-parallel": SuiteSpec(
        benchmark="acebench",
        modality="speech",
        categories=("normal_single_turn_parallel_function",),
        description="Speech-ACEBench parallel, English, synthesized",
    ),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample:
    """One query to put to a model, with what is needed to score the answer."""

    suite: str
    benchmark: Benchmark
    modality: Modality
    category: str
    id: str
    query: str
    """What the user says (speech suites) or types (text suites)."""
    functions: list[dict[str, Any]]
    """Function docs as the benchmark gives them."""
    entry: bfcl.BfclEntry | acebench.AceEntry

    @property
    def key(self) -> str:
        """Unique within a results file."""
        return f"{self.suite}/{self.id}"


def load_suite(
    name: str,
    *,
    data: Path | None = None,
    categories: tuple[str, ...] | None = None,
    limit: int | None = None,
) -> list[Sample]:
    """The samples of a suite, in a stable order; ``limit`` applies per category.

    Args:
        name: a key of :data:`SUITES`.
        data: BFCL: a directory or the official wheel (None downloads it). ACEBench: the
            directory with ``data_<category>.json`` (required).
        categories: a subset of the suite's categories.
        limit: at most this many samples per category (the first ones).

    Raises:
        ConfigError: unknown suite or category, or missing data.
    """
    if name not in SUITES:
        raise ConfigError(f"unknown suite {name!r}; choose from {', '.join(SUITES)}")
    spec = SUITES[name]
    chosen = categories or spec.categories
    unknown = [c for c in chosen if c not in spec.categories]
    if unknown:
        raise ConfigError(
            f"suite {name} has no category {unknown[0]!r}; it has {', '.join(spec.categories)}"
        )
    samples: list[Sample] = []
    for category in chosen:
        entries: list[Any]
        if spec.benchmark == "bfcl":
            entries = bfcl.load_category(category, data)
        else:
            if data is None:
                raise ConfigError("ACEBench suites need --data DIR (ACEBench's data_all/data_en)")
            entries = acebench.load_category(category, data)
        for entry in entries[:limit]:
            query = entry.user_text if spec.modality == "speech" else _typed_query(entry)
            samples.append(
                Sample(
                    suite=name,
                    benchmark=spec.benchmark,
                    modality=spec.modality,
                    category=category,
                    id=entry.id,
                    query=query,
                    functions=entry.functions,
                    entry=entry,
                )
            )
    return samples


def _typed_query(entry: Any) -> str:
    if isinstance(entry, acebench.AceEntry):
        return entry.question.strip()  # the whole conversation for multi-turn categories
    return str(entry.user_text)
