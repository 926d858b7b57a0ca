"""`ToolRegistry`: the tools one agent may use, and the one path every call takes.

Every call goes parse → look up → validate (jsonschema) → confirm? → run (timeout) → serialize,
whatever the tool's origin (Python, raw schema, LangChain, OpenAPI, MCP). Each step that can
fail turns the failure into a ``ToolResult`` the model can read; only cancellation of the caller
propagates.
"""

from __future__ import annotations

import asyncio
import dataclasses
import difflib
import inspect
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pydantic
import pydantic_core

from voice_agent.chat_format import qwen_tools_block
from voice_agent.errors import ToolDefinitionError
from voice_agent.log import get_logger
from voice_agent.tools._loading import load_tool_objects
from voice_agent.tools._parsing import parse_tool_calls
from voice_agent.tools._schema import is_langchain_tool, normalize_bfcl_schema
from voice_agent.tools._tool import DEFAULT_TIMEOUT, Tool
from voice_agent.tools._types import (
    ArgumentProblem,
    ParseResult,
    ResultKind,
    ToolCall,
    ToolError,
    ToolResult,
)
from voice_agent.tools._vocabulary import (
    description_copy_problems,
    recent_words,
    tool_vocabulary,
    unsaid_example_problems,
    unsaid_numbers,
)

if TYPE_CHECKING:
    from langchain_core.tools import StructuredTool

    from voice_agent.tools.adapters.mcp import MCPServer

__all__ = ["Confirm", "ToolRegistry", "qwen_tools_block"]

log = get_logger(__name__)

Confirm = Callable[[ToolCall, Tool], Awaitable[bool | None]]
"""Asks the user whether a ``confirm=True`` call may run: True means yes, False no (the call
is ``refused``), None that the question was put and the answer comes later (a spoken agent
hears it next turn): the call does not run and answers ``needs_confirmation``."""


def _no_handler(name: str) -> Callable[..., Any]:
    def handler(**_: Any) -> Any:
        raise ToolError(f"tool {name!r} is declared without a handler and cannot run here")

    return handler


