"""stdio servers as the gateway's children: death during a call, restart, startup failure, shutdown.

The servers are servers/fixture_server.py (mcp 2.x: echo, pid, sleep, hold), samples/servers/notes.py
and the sample's three. Process ids come from GET /admin/mcp/servers and are checked in /proc.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import threading
import time
from typing import Any

import anyio
import httpx
import mcp_types
import pytest

from conftest import MCPStack, RawMCPClient, StartMCPGateway
from mcp_support import (
    FIXTURE_TOOLS,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    NOTES_SERVER,
    NOTES_TOOLS,
    ProcessRecord,
    children_of,
    federated,
    fixture_stdio_command,
    mcp_config,
    modern_body,
    modern_headers,
    stdio_server,
    wait_until,
)

pytestmark = pytest.mark.mcp

RAW_ERAS = [pytest.param("modern", id="modern"), pytest.param("session", id="session-era")]
FIXTURE_ARGS = fixture_stdio_command()[1:]
FIXTURE_CONFIG = mcp_config([stdio_server("fixture", FIXTURE_ARGS)])
THREAD_TIMEOUT = 20.0


class Pending:
    """A call made on its own thread; `answered_at` is when its whole answer had arrived."""

    def __init__(self, client: RawMCPClient, tool: str, arguments: dict[str, Any], request_id: int) -> None:
        self.message: dict[str, Any] | None = None
        self.error: BaseException | None = None
        self.answered_at = 0.0
        self._thread = threading.Thread(target=self._run, args=(client, tool, arguments, request_id), daemon=True)
        self._thread.start()

    def _run(self, client: RawMCPClient, tool: str, arguments: dict[str, Any], request_id: int) -> None:
        try:
            self.message = client.call(tool, arguments, request_id)
            self.answered_at = time.monotonic()
        except BaseException as error:  # handed to the test thread by result()
            self.error = error

    def result(self) -> dict[str, Any]:
        self._thread.join(THREAD_TIMEOUT)
        assert not self._thread.is_alive(), f"the call had no answer within {THREAD_TIMEOUT}s"
        if self.error is not None:
            raise self.error
        assert self.message is not None
        return self.message


@pytest.mark.parametrize("era", RAW_ERAS)
def test_a_server_killed_during_a_call_fails_the_call_within_1s_and_restarts(
    start_mcp_gateway: StartMCPGateway, tmp_path: pathlib.Path, era: str
) -> None:
    stack = start_mcp_gateway(FIXTURE_CONFIG, up=["fixture"])
    before = stack.server("fixture")
    pid = before["pid"]
    assert isinstance(pid, int) and before["restarts"] == 0
    client = stack.raw_client(era)
    assert client.call("fixture__pid", {})["result"]["structuredContent"] == {"result": pid}

    started = tmp_path / "sleep-started"
    pending = Pending(client, "fixture__sleep", {"seconds": 120, "started_file": str(started)}, request_id=7)
    wait_until(started.exists, 15.0, "the sleep call running in the server")
    assert started.read_text() == str(pid)
    killed_at = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    answer = pending.result()

    assert answer["id"] == 7
    assert "result" not in answer, answer
    assert answer["error"]["code"] == INTERNAL_ERROR, answer
    assert "fixture" in answer["error"]["message"], answer
    assert pending.answered_at - killed_at < 1.0, f"answered {pending.answered_at - killed_at:.3f}s after the kill"

    after = stack.wait_for_server(
        "fixture", lambda s: s["status"] == "up" and s["pid"] not in (None, pid), "restarted", timeout=15.0
    )
    assert after["restarts"] >= 1
    assert after["tools"] == len(FIXTURE_TOOLS)
    assert client.call("fixture__pid", {}, request_id=8)["result"]["structuredContent"] == {"result": after["pid"]}
    assert client.call("fixture__echo", {"text": "again"}, request_id=9)["result"]["structuredContent"] == {
        "result": "again"
    }
    client.close()


def test_admin_restart_replaces_the_process(start_mcp_gateway: StartMCPGateway) -> None:
    stack = start_mcp_gateway(FIXTURE_CONFIG, up=["fixture"])
    old = ProcessRecord.of(stack.server("fixture")["pid"])
    assert old is not None and old.alive

    response = stack.admin("POST", "/admin/mcp/servers/fixture/restart")

    assert response.status_code == 202, response.text
    assert response.json() == {"status": "restarting"}
    new = stack.wait_for_server(
        "fixture", lambda s: s["status"] == "up" and s["pid"] not in (None, old.pid), "up with a new process"
    )
    assert not old.alive
    assert stack.modern_call("fixture__pid", {})["result"]["structuredContent"] == {"result": new["pid"]}
    assert stack.admin("POST", "/admin/mcp/servers/nosuchserver/restart").status_code == 404


def descendants(pid: int) -> list[ProcessRecord]:
    found = []
    for child in children_of(pid):
        found.append(child)
        found.extend(descendants(child.pid))
    return found


STOP_SIGNALS = [pytest.param(signal.SIGTERM, id="SIGTERM"), pytest.param(signal.SIGKILL, id="SIGKILL")]


def stop_and_check_no_child_remains(stack: MCPStack, sig: signal.Signals, processes: list[ProcessRecord]) -> None:
    """Stops the gateway with `sig`; then none of `processes` may run (after SIGKILL: within 3 s).

    Whatever survives is killed afterwards, so that a failure leaks no process.
    """
    gateway = stack.gateway
    try:
        if sig == signal.SIGTERM:
            assert gateway.stop(signal.SIGTERM) == 0
            assert [process for process in processes if process.alive] == []
        else:
            gateway.send_signal(signal.SIGKILL)
            assert gateway.wait_exit(10.0) == -signal.SIGKILL
            wait_until(lambda: not any(p.alive for p in processes), 3.0, "every child gone after SIGKILL")
    finally:
        for process in processes:
            if process.alive:
                os.kill(process.pid, signal.SIGKILL)


@pytest.mark.parametrize("sig", STOP_SIGNALS)
def test_no_child_process_outlives_the_gateway(mcp_sample: MCPStack, sig: signal.Signals) -> None:
    pids = {server["name"]: server.get("pid") for server in mcp_sample.servers()}
    processes = descendants(mcp_sample.gateway.proc.pid)
    by_pid = {process.pid: process for process in processes}
    assert pids["remote"] is None
    assert {pids["time"], pids["notes"]} <= set(by_pid), (pids, processes)
    assert "mcp_server_time" in by_pid[pids["time"]].command
    assert "samples/servers/notes.py" in by_pid[pids["notes"]].command

    stop_and_check_no_child_remains(mcp_sample, sig, processes)


@pytest.mark.parametrize("sig", STOP_SIGNALS)
def test_a_server_deaf_to_eof_and_sigterm_does_not_outlive_the_gateway(
    start_mcp_gateway: StartMCPGateway, sig: signal.Signals
) -> None:
    stack = start_mcp_gateway(mcp_config([stdio_server("stubborn", [*FIXTURE_ARGS, "--stubborn"])]), up=["stubborn"])
    pid = stack.server("stubborn")["pid"]
    processes = descendants(stack.gateway.proc.pid)
    assert pid in {process.pid for process in processes}, processes

    stop_and_check_no_child_remains(stack, sig, processes)


def late_config(flag: pathlib.Path) -> str:
    return mcp_config(
        [
            stdio_server("notes", [str(NOTES_SERVER)]),
            stdio_server("late", [*FIXTURE_ARGS, "--require-file", str(flag)]),
        ]
    )


def test_a_server_that_cannot_start_leaves_the_others_callable_and_joins_when_it_can(
    start_mcp_gateway: StartMCPGateway, tmp_path: pathlib.Path
) -> None:
    flag = tmp_path / "late-may-start"
    stack = start_mcp_gateway(late_config(flag), up=["notes"])

    late = stack.server("late")
    assert late["status"] in ("down", "starting"), late
    assert late["transport"] == "stdio"
    assert sorted(stack.modern_tools()) == federated("notes", NOTES_TOOLS)
    added = stack.modern_call("notes__add_note", {"title": "Before", "body": "late is down"})
    assert added["result"]["structuredContent"] == {"id": "note-1"}
    refused = stack.modern_call("late__echo", {"text": "too early"})
    assert "result" not in refused and refused["error"]["code"] in (INVALID_PARAMS, INTERNAL_ERROR), refused

    flag.touch()

    up = stack.wait_for_server("late", lambda s: s["status"] == "up", "up once the file exists", timeout=20.0)
    assert up["tools"] == len(FIXTURE_TOOLS)
    expected = sorted(federated("notes", NOTES_TOOLS) + federated("late", FIXTURE_TOOLS))
    wait_until(lambda: sorted(stack.modern_tools()) == expected, 20.0, "late's tools in /mcp tools/list")
    echoed = stack.modern_call("late__echo", {"text": "here now"})
    assert echoed["result"]["structuredContent"] == {"result": "here now"}
    # The notes server kept running (and its notes) while late came up.
    assert stack.server("notes")["restarts"] == 0
    listed = stack.modern_call("notes__list_notes", {})
    assert listed["result"]["structuredContent"] == {"notes": [{"id": "note-1", "title": "Before"}]}


def test_a_session_client_is_told_when_a_server_comes_up(
    start_mcp_gateway: StartMCPGateway, tmp_path: pathlib.Path
) -> None:
    flag = tmp_path / "late-may-start"
    stack = start_mcp_gateway(late_config(flag), up=["notes"])

    async def scenario(client: Any) -> tuple[list[str], list[str]]:
        before = sorted(tool.name for tool in (await client.list_tools()).tools)
        flag.touch()
        with anyio.fail_after(20.0):
            await changed.wait()
        after = sorted(tool.name for tool in (await client.list_tools()).tools)
        return before, after

    changed = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, mcp_types.ToolListChangedNotification):
            changed.set()

    before, after = stack.mcp2("/mcp", "legacy", scenario, message_handler=on_message)

    assert before == federated("notes", NOTES_TOOLS)
    assert after == sorted(federated("notes", NOTES_TOOLS) + federated("late", FIXTURE_TOOLS))


@pytest.mark.parametrize("era", RAW_ERAS)
def test_two_clients_with_the_same_request_id_each_get_their_own_result(
    start_mcp_gateway: StartMCPGateway, tmp_path: pathlib.Path, era: str
) -> None:
    stack = start_mcp_gateway(FIXTURE_CONFIG, up=["fixture"])
    pid = stack.server("fixture")["pid"]
    release = tmp_path / "release"
    texts = {"first": "alpha from the first client", "second": "beta from the second client"}
    started = {who: tmp_path / f"{who}-started" for who in texts}
    clients = {who: stack.raw_client(era) for who in texts}
    if era == "session":
        assert clients["first"].session_id != clients["second"].session_id

    pending = {
        who: Pending(
            clients[who],
            "fixture__hold",
            {"text": texts[who], "started_file": str(started[who]), "release_file": str(release)},
            request_id=1,
        )
        for who in texts
    }
    # Both calls are in the one server process at once, then both are answered.
    wait_until(lambda: all(path.exists() for path in started.values()), 15.0, "both hold calls in the server")
    assert {who: path.read_text() for who, path in started.items()} == {"first": str(pid), "second": str(pid)}
    release.touch()

    for who, call in pending.items():
        answer = call.result()
        assert answer["id"] == 1
        assert answer["result"]["structuredContent"] == {"result": texts[who]}, (who, answer)
        assert answer["result"]["content"] == [{"type": "text", "text": texts[who]}], (who, answer)
        assert answer["result"]["isError"] is False
    for client in clients.values():
        client.close()


def test_a_2026_client_listening_is_told_when_a_server_comes_up(
    start_mcp_gateway: StartMCPGateway, tmp_path: pathlib.Path
) -> None:
    flag = tmp_path / "late-may-start"
    stack = start_mcp_gateway(late_config(flag), up=["notes"])
    body = modern_body("subscriptions/listen", {"notifications": {"toolsListChanged": True, "promptsListChanged": True}})
    headers = {
        "Content-Type": "application/json",
        **stack.agent_headers,
        **modern_headers("subscriptions/listen"),
    }
    messages: list[dict[str, Any]] = []
    with httpx.Client(base_url=stack.gateway.url, trust_env=False, timeout=httpx.Timeout(30.0)) as client:
        with client.stream("POST", "/mcp", content=json.dumps(body), headers=headers) as response:
            assert response.status_code == 200
            assert response.headers["content-type"] == "text/event-stream"
            for line in response.iter_lines():
                if not line.startswith("data: "):
                    continue
                messages.append(json.loads(line[len("data: ") :]))
                if len(messages) == 1:
                    flag.touch()  # acknowledged: now let the late server come up
                else:
                    break
    subscription = {"io.modelcontextprotocol/subscriptionId": 1}
    assert messages == [
        {
            "jsonrpc": "2.0",
            "method": "notifications/subscriptions/acknowledged",
            # Only tool list changes are offered: the prompts request is left out of the agreement.
            "params": {"notifications": {"toolsListChanged": True}, "_meta": subscription},
        },
        {"jsonrpc": "2.0", "method": "notifications/tools/list_changed", "params": {"_meta": subscription}},
    ]
    expected = sorted(federated("notes", NOTES_TOOLS) + federated("late", FIXTURE_TOOLS))
    assert sorted(stack.modern_tools()) == expected
