"""A small MCP server (stdio) with a notes list, for trying ``registry.register_mcp``."""

from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations

server = MCPServer("notes")
NOTES: list[str] = []


@server.tool()
def add_note(text: str) -> str:
    """Add a note."""
    NOTES.append(text)
    return f"{len(NOTES)} notes"


@server.tool()
def list_notes() -> list[str]:
    """List every note."""
    return NOTES


@server.tool(annotations=ToolAnnotations(destructive_hint=True))
def delete_all_notes() -> str:
    """Delete every note."""
    NOTES.clear()
    return "deleted"


if __name__ == "__main__":
    server.run("stdio")
