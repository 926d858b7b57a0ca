"""Fingerprints of what renders a voice's speech: its model files, the programs it runs, and our
own code that turns text into what is said.

A speech cache keyed on the text and the voice's name alone kept serving audio rendered before
a change to the voice, its config or the text normalization (a minus said as a word, BFCL
``simple_python_3``), so a rerun measured the old speech. These pieces go into
:attr:`voice_agent.models.protocols.TextToSpeech.fingerprint`, which a cache keys on.
"""

from __future__ import annotations

import ast
import hashlib
import subprocess
import threading
from pathlib import Path
from types import ModuleType

__all__ = [
    "code_fingerprint",
    "combined",
    "directory_fingerprint",
    "file_fingerprint",
    "program_version",
]

_lock = threading.Lock()
_files: dict[tuple[str, int, int], str] = {}
_programs: dict[str, str] = {}


def combined(*parts: str) -> str:
    """One short hex digest of ``parts`` (in order)."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def code_fingerprint(*modules: ModuleType) -> str:
    """The digest of the modules' syntax trees: a change to what the code does (or to its
    docstrings) gives a new one; comments and formatting do not."""
    trees = []
    for module in modules:
        source = Path(module.__file__ or "").read_text(encoding="utf-8")
        trees.append(ast.dump(ast.parse(source)))
    return combined(*trees)


def file_fingerprint(path: Path) -> str:
    """The SHA-256 of a file's bytes, read once per process while its size and time stay."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _lock:
        if key in _files:
            return _files[key]
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    with _lock:
        _files[key] = digest.hexdigest()[:32]
        return _files[key]


def directory_fingerprint(directory: Path) -> str:
    """The names, sizes and times of a model directory's files: checkpoints of gigabytes are
    not read; a missing directory has its own fingerprint (its path)."""
    if not directory.is_dir():
        return combined("missing", str(directory))
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    return combined(
        *(f"{p.relative_to(directory)} {p.stat().st_size} {p.stat().st_mtime_ns}" for p in files)
    )


def program_version(executable: str) -> str:
    """What ``executable --version`` prints (espeak-ng's phonemes change between versions),
    asked once per process; the text of the failure when it cannot say."""
    with _lock:
        if executable in _programs:
            return _programs[executable]
    try:
        done = subprocess.run(  # noqa: S603 - a program we were configured to run
            [executable, "--version"], capture_output=True, text=True, timeout=10, check=False
        )
        version = (done.stdout or done.stderr).strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        version = f"unknown: {type(e).__name__}"
    with _lock:
        _programs[executable] = version
        return version
