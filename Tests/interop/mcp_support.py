"""MCP servers and clients for the interop tests, on both `mcp` majors.

Two interpreters, both set by scripts/test (defaults: the venvs it makes at the repository root):
  GATEHOUSE_PYTHON_MCP2  .venv-interop (requirements.txt), where pytest runs: mcp 2.x,
                         mcp-server-time, mcp-server-git; runs samples/servers/notes.py
  GATEHOUSE_PYTHON_MCP1  .venv-mcp1 (requirements-mcp1.txt): mcp 1.x and langchain-mcp-adapters,
                         used through the driver scripts in drivers/
The mcp 2.x client is used in-process (`mcp.Client`). Every wait here is bounded.

For the gateway's MCP plane (test_mcp_*.py, fixtures in conftest.py): servers/fixture_server.py
(a stdio server with tools to kill, hold and pin), configs with an `mcp` section (`mcp_config`),
raw Streamable HTTP in both eras (`modern_body`, `session_body`, `jsonrpc_response`), and the
gateway's child processes as seen in /proc (`ProcessRecord`, `children_of`).
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import signal
import subprocess
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
DRIVERS = pathlib.Path(__file__).resolve().parent / "drivers"
NOTES_SERVER = REPO_ROOT / "samples" / "servers" / "notes.py"

# What samples/servers/notes.py serves, and the time server of mcp-server-time.
NOTES_TOOLS = ["add_note", "list_notes", "search_notes"]
NOTES_SERVER_INFO = {"name": "notes", "version": "1.0.0"}
TIME_TOOLS = ["get_current_time", "convert_time"]

# The protocol revisions of each era: the initialize handshake, and the sessionless one.
SESSION_ERA_VERSION = "2025-11-25"
MODERN_VERSION = "2026-07-28"

MCP_TIMEOUT = 30.0
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


def _interpreter(variable: str, venv: str) -> str:
    path = pathlib.Path(os.environ.get(variable) or REPO_ROOT / venv / "bin" / "python")
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"no python at {path} for {variable}; run scripts/test, which makes {venv}", pytrace=False)
    return str(path)


def python_mcp1() -> str:
    """The interpreter with mcp 1.x and langchain-mcp-adapters."""
    return _interpreter("GATEHOUSE_PYTHON_MCP1", ".venv-mcp1")


def python_mcp2() -> str:
    """The interpreter with mcp 2.x, mcp-server-time and mcp-server-git."""
    return _interpreter("GATEHOUSE_PYTHON_MCP2", ".venv-interop")


def notes_stdio_command() -> list[str]:
    return [python_mcp2(), str(NOTES_SERVER)]


def time_stdio_command() -> list[str]:
    return [python_mcp2(), "-m", "mcp_server_time", "--local-timezone", "UTC"]


def git_stdio_command(repository: pathlib.Path) -> list[str]:
    return [python_mcp2(), "-m", "mcp_server_git", "--repository", str(repository)]


def run_driver(
    driver: str, target: Sequence[str], calls: list[dict[str, Any]], timeout: float = MCP_TIMEOUT
) -> dict[str, Any]:
    """Runs drivers/<driver>.py under GATEHOUSE_PYTHON_MCP1 and returns the JSON it printed.

    `target` is ["--url", URL, optionally "--header", "NAME: VALUE", ...] or the stdio server's
    command. The driver gives up after `timeout`
    seconds itself; the process gets 15 more before it is killed and the test fails.
    """
    argv = [python_mcp1(), str(DRIVERS / f"{driver}.py"), "--timeout", str(timeout)]
    argv += list(target) if target[0] == "--url" else ["--", *target]
    try:
        completed = subprocess.run(
            argv, input=json.dumps(calls), capture_output=True, text=True, timeout=timeout + 15, cwd=REPO_ROOT
        )
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"{driver} still running after {timeout + 15}s; stderr:\n{error.stderr}")
    if completed.returncode != 0:
        pytest.fail(f"{driver} exited with {completed.returncode}; stderr:\n{completed.stderr}")
    return json.loads(completed.stdout)


def mcp1_client(target: Sequence[str], calls: list[dict[str, Any]], timeout: float = MCP_TIMEOUT) -> dict[str, Any]:
    """The mcp 1.x client (drivers/mcp1_client.py): one session, `calls` in order."""
    return run_driver("mcp1_client", target, calls, timeout)


def langchain_tools(target: Sequence[str], calls: list[dict[str, Any]], timeout: float = MCP_TIMEOUT) -> dict[str, Any]:
    """langchain-mcp-adapters (drivers/langchain_mcp_tools.py): loads the tools, invokes `calls`."""
    return run_driver("langchain_mcp_tools", target, calls, timeout)


_LISTENING = re.compile(r"^notes: listening on (http://127\.0\.0\.1:\d+/mcp)$")


class NotesHTTPServer:
    """samples/servers/notes.py --http 0 under GATEHOUSE_PYTHON_MCP2, with its stderr drained.

    `command` runs another server with the same HTTP runner (servers/fixture_server.py).
    """

    def __init__(self, command: Sequence[str] | None = None, port: int = 0) -> None:
        self._lock = threading.Condition()
        self._stderr: list[str] = []
        self.proc = subprocess.Popen(
            [*(command or notes_stdio_command()), "--http", str(port)],
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._pump = threading.Thread(target=self._drain, args=(self.proc.stderr,), daemon=True)
        self._pump.start()
        self.url = self._wait_listening(START_TIMEOUT)

    def _drain(self, stream: IO[bytes] | None) -> None:
        assert stream is not None
        for raw in iter(stream.readline, b""):
            with self._lock:
                self._stderr.append(raw.decode("utf-8", errors="replace").rstrip("\n"))
                self._lock.notify_all()
        stream.close()
        with self._lock:
            self._lock.notify_all()

    @property
    def log_text(self) -> str:
        with self._lock:
            return "\n".join(self._stderr)

    def _wait_listening(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for line in self._stderr:
                    if match := _LISTENING.match(line):
                        return match.group(1)
                if self.proc.poll() is not None and not self._pump.is_alive():
                    pytest.fail(f"notes.py --http exited with {self.proc.returncode}:\n" + "\n".join(self._stderr))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.proc.kill()
                    pytest.fail(f"notes.py --http not listening after {timeout}s:\n" + "\n".join(self._stderr))
                self._lock.wait(min(remaining, 0.5))

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, then the exit code; kills the server and fails if it outlives `timeout`."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5.0)
            pytest.fail(f"notes.py --http still running {timeout}s after SIGTERM; killed it:\n{self.log_text}")
        self._pump.join(timeout=5.0)
        return code


# ---------------------------------------------------------------------------------------------------
# The gateway's MCP plane: samples/mcp-federation.yaml, the fixture server, raw Streamable HTTP.

MCP_SAMPLE = REPO_ROOT / "samples" / "mcp-federation.yaml"
FIXTURE_SERVER = pathlib.Path(__file__).resolve().parent / "servers" / "fixture_server.py"
FIXTURE_TOOLS = ["echo", "pid", "sleep", "hold", "count", "regional"]
FIXTURE_ECHO_DESCRIPTION = "Return the text unchanged."

# JSON-RPC error codes the gateway answers with (MCP: -32020 is a header that disagrees with the body).
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
HEADER_MISMATCH = -32020

MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": MODERN_VERSION,
    "io.modelcontextprotocol/clientCapabilities": {},
}
ACCEPT = "application/json, text/event-stream"


def fixture_stdio_command(*options: str) -> list[str]:
    """servers/fixture_server.py under GATEHOUSE_PYTHON_MCP2, with its options."""
    return [python_mcp2(), str(FIXTURE_SERVER), *options]


def federated(server: str, tools: Sequence[str]) -> list[str]:
    """The names `tools` of `server` have on /mcp."""
    return [f"{server}__{tool}" for tool in tools]


def modern_headers(method: str, name: str | None = None) -> dict[str, str]:
    """The headers of a 2026-07-28 request: the version, and the method and name it carries."""
    headers = {"MCP-Protocol-Version": MODERN_VERSION, "Mcp-Method": method, "Accept": ACCEPT}
    if name is not None:
        headers["Mcp-Name"] = name
    return headers


def modern_body(method: str, params: dict[str, Any] | None = None, request_id: int | str = 1) -> dict[str, Any]:
    """A 2026-07-28 request: no session, the version and capabilities in params._meta."""
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": {**(params or {}), "_meta": MODERN_META}}


def session_body(method: str, params: dict[str, Any] | None = None, request_id: int | str | None = 1) -> dict[str, Any]:
    """A session-era message; without an id it is a notification."""
    body: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        body["params"] = params
    if request_id is not None:
        body["id"] = request_id
    return body


def initialize_params() -> dict[str, Any]:
    return {
        "protocolVersion": SESSION_ERA_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "gatehouse-interop", "version": "1.0.0"},
    }


def jsonrpc_messages(content_type: str, body: bytes) -> list[dict[str, Any]]:
    """The JSON-RPC messages of a Streamable HTTP response: one JSON body, or the data of SSE events."""
    text = body.decode("utf-8")
    if content_type.startswith("application/json"):
        message = json.loads(text)
        return message if isinstance(message, list) else [message]
    assert content_type.startswith("text/event-stream"), f"unexpected content-type {content_type!r}: {text!r}"
    messages = []
    for event in re.split(r"\r?\n\r?\n", text):
        data = [line[5:].removeprefix(" ") for line in re.split(r"\r?\n", event) if line.startswith("data:")]
        if data and "".join(data).strip():
            messages.append(json.loads("\n".join(data)))
    return messages


def jsonrpc_response(content_type: str, body: bytes) -> dict[str, Any]:
    """The one JSON-RPC response (result or error) in a Streamable HTTP response, past any notifications."""
    answers = [m for m in jsonrpc_messages(content_type, body) if "result" in m or "error" in m]
    assert len(answers) == 1, f"expected one JSON-RPC response, got {body!r}"
    return answers[0]


def tool_text(result: dict[str, Any]) -> str:
    """The one text block of a tools/call result in wire form."""
    content = result["content"]
    assert len(content) == 1 and content[0]["type"] == "text", result
    return content[0]["text"]


def passthrough(result: dict[str, Any]) -> dict[str, Any]:
    """What the gateway passes through unchanged of a tools/call result (wire form)."""
    return {key: result[key] for key in ("content", "structuredContent", "isError") if key in result}


def wait_until(check: Any, timeout: float, what: str, interval: float = 0.05) -> Any:
    """Calls `check` until it returns something truthy, at most `timeout` seconds; fails naming `what`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() >= deadline:
            pytest.fail(f"{what}: not within {timeout}s (last: {last!r})")
        time.sleep(interval)


