"""An MCP server for the gateway's MCP lifecycle tests, written with the official `mcp` SDK, 2.x line.

Run it over stdio with an interpreter that has `mcp` 2.x (GATEHOUSE_PYTHON_MCP2):

    python fixture_server.py [--description-file PATH] [--require-file PATH]

Tools:
  echo(text)                   returns `text`; its description is the content of --description-file
                               (stripped), read once at start, so a test can change it between runs
  pid()                        returns the server's process id
  sleep(seconds, started_file) writes `started_file` (when given) once the call runs, then sleeps:
                               a call that is surely in flight, to kill the process under it
  hold(text, started_file, release_file, timeout, cancelled_file)
                               writes `started_file`, waits until `release_file` exists (at most
                               `timeout` seconds), then returns `text`: calls held in flight together;
                               writes `cancelled_file` (when given) if the client cancels the call
  count(n)                     reports progress 1..n (of n, message "step K"), then returns n
  regional(region, text)       returns "REGION: TEXT"; `region` is bound to the header Mcp-Param-Region
                               (x-mcp-header), which 2026-07-28 HTTP servers check against the body
--http PORT: Streamable HTTP at http://127.0.0.1:PORT/mcp instead of stdio (the runner of
samples/servers/notes.py, which announces "notes: listening on URL" on stderr).
Prompt greet(name) ("Hello, NAME!"); resources fixture://motd and the template fixture://greeting/{name}.

--require-file PATH: exit 1 at once, before importing the SDK, unless PATH exists (a server that
cannot start until a file appears). Each message about that goes to stderr.
--stubborn: ignore SIGTERM and SIGINT, and keep running for STUBBORN_LINGER seconds after stdin
closes: a server that only SIGKILL stops (the linger bounds how long a test can leak it).
--linger SECONDS: keep running for SECONDS after stdin closes (finishing work, as many real servers
do), while SIGTERM still ends it at once.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import signal
import sys
import time
from typing import Annotated

SERVER_NAME = "fixture"
DEFAULT_ECHO_DESCRIPTION = "Return the text unchanged."
POLL_INTERVAL = 0.02
STUBBORN_LINGER = 60.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="An MCP server for the gateway's lifecycle tests (stdio).")
    parser.add_argument("--description-file", type=pathlib.Path, help="the echo tool's description, read at start")
    parser.add_argument("--require-file", type=pathlib.Path, help="exit 1 at once unless this file exists")
    parser.add_argument("--stubborn", action="store_true", help="ignore SIGTERM, SIGINT and the end of stdin")
    parser.add_argument("--http", metavar="PORT", type=int, help="serve Streamable HTTP on 127.0.0.1:PORT/mcp")
    parser.add_argument("--linger", metavar="SECONDS", type=float, default=0.0, help="stay up after stdin closes")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.stubborn:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if args.require_file is not None and not args.require_file.exists():
        print(f"fixture: {args.require_file} does not exist; exiting", file=sys.stderr, flush=True)
        return 1
    description = DEFAULT_ECHO_DESCRIPTION
    if args.description_file is not None:
        description = args.description_file.read_text().strip()

    import anyio
    # Tool signatures are read from module globals (postponed annotations), so Context lives there.
    global Context, Field
    from mcp.server import MCPServer
    from mcp.server.mcpserver import Context
    from pydantic import Field

    server = MCPServer(SERVER_NAME, version="1.0.0", subscriptions=False)

    @server.tool(description=description)
    def echo(text: str) -> str:
        return text

    @server.tool(description="Return the server's process id.")
    def pid() -> int:
        return os.getpid()

    @server.tool(description="Write started_file (if given), then sleep for the given seconds.")
    async def sleep(seconds: float, started_file: str = "") -> str:
        if started_file:
            pathlib.Path(started_file).write_text(str(os.getpid()))
        await anyio.sleep(seconds)
        return f"slept {seconds}"

    @server.tool(description="Write started_file, wait until release_file exists, then return the text.")
    async def hold(
        text: str, started_file: str, release_file: str, timeout: float = 30.0, cancelled_file: str = ""
    ) -> str:
        pathlib.Path(started_file).write_text(str(os.getpid()))
        try:
            with anyio.fail_after(timeout):
                while not pathlib.Path(release_file).exists():
                    await anyio.sleep(POLL_INTERVAL)
        except anyio.get_cancelled_exc_class():
            if cancelled_file:
                pathlib.Path(cancelled_file).write_text("cancelled")
            raise
        return text

    @server.tool(description="Report progress 1..n of n, then return n.")
    async def count(n: int, ctx: Context) -> int:
        for step in range(1, n + 1):
            await ctx.report_progress(step, n, f"step {step}")
        return n

    @server.tool(description="Return the text tagged with the region, which travels in Mcp-Param-Region.")
    def regional(
        region: Annotated[str, Field(json_schema_extra={"x-mcp-header": "Region"})], text: str
    ) -> str:
        return f"{region}: {text}"

    @server.prompt(description="Greet someone by name.")
    def greet(name: str) -> str:
        return f"Hello, {name}!"

    @server.resource("fixture://motd", description="The message of the day.", mime_type="text/plain")
    def motd() -> str:
        return "Tools are federated."

    @server.resource("fixture://greeting/{name}", description="A greeting for a name.", mime_type="text/plain")
    def greeting(name: str) -> str:
        return f"Hi {name}"

    if args.http is not None:
        # The reference server's HTTP runner: it prints "notes: listening on URL" once it accepts.
        sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "samples" / "servers"))
        from notes import serve_http

        serve_http(server, args.http)
        return 0
    server.run("stdio")
    linger = STUBBORN_LINGER if args.stubborn else args.linger
    if linger > 0:
        print(f"fixture: stdin closed; staying up for {linger} s", file=sys.stderr, flush=True)
        time.sleep(linger)
    return 0


if __name__ == "__main__":
    sys.exit(main())
