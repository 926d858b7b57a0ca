"""The tool layer: any tool in one line, validated, parsed from any model, run safely.

Imports nothing of ours but the foundation (``errors``, ``log``).
"""

from voice_agent.tools._parsing import parse_python_calls, parse_tool_calls
from voice_agent.tools._registry import Confirm, ToolRegistry, qwen_tools_block
from voice_agent.tools._schema import normalize_bfcl_schema
from voice_agent.tools._stream import StreamPiece, ToolCallSplitter
from voice_agent.tools._tool import Tool, ToolContext, tool
from voice_agent.tools._types import (
    ArgumentProblem,
    ParseResult,
    ResultKind,
    ToolCall,
    ToolError,
    ToolResult,
)
from voice_agent.tools._vocabulary import (
    description_copies,
    recent_words,
    tool_vocabulary,
    unsaid_examples,
)

__all__ = [
    "ArgumentProblem",
    "Confirm",
    "ParseResult",
    "ResultKind",
    "StreamPiece",
    "Tool",
    "ToolCall",
    "ToolCallSplitter",
    "ToolContext",
    "ToolError",
    "ToolRegistry",
    "ToolResult",
    "description_copies",
    "normalize_bfcl_schema",
    "parse_python_calls",
    "parse_tool_calls",
    "qwen_tools_block",
    "recent_words",
    "tool",
    "tool_vocabulary",
    "unsaid_examples",
]
