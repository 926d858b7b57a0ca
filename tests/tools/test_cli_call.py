"""``voice-agent tools call`` on hostile model output, run as a process from this checkout."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests._cli import HOME_TOOLS, checkout_cli


def tools_call(output: str, *flags: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``voice-agent tools call`` on one model output."""
    return checkout_cli("tools", "call", str(HOME_TOOLS), output, *flags, cwd=cwd, timeout=120)


def test_lone_surrogate_is_an_invalid_argument_not_a_traceback(tmp_path: Path) -> None:
    output = (
        '<tool_call>{"name": "set_thermostat", "arguments": {"celsius": "\\ud800"}}</tool_call>'
    )
    done = tools_call(output, "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    [result] = json.loads(done.stdout)["results"]
    assert result["kind"] == "invalid_arguments"
    assert "arguments.celsius: contains '\\ud800'" in result["error"]
    table = tools_call(output.replace("set_thermostat", "set_\\udc00"), cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "Traceback" not in table.stderr and "unknown_tool" in table.stdout
