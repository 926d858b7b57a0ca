"""This checkout's ``voice-agent`` command run as a process (not whichever one is installed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HOME_TOOLS = REPO / "examples" / "home" / "tools.py"


def checkout_cli(
    *args: str, cwd: Path, timeout: float = 900, typed: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m voice_agent.cli ARGS`` from this checkout, the home database kept in ``cwd``;
    ``typed`` is its standard input."""
    return subprocess.run(
        [sys.executable, "-m", "voice_agent.cli", *args],
        input=typed,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(REPO), "VOICE_AGENT_HOME_DB": str(cwd / "h.db")},
        check=False,
    )
