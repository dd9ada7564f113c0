"""Agent keys on the proxy paths: refusals in each client's own error shape, and no key in the logs."""

from __future__ import annotations

import json

import httpx
import pytest

from conftest import Gateway, StartGateway, fresh_secret

CONFIG = """
    store:
      path: gatehouse.db
    logging:
      level: trace
    admin:
      token: ${GATEHOUSE_ADMIN_TOKEN}
    agents:
      - name: demo
        api_keys:
          - ${GATEHOUSE_API_KEY}
"""

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
MESSAGES = {"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


@pytest.fixture
def keys() -> dict[str, str]:
    return {"api": fresh_secret("gh-test-"), "wrong": fresh_secret("gh-wrong-"), "admin": fresh_secret("gh-admin-")}


@pytest.fixture
def gateway(start_gateway: StartGateway, keys: dict[str, str]) -> Gateway:
    return start_gateway(CONFIG, env={"GATEHOUSE_API_KEY": keys["api"], "GATEHOUSE_ADMIN_TOKEN": keys["admin"]})


def checked(response: httpx.Response) -> httpx.Response:
    assert response.headers.get("x-request-id"), f"{response.request.url.path}: no x-request-id header"
    return response


def assert_openai_401(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert error["code"] == "invalid_api_key", body
    assert isinstance(error["message"], str) and error["message"], body
    assert isinstance(error["type"], str) and error["type"], body


def assert_anthropic_401(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["type"] == "error", body
    assert body["error"]["type"] == "authentication_error", body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body


def assert_jsonrpc_401(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["jsonrpc"] == "2.0", body
    assert "id" in body and body["id"] is None, body
    assert body["error"]["code"] == -32001, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body


def test_openai_path_without_key(gateway: Gateway) -> None:
    assert_openai_401(checked(gateway.post("/v1/chat/completions", json=CHAT)))


@pytest.mark.parametrize("header", ["authorization", "x-api-key"])
def test_openai_path_with_wrong_key(gateway: Gateway, keys: dict[str, str], header: str) -> None:
    value = f"Bearer {keys['wrong']}" if header == "authorization" else keys["wrong"]
    assert_openai_401(checked(gateway.post("/v1/chat/completions", json=CHAT, headers={header: value})))


@pytest.mark.parametrize("header", ["authorization", "x-api-key"])
def test_right_key_passes_to_routing(gateway: Gateway, keys: dict[str, str], header: str) -> None:
    value = f"Bearer {keys['api']}" if header == "authorization" else keys["api"]
    response = checked(gateway.post("/v1/chat/completions", json=CHAT, headers={header: value}))
    assert response.status_code == 404, response.text
    assert isinstance(response.json()["error"], dict), response.text


def test_admin_token_is_not_an_agent_key(gateway: Gateway, keys: dict[str, str]) -> None:
    response = gateway.post("/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {keys['admin']}"})
    assert_openai_401(checked(response))


def test_anthropic_path_without_key(gateway: Gateway) -> None:
    assert_anthropic_401(checked(gateway.post("/v1/messages", json=MESSAGES)))


def test_anthropic_path_with_wrong_key(gateway: Gateway, keys: dict[str, str]) -> None:
    response = gateway.post("/v1/messages", json=MESSAGES, headers={"x-api-key": keys["wrong"]})
    assert_anthropic_401(checked(response))


@pytest.mark.parametrize("path", ["/mcp", "/mcp/time"])
def test_mcp_path_without_key(gateway: Gateway, path: str) -> None:
    assert_jsonrpc_401(checked(gateway.post(path, json=INITIALIZE)))


def test_mcp_path_with_wrong_key(gateway: Gateway, keys: dict[str, str]) -> None:
    response = gateway.post("/mcp", json=INITIALIZE, headers={"Authorization": f"Bearer {keys['wrong']}"})
    assert_jsonrpc_401(checked(response))


def test_health_endpoints_carry_request_id(gateway: Gateway) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        assert checked(gateway.get(path)).status_code == 200


def test_no_key_or_token_in_logs(gateway: Gateway, keys: dict[str, str]) -> None:
    request_ids = []
    attempts = [
        ("/v1/chat/completions", CHAT, {"Authorization": f"Bearer {keys['api']}"}),
        ("/v1/chat/completions", CHAT, {"x-api-key": keys["api"]}),
        ("/v1/chat/completions", CHAT, {"Authorization": f"Bearer {keys['wrong']}"}),
        ("/v1/messages", MESSAGES, {"x-api-key": keys["wrong"]}),
        ("/v1/messages", MESSAGES, {"x-api-key": keys["api"]}),
        ("/mcp", INITIALIZE, {"Authorization": f"Bearer {keys['api']}"}),
        ("/mcp", INITIALIZE, {"Authorization": f"Bearer {keys['wrong']}"}),
    ]
    for path, body, headers in attempts:
        request_ids.append(checked(gateway.post(path, json=body, headers=headers)).headers["x-request-id"])
    for token in (keys["admin"], keys["wrong"]):
        response = checked(gateway.get("/admin/config", headers={"Authorization": f"Bearer {token}"}))
        request_ids.append(response.headers["x-request-id"])
    assert len(set(request_ids)) == len(request_ids), f"request ids repeat: {request_ids}"

    assert gateway.stop() == 0
    log = gateway.log_text
    for line in gateway.stderr_lines:
        json.loads(line)
    # The check below only means something if requests are logged at all.
    assert any(request_id in log for request_id in request_ids), "no request id of ours in the trace-level log"
    for name, value in keys.items():
        assert value not in log, f"the {name} key appears in the log"
