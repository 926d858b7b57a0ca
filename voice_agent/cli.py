"""The ``voice-agent`` command line. The only place that calls ``asyncio.run``."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from voice_agent.errors import VoiceAgentError
from voice_agent.log import configure_logging
from voice_agent.tools import Tool, ToolCall, ToolRegistry, ToolResult

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Speech-native agents with validated tools."
)
tools_app = typer.Typer(no_args_is_help=True, help="Inspect and try tools.")
app.add_typer(tools_app, name="tools")

out = Console()
err = Console(stderr=True)

ToolsPath = Annotated[
    str,
    typer.Argument(
        help="A Python file or module with @tool functions "
        "or LangChain tools, or an OpenAPI .yaml/.json spec."
    ),
]
BaseUrl = Annotated[str | None, typer.Option(help="Base URL for an OpenAPI spec's requests.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


@app.callback()
def main(
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "WARNING",
    log_json: Annotated[bool, typer.Option(help="Log JSON lines to stderr.")] = False,
    log_sensitive: Annotated[
        bool, typer.Option(help="Keep transcripts and tool arguments in logs.")
    ] = False,
) -> None:
    """Speech-native agents with validated tools."""
    configure_logging(json=log_json, level=log_level, sensitive=log_sensitive)


def _registry(path: str, base_url: str | None) -> ToolRegistry:
    registry = ToolRegistry()
    try:
        registry.register_path(path, base_url=base_url)
    except VoiceAgentError as e:
        err.print(f"[red]error:[/red] {e}", soft_wrap=True)
        raise typer.Exit(2) from None
    return registry


def _problems(tool: Tool) -> list[str]:
    problems = []
    if not tool.description.strip():
        problems.append("no description: the model cannot tell when to call it")
    for name, schema in tool.parameters.get("properties", {}).items():
        if isinstance(schema, dict) and not schema.get("description"):
            problems.append(f"parameter {name!r} has no description")
    if len(tool.description) > 1024:
        problems.append("description longer than 1024 characters: it costs prompt tokens")
    return problems


@tools_app.command("list")
def tools_list(path: ToolsPath, base_url: BaseUrl = None, as_json: JsonFlag = False) -> None:
    """Show the tools found in PATH and the JSON Schemas derived for them."""
    registry = _registry(path, base_url)
    if as_json:
        print(json.dumps(registry.openai_tools(), indent=2))
        return
    table = Table(title=f"{len(registry)} tools in {path}")
    for column in ("name", "source", "confirm", "parameters", "description"):
        table.add_column(column)
    for t in registry:
        required = set(t.parameters.get("required", []))
        params = ", ".join(
            f"{p}{'' if p in required else '?'}" for p in t.parameters.get("properties", {})
        )
        table.add_row(
            t.name,
            t.source,
            "yes" if t.confirm else "",
            params,
            t.description.splitlines()[0] if t.description else "",
        )
    out.print(table)


@tools_app.command("check")
def tools_check(path: ToolsPath, base_url: BaseUrl = None) -> None:
    """Check the tools in PATH; exit 1 if any has problems a model would stumble on."""
    registry = _registry(path, base_url)
    found = 0
    for t in registry:
        for problem in _problems(t):
            found += 1
            out.print(f"[yellow]{t.name}[/yellow]: {problem}")
    out.print(f"{len(registry)} tools, {found} problems")
    raise typer.Exit(1 if found else 0)


@tools_app.command("call")
def tools_call(
    path: ToolsPath,
    output: Annotated[str, typer.Argument(help="A model's raw output; '-' reads stdin.")],
    base_url: BaseUrl = None,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm tools marked confirm=True.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Parse a model's raw OUTPUT, validate the calls in it and run them against PATH's tools."""
    registry = _registry(path, base_url)
    text = sys.stdin.read() if output == "-" else output
    parsed = registry.parse_detailed(text)

    async def confirm(call: ToolCall, tool: Tool) -> bool:
        return True  # only used with --yes

    async def run() -> list[ToolResult]:
        async with registry:
            return await registry.execute(parsed.calls, confirm=confirm if yes else None)

    results = asyncio.run(run()) if parsed.calls else []
    if as_json:
        print(
            json.dumps(
                {
                    "calls": [
                        {"id": c.id, "name": c.name, "arguments": c.arguments} for c in parsed.calls
                    ],
                    "results": [_result_dict(r) for r in results],
                    "text": parsed.text,
                    "problems": parsed.problems,
                },
                indent=2,
                default=str,
            )
        )
        return
    for problem in parsed.problems:
        out.print(f"[red]could not decode:[/red] {problem}")
    if parsed.text:
        out.print(f"[bold]text:[/bold] {parsed.text}")
    table = Table(title=f"{len(parsed.calls)} calls")
    for column in ("tool", "arguments", "result", "ms"):
        table.add_column(column)
    for call, res in zip(parsed.calls, results, strict=True):
        shown = json.dumps(res.value) if res.ok else f"[red]{res.kind}[/red]: {res.error}"
        table.add_row(call.name, json.dumps(call.arguments), shown, f"{res.duration_ms:.2f}")
    out.print(table)


def _result_dict(result: ToolResult) -> dict[str, Any]:
    return {
        "call_id": result.call_id,
        "name": result.name,
        "ok": result.ok,
        "value": result.value,
        "error": result.error,
        "kind": result.kind,
        "duration_ms": round(result.duration_ms, 3),
    }


def run() -> None:
    """Entry point for ``python -m voice_agent``."""
    app()


if __name__ == "__main__":
    run()


__all__ = ["app"]
