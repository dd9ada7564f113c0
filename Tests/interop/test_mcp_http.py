"""/mcp on the wire: the agent key, Origin checks, sessions of the session era, 2026-07-28 headers.

Raw Streamable HTTP (httpx) in front of samples/servers/notes.py over stdio, so that each status
and JSON-RPC error is seen exactly as the gateway sent it.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from conftest import MCPStack, StartMCPGateway, fresh_secret
from mcp_support import (
    ACCEPT,
    HEADER_MISMATCH,
    INVALID_PARAMS,
    MODERN_VERSION,
    NOTES_SERVER,
    NOTES_TOOLS,
    SESSION_ERA_VERSION,
    federated,
    initialize_params,
    jsonrpc_response,
    mcp_config,
    modern_body,
    modern_headers,
    session_body,
    stdio_server,
)

pytestmark = pytest.mark.mcp

ALLOWED_ORIGIN = "https://app.example.com"
CONFIG = mcp_config([stdio_server("notes", [str(NOTES_SERVER)])], allowed_origins=[ALLOWED_ORIGIN])
LIST = modern_body("tools/list", {})


@pytest.fixture
def stack(start_mcp_gateway: StartMCPGateway) -> MCPStack:
    return start_mcp_gateway(CONFIG, up=["notes"])


def answer_of(response: httpx.Response) -> dict:
    return jsonrpc_response(response.headers.get("content-type", ""), response.content)


def initialize(stack: MCPStack) -> str:
    """The session-era handshake: the new session's id, after notifications/initialized."""
    response = stack.post_mcp(session_body("initialize", initialize_params(), request_id=0), {"Accept": ACCEPT})
    assert response.status_code == 200, response.text
    assert answer_of(response)["result"]["protocolVersion"] == SESSION_ERA_VERSION
    session_id = response.headers.get("mcp-session-id")
    assert session_id and session_id.isascii() and session_id.isprintable(), response.headers
    notified = stack.post_mcp(session_body("notifications/initialized", request_id=None), in_session(session_id))
    assert notified.status_code == 202, notified.text
    return session_id


def in_session(session_id: str) -> dict[str, str]:
    return {"Mcp-Session-Id": session_id, "MCP-Protocol-Version": SESSION_ERA_VERSION, "Accept": ACCEPT}


@pytest.mark.parametrize("path", ["/mcp", "/mcp/notes"])
def test_no_agent_key_is_401(stack: MCPStack, path: str) -> None:
    headers = modern_headers("tools/list")
    assert stack.post_mcp(LIST, headers, path=path, agent=False).status_code == 401
    wrong = {**headers, "Authorization": f"Bearer {fresh_secret('gh-wrong-')}"}
    assert stack.post_mcp(LIST, wrong, path=path, agent=False).status_code == 401
    assert stack.post_mcp(LIST, headers, path=path).status_code == 200


@pytest.mark.parametrize(
    ("origin", "status"),
    [
        pytest.param("https://evil.example", 403, id="foreign"),
        pytest.param("null", 403, id="opaque"),
        pytest.param(ALLOWED_ORIGIN, 200, id="allowed"),
        pytest.param(None, 200, id="own-host"),
    ],
)
def test_origin(stack: MCPStack, origin: str | None, status: int) -> None:
    sent = origin if origin is not None else f"http://127.0.0.1:{stack.gateway.port}"
    response = stack.post_mcp(LIST, {**modern_headers("tools/list"), "Origin": sent})

    assert response.status_code == status, response.text
    if status == 200:
        listed = answer_of(response)["result"]["tools"]
        assert sorted(tool["name"] for tool in listed) == federated("notes", NOTES_TOOLS)


def test_unknown_session_is_404(stack: MCPStack) -> None:
    response = stack.post_mcp(session_body("tools/list", {}), in_session(f"gh-no-such-session-{uuid.uuid4().hex}"))

    assert response.status_code == 404, response.text


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize("path", ["/mcp", "/mcp/notes"])
def test_get_and_delete_without_a_session_are_405(stack: MCPStack, method: str, path: str) -> None:
    assert stack.gateway.client is not None
    headers = {**stack.agent_headers, "Accept": "text/event-stream", "MCP-Protocol-Version": SESSION_ERA_VERSION}

    response = stack.gateway.client.request(method, path, headers=headers)

    assert response.status_code == 405, response.text


def test_a_session_lives_until_deleted(stack: MCPStack) -> None:
    assert stack.gateway.client is not None
    session_id = initialize(stack)

    listed = stack.post_mcp(session_body("tools/list", {}, request_id=1), in_session(session_id))
    assert listed.status_code == 200, listed.text
    assert answer_of(listed)["id"] == 1
    assert sorted(tool["name"] for tool in answer_of(listed)["result"]["tools"]) == federated("notes", NOTES_TOOLS)

    headers = {**stack.agent_headers, **in_session(session_id), "Accept": "text/event-stream"}
    with stack.gateway.client.stream("GET", "/mcp", headers=headers) as notifications:
        assert notifications.status_code == 200
        assert notifications.headers["content-type"].startswith("text/event-stream")

    deleted = stack.gateway.client.request("DELETE", "/mcp", headers={**stack.agent_headers, **in_session(session_id)})
    assert deleted.status_code in (200, 204), deleted.text

    after = stack.post_mcp(session_body("tools/list", {}, request_id=2), in_session(session_id))
    assert after.status_code == 404, after.text
    again = stack.gateway.client.request("DELETE", "/mcp", headers={**stack.agent_headers, **in_session(session_id)})
    assert again.status_code == 404, again.text


def test_server_discover_offers_2026_07_28(stack: MCPStack) -> None:
    response, answer = stack.modern("server/discover", {})

    assert response.status_code == 200, response.text
    assert answer["id"] == 1
    assert MODERN_VERSION in answer["result"]["supportedVersions"], answer


@pytest.mark.parametrize(
    ("header", "value"),
    [
        pytest.param("Mcp-Name", "notes__search_notes", id="name"),
        pytest.param("Mcp-Method", "tools/list", id="method"),
    ],
)
def test_a_header_that_disagrees_with_the_body_is_400_with_32020(stack: MCPStack, header: str, value: str) -> None:
    body = modern_body("tools/call", {"name": "notes__add_note", "arguments": {"title": "Sneaky", "body": "x"}})
    headers = {**modern_headers("tools/call", "notes__add_note"), header: value}

    response = stack.post_mcp(body, headers)

    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["jsonrpc"] == "2.0"
    assert response.json()["error"]["code"] == HEADER_MISMATCH, response.text
    # Nothing reached the server: the note was not added.
    listed = stack.modern_call("notes__list_notes", {})
    assert listed["result"]["structuredContent"] == {"notes": []}


def test_an_unknown_tool_is_invalid_params(stack: MCPStack) -> None:
    for path, name in (("/mcp", "notes__no_such_tool"), ("/mcp", "nosuchserver__add_note"), ("/mcp/notes", "nope")):
        answer = stack.modern_call(name, {}, path=path)
        assert answer["error"]["code"] == INVALID_PARAMS, answer
        assert answer["error"]["message"] == f"Unknown tool: {name}", answer
