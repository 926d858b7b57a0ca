"""Adapters that turn other ecosystems' tools into ours: LangChain, OpenAPI, MCP.

Each is imported on first use so that ``import voice_agent`` stays light.
"""