def _not_unicode(text: str) -> str | None:
    """The first lone surrogate in ``text``, written as an escape, or None for valid text."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        return ascii(text[e.start])
    return None


def _unencodable(arguments: Mapping[str, Any]) -> list[ArgumentProblem]:
    """Strings (keys or values) holding lone surrogates, which no validator or handler can
    take: a JSON ``"\\ud800"`` escape decodes to one. Walked without recursion, since a
    hand-built call may nest deeper than the parser allows."""
    found: list[ArgumentProblem] = []
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), dict(arguments))]
    while stack and len(found) < 8:
        path, value = stack.pop()
        if isinstance(value, str):
            bad = _not_unicode(value)
            if bad is not None:
                found.append(
                    ArgumentProblem(
                        path=path,
                        expected="valid Unicode text",
                        got=bad,
                        message=f"contains {bad}, a lone surrogate that is not valid Unicode "
                        "text; send the characters themselves",
                    )
                )
        elif isinstance(value, Mapping):
            for key, item in value.items():
                bad = _not_unicode(key) if isinstance(key, str) else None
                if bad is not None:
                    found.append(
                        ArgumentProblem(
                            path=path,
                            expected="valid Unicode keys",
                            got=bad,
                            message=f"a key contains {bad}, a lone surrogate that is not valid "
                            "Unicode text",
                        )
                    )
                    continue
                stack.append(((*path, key), item))
        elif isinstance(value, list | tuple):
            stack.extend(((*path, i), item) for i, item in enumerate(value))
    return sorted(found, key=str)


def _schema_problem(error: Any) -> ArgumentProblem:
    """A ``jsonschema_rs.ValidationError`` as data: a missing required property is a problem
    at its own path (the validator reports it at the object that lacks it)."""
    path = tuple(error.instance_path)
    message = error.message.splitlines()[0]
    kind, details = error.kind.name, error.kind.as_dict()
    if kind == "required":
        return ArgumentProblem(
            path=(*path, details["property"]), expected="present", missing=True, message=message
        )
    if kind == "type":
        expected = " or ".join(details["types"])
    elif kind == "enum":
        expected = f"one of {details['options']!r}"
    else:
        expected = kind
    return ArgumentProblem(path=path, expected=expected, got=error.instance, message=message)


class ToolRegistry:
    """The set of tools an agent can call, with parsing, validation and execution.

    Args:
        tools: anything :meth:`register` accepts, registered in order.
        max_calls_per_output: most calls :meth:`execute` runs from one model output; the rest
            are answered ``refused`` with the reason. A model in a loop (or a hostile one) may
            write thousands of calls; a voice turn should not run them.

    Example:
        >>> from voice_agent import tool, ToolRegistry
        >>> @tool
        ... def add(a: int, b: int) -> int:
        ...     '''Add two integers.'''
        ...     return a + b
        >>> registry = ToolRegistry([add])
        >>> [c.arguments for c in registry.parse('<tool_call>{"name": "add", '
        ...  '"arguments": {"a": 1, "b": 2}}</tool_call>')]
        [{'a': 1, 'b': 2}]
    """

    def __init__(self, tools: Iterable[Any] = (), *, max_calls_per_output: int = 32) -> None:
        if max_calls_per_output < 1:
            raise ValueError("max_calls_per_output must be at least 1")
        self.max_calls_per_output = max_calls_per_output
        """Calls beyond this many in one :meth:`execute` are refused, not run."""
        self._tools: dict[str, Tool] = {}
        self._exit = AsyncExitStack()
        for obj in tools:
            self.register(obj)

    # --- registration ---------------------------------------------------------------------------

    def register(
        self,
        obj: Any,
        handler: Callable[..., Any] | None = None,
        *,
        name: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        confirm: bool = False,
    ) -> Tool:
        """Register one tool and return it.

        Accepts a :class:`Tool` (from ``@tool``), a plain typed function, a LangChain
        ``BaseTool``, or a schema dict with ``handler``: an OpenAI tool
        (``{"type": "function", "function": {...}}``), an OpenAI function dict, or a BFCL
        function doc (its ``dict``/``float``/``tuple``/``any`` types are normalized). A schema
        registered without a handler can be parsed and validated against, and answers a call
        with an error.

        Raises:
            ToolDefinitionError: the name is taken or invalid, or the schema is not valid JSON
                Schema, or the object is of no kind listed above.
        """
        built = self._build(obj, handler, name=name, timeout=timeout, confirm=confirm)
        if built.name in self._tools:
            raise ToolDefinitionError(
                f"a tool named {built.name!r} is already registered; pass name= to register "
                "it under another name"
            )
        self._tools[built.name] = built
        return built

    def register_all(self, objs: Iterable[Any]) -> list[Tool]:
        """Register several objects; see :meth:`register`."""
        return [self.register(obj) for obj in objs]

    def _build(
        self,
        obj: Any,
        handler: Callable[..., Any] | None,
        *,
        name: str | None,
        timeout: float | None,
        confirm: bool,
    ) -> Tool:
        if isinstance(obj, Tool):
            return obj if name is None else _renamed(obj, name)
        if is_langchain_tool(obj):
            from voice_agent.tools.adapters.langchain import from_langchain

            built = from_langchain(obj, timeout=timeout, confirm=confirm)
            return built if name is None else _renamed(built, name)
        if isinstance(obj, Mapping):
            spec = obj.get("function", obj) if obj.get("type") == "function" else obj
            if not isinstance(spec, Mapping) or "name" not in spec:
                raise ToolDefinitionError(
                    "a tool dict needs a 'name' (OpenAI function or BFCL function doc); got "
                    f"keys {sorted(obj)}"
                )
            tool_name = name or spec["name"]
            params = normalize_bfcl_schema(spec.get("parameters") or {"type": "object"})
            return Tool.from_schema(
                tool_name,
                params,
                handler or _no_handler(str(tool_name)),
                description=str(spec.get("description") or ""),
                timeout=timeout,
                confirm=confirm,
            )
        if callable(obj):
            return Tool.from_function(obj, name=name, timeout=timeout, confirm=confirm)
        raise ToolDefinitionError(
            f"cannot make a tool from {type(obj).__name__}: pass an @tool function, a typed "
            "function, a LangChain tool, or a schema dict with a handler"
        )

    def register_openapi(
        self,
        spec: str | Path | Mapping[str, Any],
        *,
        base_url: str | None = None,
        allowed_hosts: Iterable[str] = (),
        timeout: float = DEFAULT_TIMEOUT,
        max_response_bytes: int = 1_000_000,
        headers: Mapping[str, str] | None = None,
        confirm_methods: Iterable[str] = (),
    ) -> list[Tool]:
        """Register every operation of an OpenAPI 3 spec (a file path, or the parsed dict).

        See :func:`voice_agent.tools.adapters.openapi.openapi_tools` for the arguments.
        """
        from voice_agent.tools.adapters.openapi import openapi_tools

        tools = openapi_tools(
            spec,
            base_url=base_url,
            allowed_hosts=allowed_hosts,
            timeout=timeout,
            max_response_bytes=max_response_bytes,
            headers=headers,
            confirm_methods=confirm_methods,
        )
        return self.register_all(tools)

    def register_path(
        self,
        target: str | Path,
        *,
        base_url: str | None = None,
        allowed_hosts: Iterable[str] = (),
    ) -> list[Tool]:
        """Register every tool in a Python file or module, or every operation of an OpenAPI
        spec (``.yaml``/``.json``; then ``base_url``/``allowed_hosts`` apply).

        Raises:
            ConfigError: the file is missing, fails to import or defines no tools.
            ToolDefinitionError: a tool in it cannot be registered.
        """
        registered: list[Tool] = []
        for obj in load_tool_objects(target):
            if isinstance(obj, Path):
                registered += self.register_openapi(
                    obj, base_url=base_url, allowed_hosts=allowed_hosts
                )
            else:
                registered.append(self.register(obj))
        return registered

    async def register_mcp(self, server: MCPServer) -> list[Tool]:
        """Connect to an MCP server and register its tools; the registry closes it on
        :meth:`aclose`.

        Raises:
            BackendError: the server could not be started or reached.
        """
        await self._exit.enter_async_context(server)
        return self.register_all(await server.tools())

    async def aclose(self) -> None:
        """Close what the registry opened (MCP connections)."""
        await self._exit.aclose()

    async def __aenter__(self) -> ToolRegistry:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- lookup ---------------------------------------------------------------------------------

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def get(self, name: str) -> Tool | None:
        """The tool called ``name``, or None."""
        return self._tools.get(name)

    @property
    def names(self) -> list[str]:
        """Registered tool names, in registration order."""
        return list(self._tools)

    # --- export ---------------------------------------------------------------------------------

    def openai_tools(self) -> list[dict[str, Any]]:
        """The tools in OpenAI chat-completions format (``[{"type": "function", ...}]``)."""
        return [{"type": "function", "function": t.schema} for t in self]

    def qwen_tools_block(self) -> str:
        """The ``<tools>`` section of a Qwen-family system prompt for these tools."""
        return qwen_tools_block(t.schema for t in self)

    def vocabulary(self, recent: Sequence[str] = ()) -> list[str]:
        """Phrases a user will say to these tools, for biasing speech recognition, most useful
        first: tool names as words, enum values, examples from descriptions, parameter names,
        then the content words of ``recent`` turns (oldest first). The recognizer caps it."""
        tools = tool_vocabulary(t.schema for t in self)
        known = {p.lower() for p in tools}
        return tools + [w for w in recent_words(recent) if w.lower() not in known]

    def without_unsaid(self, call: ToolCall, said: str) -> tuple[ToolCall, list[ArgumentProblem]]:
        """The call with every optional argument the user did not say left out (its default
        applies): a description's example or a number; and the problems of required examples.

        A small model fills an argument it was not given with the description's example (a
        timer "for the eggs" labelled "pasta", a reminder to "water the plants"): a wrong value
        that validates. An optional one is dropped; a required one is a question for the user.
        An optional number the user never said (lights "on" at a brightness of the model's
        choosing) is dropped too.
        """
        found = self._tools.get(call.name)
        if found is None:
            return call, []
        problems = unsaid_example_problems(found.parameters, call.arguments, said)
        required = set(found.parameters.get("required", ()))
        copied = {p.parameter for p in problems}
        dropped = (copied | set(unsaid_numbers(found.parameters, call.arguments, said))) - required
        if dropped:
            log.info("tools.unsaid_example_dropped", tool=call.name, parameters=sorted(dropped))
            kept = {k: v for k, v in call.arguments.items() if k not in dropped}
            call = dataclasses.replace(call, arguments=kept)
        return call, [p for p in problems if p.parameter in required]

    def copied_argument(self, name: str, arguments: Mapping[str, Any], said: str) -> str | None:
        """The first argument of a call whose string value is a copy from its parameter's
        description (the description itself, or an example the user did not say); None when
        there is none, or the tool is unknown.

        :meth:`without_unsaid` repairs such a call after the fact (drops the value or asks);
        a decoder that can take tokens back asks this while the call is being written and
        writes the value again (``UnderstandingRequest.unwanted``): the 0.5B, refused "water
        the plants", writes "call mom".
        """
        found = self._tools.get(name)
        if found is None:
            return None
        problems = [
            *description_copy_problems(found.parameters, arguments),
            *unsaid_example_problems(found.parameters, arguments, said),
        ]
        return next(
            (p.path[0] for p in problems if len(p.path) == 1 and isinstance(p.path[0], str)), None
        )

    def to_langchain(self) -> list[StructuredTool]:
        """These tools as LangChain ``StructuredTool``s, still validated and run by us."""
        from voice_agent.tools.adapters.langchain import to_langchain

        return [to_langchain(t, self) for t in self]

    # --- parsing and validation -----------------------------------------------------------------

    def parse(self, output: str | Mapping[str, Any] | Sequence[Any]) -> list[ToolCall]:
        """The tool calls in a model output, in any supported format; [] when there are none.

        Use :meth:`parse_detailed` to also get the speakable text and decoding problems.
        """
        return self.parse_detailed(output).calls

    def parse_detailed(self, output: str | Mapping[str, Any] | Sequence[Any]) -> ParseResult:
        """Calls, leftover text and problems found in a model output; never raises."""
        return parse_tool_calls(output, known=self._tools)

    def validate(self, call: ToolCall) -> list[str]:
        """What is wrong with a call's arguments, one message per problem ([] when valid).

        Messages name the parameter path and what was expected, e.g.
        ``arguments.unit: 'kelvin' is not one of ['celsius', 'fahrenheit']``.
        """
        if call.name not in self._tools:
            return [self._unknown(call.name)]
        return [str(p) for p in self.argument_problems(call)]

    def argument_problems(self, call: ToolCall) -> list[ArgumentProblem]:
        """What is wrong with the arguments of a call to a registered tool, as data ([] when
        valid or the tool is unknown); :meth:`validate` says the same in words."""
        found = self._tools.get(call.name)
        if found is None:
            return []
        unencodable = _unencodable(call.arguments)
        if unencodable:
            return unencodable
        if found.validator.is_valid(call.arguments):
            return description_copy_problems(found.parameters, call.arguments)
        errors = sorted(
            found.validator.iter_errors(call.arguments),
            key=lambda e: [str(p) for p in e.instance_path],
        )
        return [_schema_problem(e) for e in errors[:8]]

    def _unknown(self, name: str) -> str:
        close = difflib.get_close_matches(name, self._tools, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        known = ", ".join(list(self._tools)[:30]) or "none"
        return f"unknown tool {name!r}{hint} Known tools: {known}"

    # --- execution ------------------------------------------------------------------------------

    async def execute(
        self, calls: Sequence[ToolCall], *, confirm: Confirm | None = None
    ) -> list[ToolResult]:
        """Validate and run calls, concurrently, each within its tool's timeout.

        Args:
            calls: calls to run, usually from :meth:`parse`.
            confirm: asked before any ``confirm=True`` tool runs; without it such calls are not
                run and answer ``needs_confirmation``.

        Returns:
            One result per call, in the order of ``calls``; calls beyond
            :attr:`max_calls_per_output` are answered ``refused`` without running. Never raises
            for a failing call; cancelling the caller cancels the running calls.
        """
        limit = self.max_calls_per_output
        over = [_over_limit(c, len(calls), limit) for c in calls[limit:]]
        if over:
            log.warning(
                "tool.calls_over_limit",
                asked=len(calls),
                limit=limit,
                refused_call_ids=[r.call_id for r in over],
            )
        calls = calls[:limit]
        if len(calls) == 1:
            return [await self.execute_one(calls[0], confirm=confirm), *over]
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(self.execute_one(c, confirm=confirm)) for c in calls]
        return [t.result() for t in tasks] + over

    async def execute_one(self, call: ToolCall, *, confirm: Confirm | None = None) -> ToolResult:
        """Validate and run one call; see :meth:`execute`."""
        start = time.perf_counter()

        def result(kind: ResultKind, error: str | None = None, value: Any = None) -> ToolResult:
            elapsed = (time.perf_counter() - start) * 1000
            log.info(
                "tool.call_finished",
                tool=call.name,
                call_id=call.id,
                kind=kind,
                duration_ms=round(elapsed, 3),
                pii_error=error,
            )
            return ToolResult(
                call_id=call.id,
                name=call.name,
                ok=kind == "ok",
                value=value,
                error=error,
                kind=kind,
                duration_ms=elapsed,
            )

        log.info("tool.call_started", tool=call.name, call_id=call.id, pii_arguments=call.arguments)
        found = self._tools.get(call.name)
        if found is None:
            return result("unknown_tool", self._unknown(call.name))
        problems = self.argument_problems(call)
        if problems:
            text = "; ".join(str(p) for p in problems)
            failed = result("invalid_arguments", f"invalid arguments for {call.name!r}: {text}")
            return dataclasses.replace(failed, problems=tuple(problems))
        if found.confirm:
            if confirm is None:
                return result(
                    "needs_confirmation",
                    f"{call.name!r} needs the user's confirmation and none could be "
                    "asked for; it was not run",
                )
            answer = await confirm(call, found)
            if answer is None:
                return result(
                    "needs_confirmation",
                    f"{call.name!r} needs the user's confirmation and has not had it; it was not "
                    "run",
                )
            if not answer:
                return result("refused", f"the user did not confirm {call.name!r}; not run")
        try:
            kwargs = found.prepare(call.arguments, call.id)
        except pydantic.ValidationError as e:
            return result("invalid_arguments", f"invalid arguments for {call.name!r}: {e}")
        try:
            async with asyncio.timeout(found.timeout):
                if found.is_async:
                    value = await found.handler(**kwargs)
                elif found.inline:
                    value = found.handler(**kwargs)
                else:
                    value = await asyncio.to_thread(found.handler, **kwargs)
                if inspect.isawaitable(value):  # a sync callable that returned a coroutine
                    value = await value
        except TimeoutError:
            return result("timeout", f"{call.name!r} did not finish within {found.timeout} s")
        except ToolError as e:
            return result("tool_error", str(e) or f"{call.name!r} failed")
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # our caller is being cancelled (barge-in): let it unwind
            return result("cancelled", f"{call.name!r} was cancelled")
        except Exception as e:
            log.exception("tool.handler_failed", tool=call.name, call_id=call.id)
            return result(
                "tool_error",
                f"{call.name!r} failed with {type(e).__name__}; details are in the log",
            )
        try:
            value = pydantic_core.to_jsonable_python(value)
            json.dumps(value, allow_nan=False)
        except (pydantic_core.PydanticSerializationError, ValueError, TypeError) as e:
            return result("unserializable", f"{call.name!r} returned a value that is not JSON: {e}")
        return result("ok", value=value)


def _over_limit(call: ToolCall, asked: int, limit: int) -> ToolResult:
    return ToolResult(
        call_id=call.id,
        name=call.name,
        ok=False,
        error=(
            f"not run: this reply asked for {asked} tool calls and at most {limit} run per "
            "reply; ask again for the ones still needed"
        ),
        kind="refused",
    )


def _renamed(original: Tool, name: str) -> Tool:
    return dataclasses.replace(original, name=name)
