"""Drives an MCP server with the `mcp` 1.x client (the 2025-11-25 session era) for the interop tests.

Runs under GATEHOUSE_PYTHON_MCP1 (.venv-mcp1, see requirements-mcp1.txt), as one of:

    python mcp1_client.py [--timeout S] --url URL [--header 'NAME: VALUE']...  # Streamable HTTP
    python mcp1_client.py [--timeout S] -- COMMAND [ARG...]                     # stdio: launches COMMAND

It reads a JSON list of calls on stdin, each {"method": "tools/list"} or
{"method": "tools/call", "name": NAME, "arguments": {...}}, makes them in order in one session, and
prints one JSON object on stdout:

    {"sdk": "1.30.0", "protocolVersion": ..., "serverInfo": {...}, "results": [...]}

Each result is what the server answered, as the SDK parsed it (aliases, no nulls), or
{"error": {"code": ..., "message": ...}} for a JSON-RPC error. Each --header is sent on every HTTP
request (an agent key: --header 'Authorization: Bearer KEY'). The whole run is bounded by --timeout
(default 30 s): past it the driver prints the reason on stderr and exits 3. The stdio server's
stderr goes to the driver's stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import AsyncExitStack
from importlib.metadata import version
from typing import Any

import anyio
from mcp import ClientSession, McpError, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

EXIT_TIMEOUT = 3


def parse_headers(parser: argparse.ArgumentParser, raw: list[str]) -> dict[str, str]:
    headers = {}
    for item in raw:
        name, separator, value = item.partition(":")
        if not separator or not name.strip():
            parser.error(f"--header wants 'NAME: VALUE', got {item!r}")
        headers[name.strip()] = value.strip()
    return headers


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


async def open_streams(args: argparse.Namespace, headers: dict[str, str], stack: AsyncExitStack) -> Any:
    """The transport's streams, entered on `stack`: Streamable HTTP with the headers, or stdio."""
    if args.url is not None:
        # The client the transport would make itself, plus the headers.
        http_client = await stack.enter_async_context(create_mcp_http_client(headers=headers))
        return await stack.enter_async_context(streamable_http_client(args.url, http_client=http_client))
    server = StdioServerParameters(command=args.command[0], args=args.command[1:])
    return await stack.enter_async_context(stdio_client(server))


async def run(args: argparse.Namespace, headers: dict[str, str], calls: list[dict[str, Any]]) -> dict[str, Any]:
    async with AsyncExitStack() as stack:
        streams = await open_streams(args, headers, stack)
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
    parser.add_argument("--header", action="append", default=[], help="'NAME: VALUE' sent on every HTTP request")
    parser.add_argument("command", nargs="*", help="the stdio server to launch, after --")
    args = parser.parse_args()
    if (args.url is None) == (not args.command):
        parser.error("give either --url URL or -- COMMAND [ARG...]")
    if args.header and args.url is None:
        parser.error("--header needs --url")
    headers = parse_headers(parser, args.header)
    calls = json.load(sys.stdin)
    with anyio.move_on_after(args.timeout) as scope:
        output = await run(args, headers, calls)
    if scope.cancelled_caught:
        print(f"mcp1_client: no answer within {args.timeout} s", file=sys.stderr)
        return EXIT_TIMEOUT
    json.dump(output, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(anyio.run(main))
