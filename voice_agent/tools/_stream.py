"""Split a streamed model reply into speakable text and tool calls, token by token.

The TTS must never read tool syntax aloud, yet the first sentence should reach it while the
model is still generating. :class:`ToolCallSplitter` passes text through as soon as it cannot be
the start of markup, holds back anything that might be (``<tool_c`` …), and hands out each call
as soon as its block closes so that execution can start before generation ends. Blocks are
found and decoded by the same functions as :func:`parse_tool_calls`, so the streamed result and
the parse of the whole reply agree.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Literal

from voice_agent.tools._parsing import (
    CLOSE_CALL,
    FENCE,
    OPEN_CALL,
    decode_markup,
    markup_blocks,
    parse_tool_calls,
    scan_closer,
    split_fence_lang,
)
from voice_agent.tools._types import ToolCall

__all__ = ["StreamPiece", "ToolCallSplitter"]


@dataclass(slots=True, kw_only=True)
class StreamPiece:
    """What one ``feed`` (or ``finish``) released."""

    text: str = ""
    """Text safe to speak now."""
    calls: list[ToolCall] = field(default_factory=list)
    """Calls whose markup closed in this piece."""
    problems: list[str] = field(default_factory=list)
    """Markup that closed but did not decode."""


class ToolCallSplitter:
    """Incremental separator of speech and tool-call markup.

    Linear in the length of the reply however it is cut: input is consumed by offset, never
    re-sliced per block; an open block's closer is searched for only in what arrived since the
    last search; a block that never closes is read at :meth:`finish` by the whole-text parser's
    own linear pass.

    Args:
        known: tool names, passed to the parser (see :func:`parse_tool_calls`).

    Example:
        >>> s = ToolCallSplitter()
        >>> s.feed("Sure. <tool_").text
        'Sure. '
        >>> piece = s.feed('call>{"name": "f", "arguments": {}}</tool_call>')
        >>> [c.name for c in piece.calls]
        ['f']
    """

    def __init__(self, known: Collection[str] | None = None) -> None:
        self._known = known
        self._buf = ""
        """Input not consumed yet (in a block: not scanned yet)."""
        self._mode: Literal["start", "text", "call", "fence", "bare"] = "start"
        self._block: list[str] = []
        """The open block, from its marker to what has been scanned."""
        self._in_string = False
        """Whether the scan of the open block stopped inside a JSON string."""
        self._ahead: dict[str, int] = {}
        """Next position of each marker in ``_buf`` (or -1), valid for one ``feed``."""

    def feed(self, chunk: str) -> StreamPiece:
        """Take the next piece of generated text; return what can be released now."""
        piece = StreamPiece()
        if self._mode == "bare":
            self._block.append(chunk)
            return piece
        self._buf += chunk  # what was left is short: held text or the unscanned end of a block
        self._ahead = {}
        at: int | None = 0
        while at is not None:
            at = self._step(piece, at)
        return piece

    def finish(self) -> StreamPiece:
        """End of generation: release everything still held, decoding unclosed markup."""
        piece = StreamPiece()
        buf, self._buf = self._buf, ""
        if self._mode in ("start", "text"):
            piece.text = buf
        elif self._mode in ("call", "fence"):
            # The open block never closed outside a string (an unbalanced quote, or a cut-off
            # generation): read it and all that follows as the whole-text parser does.
            rest, pos = "".join(self._block) + buf, 0
            for start, stop, fenced, lang, body in markup_blocks(rest):
                piece.text += rest[pos:start]
                self._decode(body, piece, fenced=fenced, lang=lang)
                pos = stop
            piece.text += rest[pos:]
        else:  # a reply that opened with [ or {: calls if it decodes, words if it was words
            result = parse_tool_calls("".join(self._block) + buf, known=self._known)
            piece.calls, piece.problems, piece.text = result.calls, result.problems, result.text
        self._mode, self._block, self._in_string = "start", [], False
        return piece

    def _step(self, piece: StreamPiece, at: int) -> int | None:
        """Advance the state machine once from ``_buf[at:]``; the new offset, or None when it
        needs more input (``_buf`` then holds only what is still unconsumed)."""
        if self._mode == "start":
            head = len(self._buf) - len(self._buf[at:].lstrip())
            if head == len(self._buf):  # whitespace so far: nothing to hold it back for
                piece.text += self._buf[at:]
                self._buf = ""
                return None
            if self._buf[head] in "[{":
                piece.text += self._buf[at:head]
                self._mode, self._block = "bare", [self._buf[head:]]
                self._buf = ""
                return None
            self._mode = "text"
            return at
        if self._mode == "text":
            return self._step_text(piece, at)
        closer = CLOSE_CALL if self._mode == "call" else FENCE
        end, resume, self._in_string = scan_closer(self._buf, closer, at, self._in_string)
        if end < 0:
            self._block.append(self._buf[at:resume])
            self._buf = self._buf[resume:]
            return None
        self._block.append(self._buf[at:end])
        marker, body = self._block[0], "".join(self._block[1:])
        lang, body = split_fence_lang(body) if marker == FENCE else ("", body)
        self._decode(body, piece, fenced=marker == FENCE, lang=lang)
        self._mode, self._block, self._in_string = "text", [], False
        return end + len(closer)

    def _step_text(self, piece: StreamPiece, at: int) -> int | None:
        for marker in (OPEN_CALL, FENCE):
            found = self._ahead.get(marker)
            if found is None or 0 <= found < at:
                self._ahead[marker] = self._buf.find(marker, at)
        hits = [(i, m) for m, i in self._ahead.items() if i >= 0]
        if hits:
            index, marker = min(hits)
            piece.text += self._buf[at:index]
            self._mode = "call" if marker == OPEN_CALL else "fence"
            self._block = [marker]
            return index + len(marker)
        keep = len(self._buf) - _held_suffix(self._buf[at:])
        piece.text += self._buf[at:keep]
        self._buf = self._buf[keep:]
        return None

    def _decode(self, body: str, piece: StreamPiece, *, fenced: bool, lang: str) -> None:
        calls, problem = decode_markup(body, fenced=fenced, lang=lang, known=self._known)
        piece.calls += calls
        if problem:
            piece.problems.append(problem)


def _held_suffix(text: str) -> int:
    """Length of the longest tail of ``text`` that could be the start of a marker."""
    for size in range(min(len(text), len(OPEN_CALL) - 1), 0, -1):
        tail = text[-size:]
        if OPEN_CALL.startswith(tail) or FENCE.startswith(tail):
            return size
    return 0
