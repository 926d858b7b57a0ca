"""BFCL v4 data: from a local directory, or from the official wheel read as a zip.

The official ``bfcl-eval`` package carries the data under ``bfcl_eval/data/`` but depends on
dozens of packages. We never install it: ``pip download --no-deps`` fetches the pinned wheel
into a user cache, its SHA-256 is checked, and the JSON files are read from the zip.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voice_agent.errors import ConfigError
from voice_agent.models import cache_dir

__all__ = [
    "AST_CATEGORIES",
    "CATEGORIES",
    "RELEVANCE_CATEGORIES",
    "BfclEntry",
    "fetch_official_wheel",
    "ground_truth_calls",
    "jsonl_records",
    "load_category",
]

AST_CATEGORIES = (
    "simple_python",
    "multiple",
    "parallel",
    "parallel_multiple",
    "live_simple",
    "live_multiple",
    "live_parallel",
    "live_parallel_multiple",
)
RELEVANCE_CATEGORIES = ("irrelevance", "live_irrelevance", "live_relevance")
CATEGORIES = AST_CATEGORIES + RELEVANCE_CATEGORIES

WHEEL_VERSION = "2026.3.23"
WHEEL_NAME = f"bfcl_eval-{WHEEL_VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "3bb6dfa5f0c68ad403c9ec50b00db2bb3b4cc9b38ab1ff33f48fe30d853d3a0a"
_PREFIX = "BFCL_v4_"


@dataclass(frozen=True, slots=True, kw_only=True)
class BfclEntry:
    """One test entry with its possible answer (None for relevance categories)."""

    id: str
    """E.g. ``simple_python_0``."""
    question: list[Any]
    """Turns of chat messages; single-turn categories have one turn."""
    functions: list[dict[str, Any]]
    """Function docs in BFCL's format."""
    answer: list[dict[str, Any]] | None
    """``ground_truth``: one ``{name: {param: [alternatives]}}`` per expected call."""

    @property
    def user_text(self) -> str:
        """The last user message of the first turn: what a speech suite speaks aloud."""
        turn = self.question[0] if self.question else []
        texts = [m.get("content", "") for m in turn if m.get("role") == "user"]
        return str(texts[-1]) if texts else ""


def fetch_official_wheel(cache: Path | None = None) -> Path:
    """The pinned official wheel in the user cache, downloaded on first use and hash-checked.

    Raises:
        ConfigError: the download failed (no network?) or the file's hash is wrong.
    """
    folder = (cache or cache_dir()) / "bfcl"
    wheel = folder / WHEEL_NAME
    if not wheel.exists():
        folder.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--quiet",
            "-d",
            str(folder),
            f"bfcl-eval=={WHEEL_VERSION}",
        ]
        # A fixed command: our interpreter's pip, a pinned requirement, our cache folder.
        done = subprocess.run(  # noqa: S603
            command, capture_output=True, text=True, check=False, timeout=600
        )
        if done.returncode != 0 or not wheel.exists():
            raise ConfigError(
                f"could not download bfcl-eval=={WHEEL_VERSION} with pip "
                f"({done.stderr.strip()[-300:]}); pass --data DIR with a local copy of the "
                "BFCL v4 files instead"
            )
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise ConfigError(
            f"{wheel} has SHA-256 {digest}, expected {WHEEL_SHA256}; delete it to download again"
        )
    return wheel


def jsonl_records(text: str, where: str, kind: str = "BFCL v4") -> Iterator[dict[str, Any]]:
    """The JSON objects of a JSON Lines benchmark file, each with an ``id``.

    Raises:
        ConfigError: naming the file and line that is not such an object.
    """
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as e:
            raise ConfigError(f"{where} line {number} is not JSON: {e}") from None
        if not isinstance(value, dict) or "id" not in value:
            raise ConfigError(f"{where} line {number} has no 'id'; is this a {kind} file?")
        yield value


def _read(source: Path, relative: str) -> tuple[str, str]:
    """Text of a data file from a directory or the wheel, and where it came from."""
    if source.suffix == ".whl":
        member = f"bfcl_eval/data/{relative}"
        with zipfile.ZipFile(source) as archive:
            try:
                return archive.read(member).decode("utf-8"), f"{source.name}:{member}"
            except KeyError:
                raise ConfigError(f"{source.name} has no {member}") from None
    path = source / relative
    if not path.is_file():
        older = sorted(
            p.name for p in source.glob("BFCL_v*_*.json") if not p.name.startswith(_PREFIX)
        )
        hint = f" (found {older[0]}: this needs BFCL v4 files)" if older else ""
        raise ConfigError(f"no {path}{hint}")
    return path.read_text(encoding="utf-8"), str(path)


def load_category(category: str, source: Path | None = None) -> list[BfclEntry]:
    """Entries of one category, with possible answers.

    Args:
        category: one of :data:`CATEGORIES`.
        source: a directory with ``BFCL_v4_<category>.json`` and ``possible_answer/``, or the
            official wheel; None downloads the pinned wheel (see :func:`fetch_official_wheel`).

    Raises:
        ConfigError: unknown category, missing or malformed files, or ids that do not match.
    """
    if category not in CATEGORIES:
        raise ConfigError(
            f"unknown BFCL category {category!r}; choose from {', '.join(CATEGORIES)}"
        )
    source = source if source is not None else fetch_official_wheel()
    text, where = _read(source, f"{_PREFIX}{category}.json")
    entries = list(jsonl_records(text, where))
    answers: dict[str, Any] = {}
    if category in AST_CATEGORIES:
        answer_text, answer_where = _read(source, f"possible_answer/{_PREFIX}{category}.json")
        answers = {a["id"]: a.get("ground_truth") for a in jsonl_records(answer_text, answer_where)}
    out = []
    for entry in entries:
        entry_id = str(entry["id"])
        if not entry_id.startswith(category + "_") or "function" not in entry:
            raise ConfigError(f"{where}: entry {entry_id!r} does not belong to {category}")
        if category in AST_CATEGORIES and entry_id not in answers:
            raise ConfigError(f"{entry_id} has no possible answer in {source}")
        out.append(
            BfclEntry(
                id=entry_id,
                question=entry.get("question", []),
                functions=entry["function"],
                answer=answers.get(entry_id),
            )
        )
    return out


def _first_alternative(alternatives: Any) -> tuple[bool, Any]:
    """(present?, value) for a ground-truth alternatives list; ``""`` first means omitted."""
    if not isinstance(alternatives, list):
        return True, alternatives
    if not alternatives or alternatives[0] == "":
        return False, None
    return True, _resolve(alternatives[0])


def _resolve(value: Any) -> Any:
    if isinstance(value, dict):  # dict answers hold alternatives per key as well
        out = {}
        for key, alternatives in value.items():
            present, chosen = _first_alternative(alternatives)
            if present:
                out[key] = chosen
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [_resolve(v) for v in value]
    return value


def ground_truth_calls(answer: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A decoded output that takes the first alternative of every value in ``answer``.

    It is correct by construction, so a scripted model can replay it to check a pipeline end to
    end, and tests can derive wrong outputs from it.
    """
    calls = []
    for expected in answer:
        name, params = next(iter(expected.items()))
        args = {}
        for param, alternatives in params.items():
            present, value = _first_alternative(alternatives)
            if present:
                args[param] = value
        calls.append({name: args})
    return calls
