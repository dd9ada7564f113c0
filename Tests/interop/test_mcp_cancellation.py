"""A routed call ends upstream when its client gives up: a 2026-07-28 client by closing its
connection, a session-era client by sending notifications/cancelled. The fixture server's `hold`
tool records the cancellation it receives (servers/fixture_server.py).
"""

from __future__ import annotations

import json
import pathlib
import threading

import httpx
import pytest

from conftest import MCPStack, StartMCPGateway
from mcp_support import (
    ACCEPT,
    FIXTURE_SERVER,
    SESSION_ERA_VERSION,
    mcp_config,
    modern_body,
    modern_headers,
    session_body,
    stdio_server,
    wait_until,
)

pytestmark = pytest.mark.mcp

WAIT = 10.0


@pytest.fixture
def stack(start_mcp_gateway: StartMCPGateway) -> MCPStack:
    return start_mcp_gateway(mcp_config([stdio_server("fix", [str(FIXTURE_SERVER)])]), up=["fix"])


def hold_arguments(tmp_path: pathlib.Path) -> dict[str, str]:
    return {
        "text": "never",
        "started_file": str(tmp_path / "started"),
        "release_file": str(tmp_path / "release"),
        "cancelled_file": str(tmp_path / "cancelled"),
    }


def test_closing_the_connection_cancels_a_modern_call_upstream(stack: MCPStack, tmp_path: pathlib.Path) -> None:
    arguments = hold_arguments(tmp_path)
    body = modern_body("tools/call", {"name": "fix__hold", "arguments": arguments})
    headers = {"Content-Type": "application/json", **stack.agent_headers, **modern_headers("tools/call", "fix__hold")}
    # The client gives up after a second and closes its connection, as a stopped agent would.
    with httpx.Client(base_url=stack.gateway.url, trust_env=False) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.post("/mcp", content=json.dumps(body), headers=headers, timeout=1.0)
    assert pathlib.Path(arguments["started_file"]).exists()
    wait_until(lambda: pathlib.Path(arguments["cancelled_file"]).exists(), WAIT, "the server to see the cancellation")
    # The server keeps serving.
    answer = stack.modern_call("fix__echo", {"text": "still here"})
    assert answer["result"]["content"] == [{"type": "text", "text": "still here"}]


def test_a_session_era_cancellation_reaches_the_server(stack: MCPStack, tmp_path: pathlib.Path) -> None:
    client = stack.raw_client("session")
    arguments = hold_arguments(tmp_path)
    outcome: dict[str, object] = {}

    def call() -> None:
        outcome["answer"] = client.call("fix__hold", arguments, request_id=41)

    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    wait_until(lambda: pathlib.Path(arguments["started_file"]).exists(), WAIT, "the call to start upstream")
    with httpx.Client(base_url=stack.gateway.url, trust_env=False) as other:
        notified = other.post(
            "/mcp",
            content=json.dumps(
                session_body("notifications/cancelled", {"requestId": 41, "reason": "user stopped"}, request_id=None)
            ),
            headers={
                "Content-Type": "application/json",
                "Accept": ACCEPT,
                "Mcp-Session-Id": client.session_id or "",
                "MCP-Protocol-Version": SESSION_ERA_VERSION,
                **stack.agent_headers,
            },
        )
    assert notified.status_code == 202, notified.text
    wait_until(lambda: pathlib.Path(arguments["cancelled_file"]).exists(), WAIT, "the server to see the cancellation")
    caller.join(timeout=WAIT)
    assert not caller.is_alive()
    assert outcome["answer"] == {"jsonrpc": "2.0", "id": 41, "error": {"code": -32603, "message": "Request cancelled"}}
    client.close()


def test_a_server_that_stops_answering_is_restarted(start_mcp_gateway: StartMCPGateway, tmp_path: pathlib.Path) -> None:
    stack = start_mcp_gateway(
        mcp_config([stdio_server("fix", [str(FIXTURE_SERVER)])], request_timeout="1s"), up=["fix"]
    )
    first_pid = stack.server("fix")["pid"]
    for attempt in range(3):
        arguments = {**hold_arguments(tmp_path), "started_file": str(tmp_path / f"started-{attempt}")}
        answer = stack.modern_call("fix__hold", arguments)
        assert answer["error"]["code"] == -32603, answer
        assert answer["error"]["message"] == "MCP server 'fix' did not answer within 1.0 seconds", answer
    restarted = stack.wait_for_server(
        "fix", lambda server: server["status"] == "up" and server["pid"] != first_pid, "restarted", WAIT
    )
    assert restarted["restarts"] >= 1
    assert restarted["last_error"] == "stopped answering: 3 calls in a row timed out"
    answer = stack.modern_call("fix__echo", {"text": "back"})
    assert answer["result"]["content"] == [{"type": "text", "text": "back"}]
