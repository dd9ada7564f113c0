"""Drives an MCP server with the `mcp` 1.x client (the 2025-11-25 session era) for the interop tests.

Runs under GATEHOUSE_PYTHON_MCP1 (.venv-mcp1, see requirements-mcp1.txt), as one of:

    python mcp1_client.py [--timeout S] --url URL           # Streamable HTTP
    python mcp1_client.py [--timeout S] -- COMMAND [ARG...]  # stdio: launches COMMAND

It reads a JSON list of calls on stdin, each {"method": "tools/list"} or
{"method": "tools/call", "name": NAME, "arguments": {...}}, makes them in order in one session, and
prints one JSON object on stdout:

    {"sdk": "1.30.0", "protocolVersion": ..., "serverInfo": {...}, "results": [...]}

Each result is what the server answered, as the SDK parsed it (aliases, no nulls), or
{"error": {"code": ..., "message": ...}} for a JSON-RPC error. The whole run is bounded by --timeout
(default 30 s): past it the driver prints the reason on stderr and exits 3. The stdio server's
stderr goes to the driver's stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import AbstractAsyncContextManager
from importlib.metadata import version
from typing import Any

import anyio
from mcp import ClientSession, McpError, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

EXIT_TIMEOUT = 3


def dump(model: Any) -> Any:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


async def call(session: ClientSession, request: dict[str, Any]) -> Any:
    method = request["method"]
    try:
        if method == "tools/list":
            return dump(await session.list_tools())
        if method == "tools/call":
            return dump(await session.call_tool(request["name"], request.get("arguments") or {}))
    except McpError as error:
        return {"error": {"code": error.error.code, "message": error.error.message}}
    raise SystemExit(f"mcp1_client: unknown method in the calls: {method!r}")


async def run(transport: AbstractAsyncContextManager[Any], calls: list[dict[str, Any]]) -> dict[str, Any]:
    async with transport as streams:
        read_stream, write_stream = streams[0], streams[1]
        async with ClientSession(read_stream, write_stream) as session:
            initialized = await session.initialize()
            results = [await call(session, request) for request in calls]
    return {
        "sdk": version("mcp"),
        "protocolVersion": initialized.protocolVersion,
        "serverInfo": dump(initialized.serverInfo),
        "results": results,
    }


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--url", help="the server's Streamable HTTP endpoint")
    parser.add_argument("command", nargs="*", help="the stdio server to launch, after --")
    args = parser.parse_args()
    if (args.url is None) == (not args.command):
        parser.error("give either --url URL or -- COMMAND [ARG...]")
    calls = json.load(sys.stdin)
    transport: AbstractAsyncContextManager[Any]
    if args.url is not None:
        transport = streamable_http_client(args.url)
    else:
        transport = stdio_client(StdioServerParameters(command=args.command[0], args=args.command[1:]))
    with anyio.move_on_after(args.timeout) as scope:
        output = await run(transport, calls)
    if scope.cancelled_caught:
        print(f"mcp1_client: no answer within {args.timeout} s", file=sys.stderr)
        return EXIT_TIMEOUT
    json.dump(output, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(anyio.run(main))
