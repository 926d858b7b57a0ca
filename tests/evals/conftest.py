"""The official BFCL checker from the pinned bfcl-eval wheel, as a reference oracle."""

from __future__ import annotations

from pathlib import Path

import pytest

from voice_agent.evals.bfcl._official import OfficialChecker, load_official_checker


@pytest.fixture(scope="session")
def official_checker(official_wheel: Path) -> OfficialChecker:
    return load_official_checker(official_wheel)