@dataclass(frozen=True)
class ProcessRecord:
    """A process seen in /proc, told apart from a later one with the same pid by its start time."""

    pid: int
    start_ticks: int
    command: str

    @classmethod
    def of(cls, pid: int) -> ProcessRecord | None:
        stat = _proc_stat(pid)
        if stat is None:
            return None
        try:
            command = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            command = ""
        return cls(pid=pid, start_ticks=int(stat[19]), command=command)

    @property
    def alive(self) -> bool:
        """Still running: same pid and start time, and not a zombie or dead (exited, unreaped is gone)."""
        stat = _proc_stat(self.pid)
        return stat is not None and int(stat[19]) == self.start_ticks and stat[0] not in ("Z", "X", "x")


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command (state first), or None if there is no such process."""
    try:
        raw = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return raw[raw.rindex(")") + 2 :].split()


def children_of(pid: int) -> list[ProcessRecord]:
    """The live processes whose parent is `pid`."""
    children = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _proc_stat(int(entry.name))
        if stat is not None and int(stat[1]) == pid and stat[0] not in ("Z", "X", "x"):
            record = ProcessRecord.of(int(entry.name))
            if record is not None:
                children.append(record)
    return children


def run_async(scenario: Callable[[], Awaitable[Any]], timeout: float = MCP_TIMEOUT) -> Any:
    """Runs `scenario` within `timeout` seconds; a lone error inside the SDK's task groups is raised as itself."""
    import anyio

    async def main() -> Any:
        with anyio.fail_after(timeout):
            return await scenario()

    try:
        return anyio.run(main)
    except Exception as error:
        leaves = list(_leaves(error))
        if len(leaves) == 1 and leaves[0] is not error:
            raise leaves[0] from None
        raise


