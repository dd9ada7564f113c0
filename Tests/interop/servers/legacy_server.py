"""A session-era-only MCP server, written with the official `mcp` SDK, 1.x line (FastMCP).

It knows nothing of 2026-07-28: the gateway must find that out (its `server/discover` fails) and
speak `initialize` to it, whatever the era of the client in front. Run it with an interpreter that
has `mcp` 1.x (GATEHOUSE_PYTHON_MCP1):

    python legacy_server.py              # stdio
    python legacy_server.py --http PORT  # Streamable HTTP at http://127.0.0.1:PORT/mcp

Tool shout(text) returns the text in upper case.
"""

from __future__ import annotations

import argparse

from mcp.server.fastmcp import FastMCP


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--http", metavar="PORT", type=int, help="serve Streamable HTTP on 127.0.0.1:PORT/mcp")
    args = parser.parse_args()
    server = FastMCP("legacy", host="127.0.0.1", port=args.http or 0)

    @server.tool(description="Return the text in upper case.")
    def shout(text: str) -> str:
        return text.upper()

    server.run("streamable-http" if args.http is not None else "stdio")


if __name__ == "__main__":
    main()
