"""`Tool`, the one description of a callable the model may use, and the ``@tool`` decorator."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, overload

import jsonschema_rs
import pydantic

from voice_agent.tools._report import Report, check_report_template, spoken_report
from voice_agent.tools._schema import (
    check_tool_name,
    compile_parameters_schema,
    function_signature,
)

__all__ = ["Tool", "ToolContext", "ToolSource", "tool"]

ToolSource = Literal["python", "schema", "langchain", "openapi", "mcp"]
"""Where a tool came from; decides nothing, shown in listings and logs."""

_SCALARS = (str, int, bool, type(None))

DEFAULT_TIMEOUT = 30.0
"""Seconds a call may take unless the tool says otherwise: long enough for a web request, short
enough that a voice user is not left in silence."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolContext:
    """Injected into a handler parameter annotated with this type; never shown to the model."""

    call_id: str
    """The id of the call being run."""
    tool_name: str
    """The tool being run."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Tool:
    """A tool the model can call: name, description, parameter schema and handler.

    The handler is called with the validated arguments as keywords. Build one with ``@tool``,
    :meth:`from_schema`, or an adapter (LangChain, OpenAPI, MCP); all go through the same checks.
    """

    name: str
    """Unique name the model uses."""
    description: str
    """When to call it; the first line matters most to a model."""
    parameters: dict[str, Any]
    """JSON Schema (draft 2020-12) of the keyword arguments."""
    handler: Callable[..., Any] = field(repr=False)
    """Sync or async callable run with validated keyword arguments."""
    timeout: float | None = DEFAULT_TIMEOUT
    """Seconds before a call is abandoned and reported as ``timeout``; None waits forever."""
    confirm: bool = False
    """The call must be confirmed by the user before it runs."""
    report: Report | None = None
    """How a successful call is said, without a second model step: a ``str.format`` template
    over the arguments and ``result`` ("The {room} lights are {on}."; booleans read on/off),
    or one per language (``{"en": ..., "zh": "{item}已经加到购物清单里了。"}``; the turn's
    language picks, English otherwise).
    Without one, a short one-line string result is said as it is; otherwise the model says it."""
    inline: bool = False
    """Run a sync handler on the event loop instead of a worker thread: no thread hand-off
    (about 60 µs saved), but a hang cannot be timed out. Only for trivial pure functions."""
    source: ToolSource = "schema"
    """Where the tool came from."""
    model: type[pydantic.BaseModel] | None = field(default=None, repr=False)
    """Converts validated JSON into typed Python values (enums, nested models) for Python tools."""
    context_params: tuple[str, ...] = ()
    """Handler parameters that receive a :class:`ToolContext`."""
    json_native: bool = False
    """Scalar JSON arguments can skip ``model`` conversion (see ``FunctionSignature``)."""
    validator: jsonschema_rs.Draft202012Validator = field(init=False, repr=False, compare=False)
    """Compiled once, used for every call."""
    is_async: bool = field(init=False, repr=False, compare=False)
    """The handler is a coroutine function (or an object with an async ``__call__``)."""

    def __post_init__(self) -> None:
        check_tool_name(self.name)
        validator = compile_parameters_schema(self.name, self.parameters)
        if self.timeout is not None and not self.timeout > 0:
            raise ValueError(f"tool {self.name!r}: timeout must be positive seconds or None")
        object.__setattr__(self, "validator", validator)
        if self.report is not None:
            check_report_template(self.name, self.report, self.parameters.get("properties", {}))
        handler = self.handler
        is_async = inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
            getattr(handler, "__call__", None)  # noqa: B004 - an object with async __call__
        )
        object.__setattr__(self, "is_async", is_async)

    @property
    def schema(self) -> dict[str, Any]:
        """The OpenAI-format function dict: ``name``, ``description``, ``parameters``."""
        return {"name": self.name, "description": self.description, "parameters": self.parameters}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the handler directly, as the decorated function would be called."""
        return self.handler(*args, **kwargs)

    def spoken_report(
        self, arguments: Mapping[str, Any], value: Any, language: str | None = None
    ) -> str | None:
        """The sentence reporting a call that ran (see :attr:`report`); None: the model says it.

        Defaults of parameters the call left out fill the template too; ``language`` (the
        turn's) picks among templates by language.
        """
        defaults = {
            k: p["default"]
            for k, p in self.parameters.get("properties", {}).items()
            if isinstance(p, dict) and "default" in p
        }
        return spoken_report(self.report, {**defaults, **arguments}, value, language or "en")

    def prepare(self, arguments: Mapping[str, Any], call_id: str) -> dict[str, Any]:
        """Turn validated JSON arguments into the handler's keyword arguments."""
        if self.model is None or (
            self.json_native and all(type(v) in _SCALARS for v in arguments.values())
        ):
            kwargs = dict(arguments)
        else:
            kwargs = dict(self.model.model_validate(arguments))
        for name in self.context_params:
            kwargs[name] = ToolContext(call_id=call_id, tool_name=self.name)
        return kwargs

    @classmethod
    def from_schema(
        cls,
        name: str,
        parameters: Mapping[str, Any],
        handler: Callable[..., Any],
        *,
        description: str = "",
        timeout: float | None = DEFAULT_TIMEOUT,
        confirm: bool = False,
        source: ToolSource = "schema",
        report: Report | None = None,
    ) -> Tool:
        """A tool from a raw JSON Schema and a handler taking the arguments as keywords."""
        return cls(
            name=name,
            description=description,
            parameters=dict(parameters),
            handler=handler,
            timeout=timeout,
            confirm=confirm,
            source=source,
            report=report,
        )

    @classmethod
    def from_function(
        cls,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        confirm: bool = False,
        inline: bool = False,
        report: Report | None = None,
    ) -> Tool:
        """A tool from a typed function; see :func:`tool`."""
        sig = function_signature(fn, skip=lambda annotation: annotation is ToolContext)
        return cls(
            name=name or fn.__name__,
            description=description if description is not None else sig.description,
            parameters=sig.parameters,
            handler=fn,
            timeout=timeout,
            confirm=confirm,
            inline=inline,
            report=report,
            source="python",
            model=sig.model,
            context_params=sig.skipped,
            json_native=sig.json_native,
        )