def _leaves(error: BaseException) -> Iterator[BaseException]:
    """The exceptions inside an exception group, however nested (the error itself if not a group)."""
    inner = getattr(error, "exceptions", None)
    if isinstance(inner, tuple):
        for each in inner:
            yield from _leaves(each)
    else:
        yield error


def stdio_server(name: str, script_and_args: Sequence[str], **options: Any) -> dict[str, Any]:
    """A stdio server entry of the `mcp` section, run by ${PYTHON} (GATEHOUSE_PYTHON_MCP2)."""
    return {"name": name, "transport": "stdio", "command": "${PYTHON}", "args": list(script_and_args), **options}


def mcp_config(servers: Sequence[dict[str, Any]], **mcp_options: Any) -> str:
    """A gateway config: agent `demo` (GATEHOUSE_API_KEY), the admin token, and an `mcp` section.

    Values are written as JSON, which YAML reads as they are.
    """
    lines = [
        "admin:",
        "  token: ${GATEHOUSE_ADMIN_TOKEN}",
        "agents:",
        "  - name: demo",
        '    api_keys: ["${GATEHOUSE_API_KEY}"]',
        "mcp:",
    ]
    lines += [f"  {key}: {json.dumps(value)}" for key, value in mcp_options.items()]
    lines.append("  servers:")
    for server in servers:
        for index, (key, value) in enumerate(server.items()):
            lines.append(f"{'    - ' if index == 0 else '      '}{key}: {json.dumps(value)}")
    return "\n".join(lines) + "\n"
