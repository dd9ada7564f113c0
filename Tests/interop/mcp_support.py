"""MCP servers and clients for the interop tests, on both `mcp` majors.

Two interpreters, both set by scripts/test (defaults: the venvs it makes at the repository root):
  GATEHOUSE_PYTHON_MCP2  .venv-interop (requirements.txt), where pytest runs: mcp 2.x,
                         mcp-server-time, mcp-server-git; runs samples/servers/notes.py
  GATEHOUSE_PYTHON_MCP1  .venv-mcp1 (requirements-mcp1.txt): mcp 1.x and langchain-mcp-adapters,
                         used through the driver scripts in drivers/
The mcp 2.x client is used in-process (`mcp.Client`). Every wait here is bounded.
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
from collections.abc import Sequence
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

    `target` is ["--url", URL] or the stdio server's command. The driver gives up after `timeout`
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
    """samples/servers/notes.py --http 0 under GATEHOUSE_PYTHON_MCP2, with its stderr drained."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._stderr: list[str] = []
        self.proc = subprocess.Popen(
            [*notes_stdio_command(), "--http", "0"],
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
