"""Loads an MCP server's tools into LangChain with langchain-mcp-adapters and invokes them.

Runs under GATEHOUSE_PYTHON_MCP1 (.venv-mcp1: langchain-mcp-adapters requires mcp<2), as one of:

    python langchain_mcp_tools.py [--timeout S] --url URL [--header 'NAME: VALUE']...  # Streamable HTTP
    python langchain_mcp_tools.py [--timeout S] -- COMMAND [ARG...]                     # stdio: launches COMMAND

It reads a JSON list of tool calls on stdin, each {"name": NAME, "args": {...}}, invokes them in
order as LangChain tool calls within one MCP session, and prints one JSON object on stdout:

    {"tools": [{"name", "description", "args_schema"}...],
     "messages": [{"name", "tool_call_id", "status", "text", "artifact"}...]}

`text` joins the text blocks of the ToolMessage's content; `artifact` is what the adapter put
beside it (the structured content), or null. The whole run is bounded by --timeout (default 30 s):
past it the driver prints the reason on stderr and exits 3. Each --header is sent on every HTTP
request (an agent key: --header 'Authorization: Bearer KEY').
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import anyio
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool
from langchain_mcp_adapters.client import MultiServerMCPClient
from langchain_mcp_adapters.tools import load_mcp_tools

EXIT_TIMEOUT = 3
SERVER = "server"


def parse_headers(parser: argparse.ArgumentParser, raw: list[str]) -> dict[str, str]:
    headers = {}
    for item in raw:
        name, separator, value = item.partition(":")
        if not separator or not name.strip():
            parser.error(f"--header wants 'NAME: VALUE', got {item!r}")
        headers[name.strip()] = value.strip()
    return headers


def schema(tool: BaseTool) -> dict[str, Any]:
    args_schema = tool.args_schema
    if isinstance(args_schema, dict):
        return args_schema
    assert args_schema is not None, f"tool {tool.name} has no args_schema"
    return args_schema.model_json_schema()


def text_of(message: ToolMessage) -> str:
    if isinstance(message.content, str):
        return message.content
    return "".join(block["text"] for block in message.content if isinstance(block, dict) and block["type"] == "text")


async def run(connection: dict[str, Any], calls: list[dict[str, Any]]) -> dict[str, Any]:
    client = MultiServerMCPClient({SERVER: connection})
    # One session for all calls: without it the adapter opens a new one (a new stdio server) per call.
    async with client.session(SERVER) as session:
        tools = await load_mcp_tools(session, server_name=SERVER)
        by_name = {tool.name: tool for tool in tools}
        messages = []
        for index, call in enumerate(calls, start=1):
            tool_call = {"name": call["name"], "args": call["args"], "id": f"call-{index}", "type": "tool_call"}
            message = await by_name[call["name"]].ainvoke(tool_call)
            assert isinstance(message, ToolMessage), f"{call['name']} returned {message!r}"
            messages.append(
                {
                    "name": message.name,
                    "tool_call_id": message.tool_call_id,
                    "status": message.status,
                    "text": text_of(message),
                    "artifact": message.artifact,
                }
            )
    return {
        "tools": [{"name": t.name, "description": t.description, "args_schema": schema(t)} for t in tools],
        "messages": messages,
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
    if args.url is not None:
        connection: dict[str, Any] = {"transport": "streamable_http", "url": args.url}
        if headers:
            connection["headers"] = headers
    else:
        connection = {"transport": "stdio", "command": args.command[0], "args": args.command[1:]}
    with anyio.move_on_after(args.timeout) as scope:
        output = await run(connection, calls)
    if scope.cancelled_caught:
        print(f"langchain_mcp_tools: no answer within {args.timeout} s", file=sys.stderr)
        return EXIT_TIMEOUT
    json.dump(output, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(anyio.run(main))