@overload
def tool(fn: Callable[..., Any], /) -> Tool: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    confirm: bool = False,
    inline: bool = False,
    report: Report | None = None,
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    confirm: bool = False,
    inline: bool = False,
    report: Report | None = None,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Make a typed function (sync or async) into a :class:`Tool`.

    The name is the function's, the description its docstring (Google style), each parameter's
    description its ``Args:`` entry, and the parameter schema comes from the type hints through
    pydantic. The result is still callable like the function.

    Args:
        fn: the function, when used as a bare ``@tool``.
        name: overrides the function name.
        description: overrides the docstring.
        timeout: seconds before a call is abandoned; None for no limit.
        confirm: the user must confirm each call before it runs (for risky actions).
        inline: run a sync handler on the event loop (see :attr:`Tool.inline`).
        report: how a successful call is said without a model step (see :attr:`Tool.report`).

    Raises:
        ToolDefinitionError: a parameter has no type hint or no JSON Schema, or the name is bad.

    Example:
        >>> @tool
        ... def add(a: int, b: int) -> int:
        ...     '''Add two integers.'''
        ...     return a + b
        >>> add.schema["parameters"]["required"]
        ['a', 'b']
    """

    def wrap(f: Callable[..., Any]) -> Tool:
        return Tool.from_function(
            f,
            name=name,
            description=description,
            timeout=timeout,
            confirm=confirm,
            inline=inline,
            report=report,
        )

    return wrap(fn) if fn is not None else wrap
