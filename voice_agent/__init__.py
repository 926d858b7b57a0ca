"""voice-agent: speech-native agents with validated tools and emotion-aware spoken replies.

The names most programs need are here; each layer's full surface is in its subpackage
(``voice_agent.tools``, …).
"""

from voice_agent.errors import (
    BackendError,
    ConfigError,
    ModelLoadError,
    ToolDefinitionError,
    VoiceAgentError,
)
from voice_agent.log import configure_logging
from voice_agent.tools import Tool, ToolCall, ToolError, ToolRegistry, ToolResult, tool

__all__ = [
    "BackendError",
    "ConfigError",
    "ModelLoadError",
    "Tool",
    "ToolCall",
    "ToolDefinitionError",
    "ToolError",
    "ToolRegistry",
    "ToolResult",
    "VoiceAgentError",
    "configure_logging",
    "tool",
]

__version__ = "0.1.0"
