"""Shared test fixtures: where the shared benchmark data lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("VOICE_AGENT_SHARED_DATA", REPO.parent / "shared" / "data"))


def _shared(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.fail(f"{name} test data not found at {path}; set VOICE_AGENT_SHARED_DATA")
    return path


@pytest.fixture(scope="session")
def bfcl_dir() -> Path:
    return _shared("bfcl")


@pytest.fixture(scope="session")
def acebench_dir() -> Path:
    return _shared("acebench")
