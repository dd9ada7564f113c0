"""A Streamable HTTP MCP server (session era, 2025-11-25) that completes the handshake and lists its one
tool, `wait`, and then never answers: not a `tools/call`, not the DELETE that ends its session.

It stands for an upstream that hangs while the gateway has calls on it. Every hanging request is held at
most HANG_LIMIT seconds, or until close(), so a failing test leaks nothing.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HANG_LIMIT = 60.0
VERSION = "2025-11-25"
SESSION_ID = "silent-session-1"
TOOL = {"name": "wait", "description": "Never answers.", "inputSchema": {"type": "object", "properties": {}}}


class SilentMCPServer:
    """Serves http://127.0.0.1:PORT/mcp on a thread; counts the calls and DELETEs it left unanswered."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._closing = threading.Event()
        self.calls_received = 0
        self.deletes_received = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.silent = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="silent-mcp", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/mcp"

    def start(self) -> SilentMCPServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()
        with self._condition:
            self._condition.notify_all()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5.0)

    def wait_for_calls(self, count: int, timeout: float) -> bool:
        with self._condition:
            return self._condition.wait_for(lambda: self.calls_received >= count, timeout)

    def _count(self, what: str) -> None:
        with self._condition:
            setattr(self, what, getattr(self, what) + 1)
            self._condition.notify_all()

    def _hang(self) -> None:
        self._closing.wait(HANG_LIMIT)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    @property
    def silent(self) -> SilentMCPServer:
        return self.server.silent  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def do_GET(self) -> None:
        self._send(405, b"", {"Allow": "POST, DELETE"})

    def do_DELETE(self) -> None:
        self.silent._count("deletes_received")
        self.silent._hang()
        self.close_connection = True

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        message = json.loads(self.rfile.read(length) or b"{}")
        method = message.get("method")
        if "id" not in message:  # a notification or a response: nothing to say
            self._send(202, b"")
            return
        if method == "tools/call":
            self.silent._count("calls_received")
            self.silent._hang()
            self.close_connection = True
            return
        headers: dict[str, str] = {}
        if method == "initialize":
            result: dict[str, Any] = {
                "protocolVersion": VERSION,
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "silent", "version": "1.0.0"},
            }
            headers["Mcp-Session-Id"] = SESSION_ID
            reply: dict[str, Any] = {"jsonrpc": "2.0", "id": message["id"], "result": result}
        elif method == "tools/list":
            reply = {"jsonrpc": "2.0", "id": message["id"], "result": {"tools": [TOOL]}}
        elif method == "ping":
            reply = {"jsonrpc": "2.0", "id": message["id"], "result": {}}
        else:  # server/discover among them: a session-era server does not know it
            error = {"code": -32601, "message": f"Method not found: {method}"}
            reply = {"jsonrpc": "2.0", "id": message["id"], "error": error}
        self._send(200, json.dumps(reply).encode(), {"Content-Type": "application/json", **headers})

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
