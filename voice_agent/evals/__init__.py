"""Evaluation: BFCL and ACEBench checkers with the official semantics, typed and spoken suites,
resumable runs and reports. Sits on top: uses the models, tools and audio layers."""

from voice_agent.evals._flips import Flip, HeardRow, flips, heard_rows
from voice_agent.evals._report import REFERENCE, build_report, category_rows
from voice_agent.evals._runner import RunSummary, read_results, run_samples, score_output
from voice_agent.evals._samples import SUITES, Sample, SuiteSpec, load_suite
from voice_agent.evals._speech import Augmentation, RecordedSpeech, SpeechCache, SpeechSource
from voice_agent.evals._wer import WordErrors, normalize_words, spoken_number, word_errors

__all__ = [
    "REFERENCE",
    "SUITES",
    "Augmentation",
    "Flip",
    "HeardRow",
    "RecordedSpeech",
    "RunSummary",
    "Sample",
    "SpeechCache",
    "SpeechSource",
    "SuiteSpec",
    "WordErrors",
    "build_report",
    "category_rows",
    "flips",
    "heard_rows",
    "load_suite",
    "normalize_words",
    "read_results",
    "run_samples",
    "score_output",
    "spoken_number",
    "word_errors",
]
