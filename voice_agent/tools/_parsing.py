"""Turn whatever a model wrote into ``ToolCall``s. Model output is data: parsed, never evaluated.

Formats understood, tried in this order on text:

1. Qwen/Hermes ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` blocks, one or many
   (an unclosed last block, from a cut-off generation, is still tried);
2. fenced code blocks (```` ```json ````) holding a call object, a list of them, or Python calls;
3. the whole reply as a bare JSON object or list of call objects;
4. the whole reply as Python call syntax, ``[f(a=1), mod.g(b="x")]``, read with :mod:`ast` and
   a literal-only walker (BFCL prompt-mode models write this).

Structured inputs (an OpenAI ``tool_calls`` list, an assistant message dict) are read directly.
Near-valid JSON is repaired with json-repair. A parser never raises on model output; what does
not decode is reported in ``ParseResult.problems``.
"""

from __future__ import annotations

import ast
import json
import math
import operator
import re
from bisect import bisect_left
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any, Literal

import json_repair

from voice_agent.tools._types import ParseResult, ToolCall, new_call_id

__all__ = [
    "Dialect",
    "decode_markup",
    "find_closer",
    "markup_blocks",
    "parse_python_calls",
    "parse_tool_calls",
    "scan_closer",
    "split_fence_lang",
]

OPEN_CALL, CLOSE_CALL, FENCE = "<tool_call>", "</tool_call>", "```"
_FENCE_LANG = re.compile(r"[ \t]*([A-Za-z0-9_+-]*)[ \t]*(?:\n|$)")
_CALL_LANGS = frozenset({"", "json", "python", "py", "tool_call", "tool_code"})
_STRICT_LANGS = frozenset({"json", "tool_call", "tool_code"})
"""Fences that claim to hold a call: when they do not decode, that is reported."""
_CLOSER_SCAN = {c: re.compile(r'\\.|"|' + re.escape(c)) for c in (CLOSE_CALL, FENCE)}
_TOKEN_AT = {c: re.compile(r'\\|"|(?=' + re.escape(c) + ")") for c in (CLOSE_CALL, FENCE)}
"""Every place where a :data:`_CLOSER_SCAN` token may start (closers overlapping too)."""
_MAX_REPAIR = 64_000
"""Longest text handed to json-repair; beyond this, garbage is garbage."""
_MAX_DEPTH = 64
"""Deepest nesting the literal walker follows; deeper input is refused, not recursed into."""


class _Undecodable(ValueError):
    """Internal: one piece of output did not decode; the message says why."""


