"""Text language models with tool calling."""

from voice_agent.models._grammar import tool_call_grammar
from voice_agent.models.llm.llama import QWEN_CODER_05B, QWEN_CODER_15B, WEIGHTS, LlamaCppLLM

__all__ = ["QWEN_CODER_05B", "QWEN_CODER_15B", "WEIGHTS", "LlamaCppLLM", "tool_call_grammar"]
