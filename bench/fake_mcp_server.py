"""The fast fake upstream of bench/mcp-run: a stateless (2026-07-28) Streamable HTTP MCP server.

One asyncio process, raw HTTP/1.1 with keep-alive (no framework), on 127.0.0.1 only. Every
`POST /mcp` carries one JSON-RPC message and gets a JSON reply with Content-Length that echoes the
request's id (the gateway rewrites ids upstream, so replies cannot be canned files):

    server/discover  supportedVersions ["2026-07-28"], capabilities {tools: {}}
    initialize       answered too (session-era probe), without a session id
    tools/list       one tool, `echo`, with an object input schema
    tools/call       {"content": [{"type": "text", "text": "ok"}], "isError": false}
    ping             {}
    anything else    JSON-RPC error -32601

Notifications and responses get 202. `GET /stats` returns what was served so far, as JSON:
`posts` (every POST), `tools_call` and `mcp_method_mismatch` (tools/call requests whose
`Mcp-Method` header was missing or did not name the body's method), so the benchmark can count
the upstream requests from the server's side too.

    python3 bench/fake_mcp_server.py [--port PORT]   # 0 (default): any free port

Once it accepts connections it prints `fake-mcp: listening on http://127.0.0.1:PORT/mcp` on
stderr. SIGTERM or SIGINT stops it with status 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import sys

HOST = "127.0.0.1"
PATH = "/mcp"
VERSION = "2026-07-28"
SESSION_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")
MAX_HEAD = 64 * 1024
MAX_BODY = 4 * 1024 * 1024


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


RESULTS = {
    "server/discover": _json(
        {
            "supportedVersions": [VERSION],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "bench-fake", "version": "1.0.0"},
            "resultType": "complete",
            "ttlMs": 0,
            "cacheScope": "private",
        }
    ),
    "tools/list": _json(
        {
            "tools": [
                {
                    "name": "echo",
                    "description": "Answers ok.",
                    "inputSchema": {
                        "type": "object",
                        "properties": {"text": {"type": "string", "description": "Any text"}},
                    },
                }
            ],
            "resultType": "complete",
        }
    ),
    "tools/call": _json({"content": [{"type": "text", "text": "ok"}], "isError": False, "resultType": "complete"}),
    "ping": _json({"resultType": "complete"}),
}
STATS = {"posts": 0, "tools_call": 0, "mcp_method_mismatch": 0}


def _response(status: str, body: bytes, extra: str = "", close: bool = False) -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{extra}"
    if close:
        head += "Connection: close\r\n"
    return head.encode() + b"\r\n" + body


def _reply(message_id: object, result: bytes) -> bytes:
    return b'{"jsonrpc":"2.0","id":' + _json(message_id) + b',"result":' + result + b"}"


def _error(message_id: object, code: int, text: str) -> bytes:
    return _json({"jsonrpc": "2.0", "id": message_id, "error": {"code": code, "message": text}})


def answer_post(body: bytes, headers: dict[str, str]) -> tuple[str, bytes]:
    """The status line and JSON body answering one POSTed message."""
    STATS["posts"] += 1
    try:
        message = json.loads(body)
    except ValueError:
        return "400 Bad Request", _error(None, -32700, "Parse error")
    if not isinstance(message, dict):
        return "400 Bad Request", _error(None, -32600, "Invalid Request: one message per POST")
    method = message.get("method")
    if method is None or "id" not in message:
        return "202 Accepted", b""  # a notification or a response: nothing to answer
    message_id = message["id"]
    if method == "tools/call":
        STATS["tools_call"] += 1
        if headers.get("mcp-method") != method:
            STATS["mcp_method_mismatch"] += 1
    result = RESULTS.get(method)
    if result is not None:
        return "200 OK", _reply(message_id, result)
    if method == "initialize":
        params = message.get("params") or {}
        asked = params.get("protocolVersion")
        version = asked if asked in SESSION_VERSIONS else SESSION_VERSIONS[0]
        result = _json(
            {
                "protocolVersion": version,
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "bench-fake", "version": "1.0.0"},
            }
        )
        return "200 OK", _reply(message_id, result)
    return "200 OK", _error(message_id, -32601, f"Method not found: {method}")


def _dechunk(buffer: bytearray, start: int) -> tuple[bytes, int] | None:
    """A chunked body beginning at `start`: (body, end offset), or None while incomplete."""
    body = bytearray()
    position = start
    while True:
        line_end = buffer.find(b"\r\n", position)
        if line_end < 0:
            return None
        size = int(bytes(buffer[position:line_end]).split(b";", 1)[0], 16)
        position = line_end + 2
        if size == 0:
            if buffer[position : position + 2] == b"\r\n":
                return bytes(body), position + 2
            trailers_end = buffer.find(b"\r\n\r\n", position)
            return (bytes(body), trailers_end + 4) if trailers_end >= 0 else None
        if len(buffer) < position + size + 2:
            return None
        body += buffer[position : position + size]
        if len(body) > MAX_BODY:
            raise ValueError("body too large")
        position += size + 2


class Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        try:
            while self.transport is not None and self._one_request():
                pass
        except (ValueError, IndexError):
            self._send(_response("400 Bad Request", b"", close=True), close=True)

    def _send(self, data: bytes, close: bool = False) -> None:
        if self.transport is None:
            return
        self.transport.write(data)
        if close:
            self.transport.close()
            self.transport = None

    def _one_request(self) -> bool:
        """Answers the first complete request in the buffer; False while none is complete."""
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            if len(self.buffer) > MAX_HEAD:
                raise ValueError("head too large")
            return False
        lines = bytes(self.buffer[:head_end]).decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        close = headers.get("connection", "").lower() == "close"
        if "chunked" in headers.get("transfer-encoding", "").lower():
            decoded = _dechunk(self.buffer, head_end + 4)
            if decoded is None:
                return False
            body, end = decoded
        else:
            length = int(headers.get("content-length", "0"))
            if length > MAX_BODY:
                raise ValueError("body too large")
            end = head_end + 4 + length
            if len(self.buffer) < end:
                return False
            body = bytes(self.buffer[head_end + 4 : end])
        del self.buffer[:end]

        path = target.split("?", 1)[0]
        if path == PATH and method == "POST":
            status, payload = answer_post(body, headers)
            extra = "Content-Type: application/json\r\n" if payload else ""
            self._send(_response(status, payload, extra, close), close)
        elif path == PATH:
            self._send(_response("405 Method Not Allowed", b"", "Allow: POST\r\n", close), close)
        elif path == "/stats" and method == "GET":
            self._send(_response("200 OK", _json(STATS), "Content-Type: application/json\r\n", close), close)
        else:
            self._send(_response("404 Not Found", b"", "", close), close)
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(port: int) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, port))
    listener.listen(1024)
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, lambda: stop.done() or stop.set_result(None))
    server = await loop.create_server(Connection, sock=listener)
    print(f"fake-mcp: listening on http://{HOST}:{listener.getsockname()[1]}{PATH}", file=sys.stderr, flush=True)
    async with server:
        await stop


def main() -> None:
    parser = argparse.ArgumentParser(description="A fast stateless fake MCP server for bench/mcp-run.")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port)")
    args = parser.parse_args()
    asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
