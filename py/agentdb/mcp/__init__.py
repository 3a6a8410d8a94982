"""agentdb.mcp: a Model Context Protocol server over one .rvf file (native only; needs the
`mcp` SDK, 2.x: pip install 'agentdb[mcp]').

    agentdb mcp agent.rvf                       stdio (what Claude Desktop, Cursor, ... launch)
    agentdb mcp agent.rvf --http 127.0.0.1:8765 streamable HTTP at http://127.0.0.1:8765/mcp, HTTP+SSE at /sse
    agentdb mcp agent.rvf --readonly            beside a writer: no lock, no writing tools

The tools (agentdb.mcp.tools) are the agent-memory API's methods with JSON schemas: remember /
recall / forget / feedback, episodes, skills, reasoning patterns, causal edges and causal
recall, the router, Cypher on the graph, vector ingest / query with filters, status, verify
and export; the resources agentdb://status and agentdb://segments. A plain vector store
(integer ids) is served with the tools that need no memory. Every write is one commit and
notifies the clients subscribed to the resources; a bad call is a tool error carrying the
typed error's message (agentdb.mcp.server).
"""
from .server import MemoryServer, build, serve
from .tools import TOOLS

__all__ = ["MemoryServer", "TOOLS", "build", "serve"]
