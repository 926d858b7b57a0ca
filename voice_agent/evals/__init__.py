"""Evaluation: BFCL and ACEBench checkers with the official semantics, typed and spoken suites,
resumable runs and reports. Sits on top: uses the models, tools and audio layers."""

from voice_agent.evals._report import REFERENCE, build_report, category_rows
from voice_agent.evals._runner import RunSummary, read_results, run_samples, score_output
from voice_agent.evals._samples import SUITES, Sample, SuiteSpec, load_suite
from voice_agent.evals._speech import Augmentation, SpeechCache

__all__ = [
    "REFERENCE",
    "SUITES",
    "Augmentation",
    "RunSummary",
    "Sample",
    "SpeechCache",
    "SuiteSpec",
    "build_report",
    "category_rows",
    "load_suite",
    "read_results",
    "run_samples",
    "score_output",
]
