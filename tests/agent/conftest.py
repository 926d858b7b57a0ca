"""The agent tests share one loaded cpu-default profile."""

from __future__ import annotations

import pytest

from voice_agent.models.profiles import Profile, load_profile


@pytest.fixture(scope="session")
def cpu() -> Profile:
    return load_profile("cpu-default")
