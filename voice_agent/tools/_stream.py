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
    find_closer,
    parse_tool_calls,
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
        self._mode: Literal["start", "text", "call", "fence", "bare"] = "start"

    def feed(self, chunk: str) -> StreamPiece:
        """Take the next piece of generated text; return what can be released now."""
        self._buf += chunk
        piece = StreamPiece()
        while self._step(piece):
            pass
        return piece

    def finish(self) -> StreamPiece:
        """End of generation: release everything still held, decoding unclosed markup."""
        piece = StreamPiece()
        buf, self._buf = self._buf, ""
        if self._mode in ("start", "text"):
            piece.text = buf
        elif self._mode in ("call", "fence"):
            closer = CLOSE_CALL if self._mode == "call" else FENCE
            end = buf.find(closer)  # an unbalanced quote hid it; take the first one
            body, rest = (buf, "") if end < 0 else (buf[:end], buf[end + len(closer) :])
            self._decode(body, piece, fenced=self._mode == "fence")
            self._mode = "text"
            rest_piece = self.feed(rest)
            tail = self.finish()
            piece.text += rest_piece.text + tail.text
            piece.calls += rest_piece.calls + tail.calls
            piece.problems += rest_piece.problems + tail.problems
        else:  # a reply that opened with [ or {: calls if it decodes, words if it was words
            result = parse_tool_calls(buf, known=self._known)  # "[laughter] Hi" is words
            piece.calls, piece.problems, piece.text = result.calls, result.problems, result.text
        self._mode = "start"
        return piece

    def _step(self, piece: StreamPiece) -> bool:
        """Advance the state machine once; False when it needs more input."""
        if self._mode == "start":
            head = self._buf.lstrip()
            if not head:
                return False
            self._mode = "bare" if head[0] in "[{" else "text"
            return self._mode == "text"
        if self._mode == "bare":
            return False
        if self._mode == "text":
            return self._step_text(piece)
        closer = CLOSE_CALL if self._mode == "call" else FENCE
        end = find_closer(self._buf, closer)
        if end < 0:
            return False
        self._decode(self._buf[:end], piece, fenced=self._mode == "fence")
        self._buf = self._buf[end + len(closer) :]
        self._mode = "text"
        return True

    def _step_text(self, piece: StreamPiece) -> bool:
        hits = [(i, m) for m in (OPEN_CALL, FENCE) if (i := self._buf.find(m)) >= 0]
        if hits:
            index, marker = min(hits)
            piece.text += self._buf[:index]
            self._buf = self._buf[index + len(marker) :]
            self._mode = "call" if marker == OPEN_CALL else "fence"
            return True
        hold = _held_suffix(self._buf)
        piece.text += self._buf[: len(self._buf) - hold]
        self._buf = self._buf[len(self._buf) - hold :]
        return False

    def _decode(self, block: str, piece: StreamPiece, *, fenced: bool) -> None:
        lang, body = split_fence_lang(block) if fenced else ("", block)
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