def _check_finite(value: Any, depth: int = 0) -> Any:
    if depth > _MAX_DEPTH:
        raise _Undecodable(f"nested deeper than {_MAX_DEPTH} levels")
    if isinstance(value, float) and not math.isfinite(value):
        raise _Undecodable("NaN and Infinity are not valid argument values")
    if isinstance(value, dict):
        for v in value.values():
            _check_finite(v, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _check_finite(v, depth + 1)
    return value


def _loads(text: str) -> Any:
    """JSON, then repaired JSON; raises _Undecodable with the reason."""
    try:
        return _check_finite(json.loads(text))
    except _Undecodable:
        raise
    except (ValueError, RecursionError) as e:
        first = e
    if len(text) > _MAX_REPAIR:
        raise _Undecodable(f"invalid JSON ({first}) and too long to repair")
    try:
        repaired = json_repair.loads(text, skip_json_loads=True)
    except Exception as e:  # json-repair's own failures are not worth more than a message
        raise _Undecodable(f"invalid JSON ({first}); repair failed: {e}") from e
    if repaired in ("", None) or isinstance(repaired, str | int | float | bool):
        raise _Undecodable(f"invalid JSON ({first})")
    return _check_finite(repaired)


def _arguments(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if isinstance(raw, str):
        raw = _loads(raw) if raw.strip() else {}
    if not isinstance(raw, dict):
        raise _Undecodable(f"arguments must be a JSON object, got {type(raw).__name__}")
    return raw


def _call_from_object(obj: Any, known: Collection[str] | None) -> list[ToolCall]:
    """One JSON value in any known call shape → calls (raises _Undecodable otherwise)."""
    if isinstance(obj, list):
        return [c for item in obj for c in _call_from_object(item, known)]
    if not isinstance(obj, dict):
        raise _Undecodable(f"expected a call object, got {type(obj).__name__}")
    if "tool_calls" in obj:  # an OpenAI assistant message
        return _call_from_object(obj["tool_calls"] or [], known)
    if isinstance(obj.get("function"), dict):  # an OpenAI tool_call entry
        fn = obj["function"]
        return [
            ToolCall(
                name=_name(fn.get("name")),
                arguments=_arguments(fn.get("arguments")),
                id=_call_id(obj),
            )
        ]
    if "name" in obj and ("arguments" in obj or "parameters" in obj or len(obj) == 1):
        raw = obj.get("arguments", obj.get("parameters"))
        return [ToolCall(name=_name(obj["name"]), arguments=_arguments(raw), id=_call_id(obj))]
    if len(obj) == 1:  # BFCL style {"fn": {args}} or {"fn": "<json args>"}
        ((name, raw),) = obj.items()
        if known is None or name in known:
            return [ToolCall(name=_name(name), arguments=_arguments(raw))]
    raise _Undecodable(f"object with keys {sorted(obj)[:5]} is not a tool call")


def _call_id(obj: dict[str, Any]) -> str:
    found = obj.get("id")
    return found if isinstance(found, str) and found else new_call_id()


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Undecodable("tool name must be a non-empty string")
    return value.strip()


# --- Python call syntax -----------------------------------------------------------------------

_BINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_MAX_SEQUENCE = 10_000
"""Longest string or list that arithmetic in an argument may build ("a" * 10**9 is refused)."""


def _arithmetic(op: ast.operator, a: Any, b: Any) -> Any:
    """``a <op> b`` for literal operands, as Python would compute it, within size limits."""
    number = (int, float)
    if type(op) not in _BINOPS:
        raise _Undecodable(f"operator {type(op).__name__} is not supported in arguments")
    if isinstance(op, ast.Pow) and (
        not (isinstance(a, number) and isinstance(b, number)) or abs(b) > 64 or abs(a) > 1e6
    ):
        raise _Undecodable("exponent too large for an argument value")
    if isinstance(op, ast.Mult) and isinstance(a, str | list | tuple) != isinstance(
        b, str | list | tuple
    ):
        seq, times = (a, b) if isinstance(a, str | list | tuple) else (b, a)
        if not isinstance(times, int) or len(seq) * max(times, 0) > _MAX_SEQUENCE:
            raise _Undecodable("repetition too long for an argument value")
    if isinstance(op, ast.Div | ast.FloorDiv | ast.Mod) and b == 0:
        raise _Undecodable("division by zero in an argument")
    try:
        return _BINOPS[type(op)](a, b)
    except (TypeError, ValueError, OverflowError) as e:
        raise _Undecodable(f"cannot compute an argument: {e}") from None


def _literal(node: ast.AST, depth: int = 0) -> Any:
    """The value of a literal expression; anything that would need running code is refused."""
    if depth > _MAX_DEPTH:
        raise _Undecodable(f"nested deeper than {_MAX_DEPTH} levels")
    match node:
        case ast.Constant(value=value) if value is not Ellipsis and not isinstance(value, bytes):
            if isinstance(value, complex):
                raise _Undecodable("complex numbers are not valid arguments")
            return _check_finite(value)
        case ast.UnaryOp(op=ast.USub() | ast.UAdd() as op, operand=operand):
            value = _literal(operand, depth + 1)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _Undecodable("a sign applies only to numbers")
            return -value if isinstance(op, ast.USub) else value
        case ast.BinOp(left=left, op=op, right=right):
            a, b = _literal(left, depth + 1), _literal(right, depth + 1)
            if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in (a, b)):
                raise _Undecodable("arithmetic applies only to numbers")
            return _check_finite(_arithmetic(op, a, b))
        case ast.List(elts=elts) | ast.Tuple(elts=elts) | ast.Set(elts=elts):
            return [_literal(e, depth + 1) for e in elts]
        case ast.Dict(keys=keys, values=values):
            out: dict[Any, Any] = {}
            for k, v in zip(keys, values, strict=True):
                if k is None:
                    raise _Undecodable("'**' unpacking is not a literal")
                key = _literal(k, depth + 1)
                if not isinstance(key, str | int | float | bool) and key is not None:
                    raise _Undecodable("dictionary keys must be strings or numbers")
                out[key] = _literal(v, depth + 1)
            return out
        case ast.Name(id=ident):  # a bare word: models write enum values unquoted
            return ident
    raise _Undecodable(f"{type(node).__name__} is not a literal value")


def _dotted(node: ast.AST) -> str:
    match node:
        case ast.Name(id=ident):
            return ident
        case ast.Attribute(value=value, attr=attr):
            return f"{_dotted(value)}.{attr}"
    raise _Undecodable("a call must name a function, like f(...) or module.f(...)")


Dialect = Literal["strict", "bfcl", "acebench"]
"""How Python call syntax is read: ``strict`` for running tools, the others to score exactly
as the official BFCL and ACEBench decoders do."""


def _bfcl_literal(node: ast.AST, dialect: Dialect = "bfcl") -> Any:
    """A value the way BFCL's official prompt-mode decoder reads it (REFERENCE.md §5).

    Differences from :func:`_literal`, all on purpose so that scores match the official
    checker: tuples stay tuples, bytes and complex numbers are kept, ``...`` reads as the
    string ``"..."``, any unary operator negates its constant, a call without keywords reads as
    its source text and one with keywords as a nested ``{name: {args}}``, a subscript reads as its
    source text. Arithmetic is computed by :func:`_arithmetic`; the official decoder evaluates it
    with ``eval``, which we never do, so arithmetic beyond plain literals fails here.
    ACEBench's decoder is the same but for a call without keywords, which it reads as
    ``{name: {}}``.
    """
    match node:
        case ast.Constant(value=value):
            return "..." if value is Ellipsis else value
        case ast.UnaryOp(operand=ast.Constant(value=value)):
            operand: Any = value
            try:
                return -operand
            except TypeError:
                raise _Undecodable(f"bad operand for unary operator: {value!r}") from None
        case ast.List(elts=elts):
            return [_bfcl_literal(e, dialect) for e in elts]
        case ast.Tuple(elts=elts):
            return tuple(_bfcl_literal(e, dialect) for e in elts)
        case ast.Dict(keys=keys, values=values):
            out: dict[Any, Any] = {}
            for k, v in zip(keys, values, strict=True):
                if k is None:
                    raise _Undecodable("'**' unpacking is not supported")
                try:
                    out[_bfcl_literal(k, dialect)] = _bfcl_literal(v, dialect)
                except TypeError:
                    raise _Undecodable("unhashable dictionary key") from None
            return out
        case ast.BinOp(left=left, op=op, right=right):
            return _arithmetic(op, _bfcl_literal(left, dialect), _bfcl_literal(right, dialect))
        case ast.Name(id=ident):
            return ident
        case ast.Call(keywords=[]) if dialect == "bfcl":
            return ast.unparse(node)
        case ast.Call():
            name, args = _bfcl_call(node, dialect)
            return {name: args}
        case ast.Subscript(value=value, slice=index):
            return f"{ast.unparse(value)}[{ast.unparse(index)}]"
    raise _Undecodable(f"unsupported AST type: {type(node).__name__}")


def _bfcl_call(node: ast.Call, dialect: Dialect) -> tuple[str, dict[Any, Any]]:
    parts = []
    func = node.func
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
    args = {kw.arg: _bfcl_literal(kw.value, dialect) for kw in node.keywords}
    return ".".join(reversed(parts)), args


def parse_python_calls(text: str, *, dialect: Dialect = "strict") -> list[ToolCall]:
    """Parse ``[f(a=1), mod.g(b="x")]`` (or one bare call) into calls, without running anything.

    Args:
        text: the Python call syntax.
        dialect: ``strict`` (the default) accepts JSON-like literal arguments only and refuses
            positional arguments. ``bfcl`` reads values exactly as BFCL's official decoder does
            (see :func:`_bfcl_literal`) and ignores positional arguments, as it does; use it to
            score BFCL prompt-mode outputs. ``acebench`` is ACEBench's variant: the text must be
            a list, and a call without keywords inside arguments reads as ``{name: {}}``.

    Raises:
        ValueError: the text is not a list of calls with literal keyword arguments.
    """
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
        raise _Undecodable(f"not Python call syntax: {e}") from None
    body = tree.body
    if dialect != "strict":
        if isinstance(body, ast.Call) and dialect == "bfcl":
            nodes: list[ast.expr] = [body]
        elif isinstance(body, ast.List | ast.Tuple | ast.Set):
            nodes = body.elts
        else:
            raise _Undecodable(f"expected a list of calls, found {type(body).__name__}")
    else:
        nodes = body.elts if isinstance(body, ast.List | ast.Tuple) else [body]
    calls = []
    for node in nodes:
        if not isinstance(node, ast.Call):
            raise _Undecodable(f"expected a function call, found {type(node).__name__}")
        if dialect != "strict":
            try:
                name, args = _bfcl_call(node, dialect)
            except RecursionError:
                raise _Undecodable("nested too deeply") from None
            calls.append(ToolCall(name=name, arguments=args))
            continue
        if node.args:
            raise _Undecodable(f"{_dotted(node.func)}: use keyword arguments, not positional")
        strict_args: dict[str, Any] = {}
        for kw in node.keywords:
            if kw.arg is None:
                raise _Undecodable("'**' unpacking is not a literal")
            strict_args[kw.arg] = _literal(kw.value)
        calls.append(ToolCall(name=_dotted(node.func), arguments=strict_args))
    return calls


# --- text ---------------------------------------------------------------------------------------


def _consecutive_objects(body: str) -> list[Any] | None:
    """Two or more whole JSON objects one after another (``{…}\n{…}``, how the local models
    write several calls), or None. Repair must not see them: it keeps only one."""
    decoder, values, pos = json.JSONDecoder(), [], 0
    while pos < len(body):
        try:
            value, pos = decoder.raw_decode(body, pos)
        except (ValueError, RecursionError):
            return None
        values.append(_check_finite(value))
        pos = len(body) - len(body[pos:].lstrip())
    return values if len(values) > 1 and all(isinstance(v, dict) for v in values) else None


def _decode_block(body: str, known: Collection[str] | None) -> list[ToolCall]:
    body = body.strip()
    if not body:
        raise _Undecodable("empty block")
    if body[0] in "[{":
        several = _consecutive_objects(body)
        if several is not None:
            return [call for obj in several for call in _call_from_object(obj, known)]
        try:
            return _call_from_object(_loads(body), known)
        except _Undecodable as json_problem:
            if body[0] == "{":
                raise
            try:
                return parse_python_calls(body)
            except _Undecodable:
                raise json_problem from None
    return parse_python_calls(body)


def scan_closer(text: str, closer: str, start: int, in_string: bool) -> tuple[int, int, bool]:
    """Resumable :func:`find_closer`: ``(index or -1, where to resume, in_string there)``.

    A streamed block is scanned as it arrives; resuming where the last scan stopped (a token
    cut by the end of the text is scanned again) keeps that linear in the block's length.
    """
    resume = start
    for match in _CLOSER_SCAN[closer].finditer(text, start):
        token = match.group()
        if token == '"':  # noqa: S105 - a quote, not a password
            in_string = not in_string
        elif token == closer and not in_string:
            return match.start(), match.end(), in_string
        resume = match.end()
    return -1, max(resume, len(text) - len(closer) + 1), in_string


def find_closer(text: str, closer: str, start: int = 0) -> int:
    """Index of the first ``closer`` at or after ``start`` that is not inside a JSON string.

    A call's arguments may contain ``</tool_call>`` or triple backticks inside a
    string; that must not end the block. Returns -1 when there is none (yet).
    """
    return scan_closer(text, closer, start, False)[0]


class _CloserIndex:
    """:func:`find_closer`'s answer for every start in one text, from one backward pass.

    An unbalanced quote makes a block's scan run to the end of the text; were that repeated per
    block (``<tool_call>"</tool_call>"`` many times), parsing would be quadratic. The scan is a
    two-state machine (in a string or not) stepping over escapes, quotes and closers, so its
    outcome from each token in each state follows from the next token's.
    """

    def __init__(self, text: str, closer: str) -> None:
        tokens = [m.start() for m in _TOKEN_AT[closer].finditer(text)]
        self._tokens, self._closers = tokens, [p for p in tokens if text[p] not in '\\"']
        found = [(-1, -1)] * (len(tokens) + 1)
        """``found[i][in_string]``: the closer a scan reaching token ``i`` ends at."""
        for i in range(len(tokens) - 1, -1, -1):
            at = tokens[i]
            if text[at] == "\\":  # an escape takes the next character, a newline excepted
                step = 2 if at + 1 < len(text) and text[at + 1] != "\n" else 1
                following = found[bisect_left(tokens, at + step, i + 1)]
                found[i] = following
            elif text[at] == '"':
                following = found[i + 1]
                found[i] = (following[1], following[0])
            else:  # a closer: the answer outside a string; skipped whole inside one
                found[i] = (at, found[bisect_left(tokens, at + len(closer), i + 1)][1])
        self._found = found

    def find(self, start: int) -> int:
        """Same as ``find_closer(text, closer, start)``."""
        return self._found[bisect_left(self._tokens, start)][0]

    def first(self, start: int) -> int:
        """Same as ``text.find(closer, start)``."""
        i = bisect_left(self._closers, start)
        return self._closers[i] if i < len(self._closers) else -1


def split_fence_lang(body: str) -> tuple[str, str]:
    """``("json", rest)`` for a fence body that starts with a language line."""
    match = _FENCE_LANG.match(body)
    return (match.group(1).lower(), body[match.end() :]) if match else ("", body)


def decode_markup(
    body: str, *, fenced: bool, lang: str, known: Collection[str] | None
) -> tuple[list[ToolCall], str | None]:
    """Calls in one ``<tool_call>`` block or fence, and the problem if it claimed a call but
    did not decode. A fence in another language (a code sample) holds no calls and no problem.
    """
    if fenced and lang not in _CALL_LANGS:
        return [], None
    try:
        return _decode_block(body, known), None
    except _Undecodable as e:
        if fenced and lang not in _STRICT_LANGS:
            return [], None
        return [], f"{FENCE + lang if fenced else OPEN_CALL} block: {e}"


def markup_blocks(text: str) -> Iterator[tuple[int, int, bool, str, str]]:
    """``(start, end, fenced, lang, body)`` for each tool-call block and code fence.

    Linear in the length of the text however many blocks it holds: each marker's next position
    is searched for again only once the parse has passed it, and closers come from a
    :class:`_CloserIndex` once one scan for them has run to the end of the text.
    """
    pos = 0
    ahead = {OPEN_CALL: text.find(OPEN_CALL), FENCE: text.find(FENCE)}
    indexes: dict[str, _CloserIndex] = {}
    while True:
        for marker, at in ahead.items():
            if 0 <= at < pos:
                ahead[marker] = text.find(marker, pos)
        hits = [(at, marker) for marker, at in ahead.items() if at >= 0]
        if not hits:
            return
        start, marker = min(hits)
        fenced = marker == FENCE
        closer = FENCE if fenced else CLOSE_CALL
        body_start = start + len(marker)
        index = indexes.get(closer)
        end = index.find(body_start) if index else find_closer(text, closer, body_start)
        if end < 0:  # an unbalanced quote: take the first closer
            index = indexes.setdefault(closer, index or _CloserIndex(text, closer))
            end = index.first(body_start)
        stop = len(text) if end < 0 else end + len(closer)
        body = text[body_start : len(text) if end < 0 else end]
        lang, body = split_fence_lang(body) if fenced else ("", body)
        yield start, stop, fenced, lang, body
        if end < 0:
            return
        pos = stop


_LOOKS_LIKE_CALLS = re.compile(r"^\s*(\{|\[\s*\{|\[\s*[A-Za-z_][\w.]*\()")


def _parse_text(text: str, known: Collection[str] | None) -> ParseResult:
    stripped = text.strip()
    bare_problem = None
    if stripped[:1] in ("[", "{"):  # the whole reply as JSON or Python calls, markup inside
        try:
            return ParseResult(calls=_decode_block(stripped, known), text="", problems=[])
        except _Undecodable as e:
            bare_problem = str(e)
    calls: list[ToolCall] = []
    problems: list[str] = []
    kept: list[str] = []
    pos = 0
    for start, stop, fenced, lang, body in markup_blocks(text):
        kept.append(text[pos:start])
        pos = stop
        found, problem = decode_markup(body, fenced=fenced, lang=lang, known=known)
        calls += found
        problems += [problem] if problem else []
    if pos:
        kept.append(text[pos:])
        return ParseResult(calls=calls, text=" ".join("".join(kept).split()), problems=problems)

    if bare_problem and _LOOKS_LIKE_CALLS.match(stripped):
        return ParseResult(calls=[], text="", problems=[f"reply looks like a call: {bare_problem}"])
    if re.match(r"^[A-Za-z_][\w.]*\(", stripped) and stripped.endswith(")"):
        try:
            return ParseResult(calls=parse_python_calls(stripped), text="", problems=[])
        except _Undecodable:
            pass  # words that happen to look like a call are spoken as words
    return ParseResult(calls=[], text=" ".join(text.split()), problems=[])


def parse_tool_calls(
    output: str | Mapping[str, Any] | Sequence[Any], *, known: Collection[str] | None = None
) -> ParseResult:
    """Find every tool call in a model output, in any format this module knows.

    Args:
        output: the raw text, an OpenAI assistant message dict, or a ``tool_calls`` list.
        known: tool names; when given, the ambiguous ``{"name": {args}}`` shape is accepted only
            for these names.

    Returns:
        The calls, the speakable text left over, and the problems (never raises on bad output).
    """
    try:
        if isinstance(output, str):
            return _parse_text(output, known)
        if isinstance(output, Mapping):
            content = output.get("content")
            text = content if isinstance(content, str) else ""
            if not output.get("tool_calls") and text:
                return _parse_text(text, known)
            calls = _call_from_object(dict(output).get("tool_calls") or [], known)
            return ParseResult(calls=calls, text=text, problems=[])
        if isinstance(output, Sequence):
            return ParseResult(calls=_call_from_object(list(output), known), text="", problems=[])
        return ParseResult(calls=[], text="", problems=[f"cannot read {type(output).__name__}"])
    except _Undecodable as e:
        return ParseResult(calls=[], text="", problems=[str(e)])
    except (RecursionError, MemoryError):
        return ParseResult(calls=[], text="", problems=["output is nested too deeply to read"])
