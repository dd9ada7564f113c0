"""The admin API: token checks, a redacted view of the config, and reloads that keep a bad file out."""

from __future__ import annotations

import json

import httpx
import pytest

from conftest import Gateway, StartGateway, fresh_secret, plain_request

CONFIG = """
    store:
      path: gatehouse.db
    admin:
      token: ${GATEHOUSE_ADMIN_TOKEN}
    agents:
      - name: demo
        api_keys:
          - ${GATEHOUSE_API_KEY}
"""

WITH_OPS = CONFIG + """
      - name: ops
        api_keys:
          - ${GATEHOUSE_OPS_KEY}
"""

# Line 2 of the dedented text is the unknown key.
BROKEN = """
    store:
      pth: gatehouse.db
    admin:
      token: ${GATEHOUSE_ADMIN_TOKEN}
    agents:
      - name: demo
        api_keys:
          - ${GATEHOUSE_API_KEY}
"""

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def keys() -> dict[str, str]:
    return {"api": fresh_secret("gh-test-"), "ops": fresh_secret("gh-ops-"), "admin": fresh_secret("gh-admin-")}


@pytest.fixture
def gateway(start_gateway: StartGateway, keys: dict[str, str]) -> Gateway:
    env = {"GATEHOUSE_API_KEY": keys["api"], "GATEHOUSE_OPS_KEY": keys["ops"], "GATEHOUSE_ADMIN_TOKEN": keys["admin"]}
    return start_gateway(CONFIG, env=env)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_json_401(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert isinstance(response.json(), dict)


def chat_status(gateway: Gateway, key: str) -> int:
    return gateway.post("/v1/chat/completions", json=CHAT, headers=bearer(key)).status_code


def strings_in(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in strings_in(item)]
    if isinstance(value, list):
        return [text for item in value for text in strings_in(item)]
    return []


def test_config_needs_the_admin_token(gateway: Gateway, keys: dict[str, str]) -> None:
    assert_json_401(gateway.get("/admin/config"))
    assert_json_401(gateway.get("/admin/config", headers=bearer(fresh_secret("gh-wrong-"))))
    assert_json_401(gateway.get("/admin/config", headers=bearer(keys["api"])))
    assert_json_401(gateway.get("/admin/config", headers={"x-api-key": keys["admin"]}))


def test_config_is_shown_redacted(gateway: Gateway, keys: dict[str, str]) -> None:
    response = gateway.get("/admin/config", headers=bearer(keys["admin"]))

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    strings = strings_in(response.json())
    assert "demo" in strings, response.text
    assert "[redacted]" in strings, response.text
    for name, value in keys.items():
        assert value not in response.text, f"the {name} key is in /admin/config"


@pytest.mark.parametrize("authorization", ["Bearer ", "Bearer x", "Bearer  ", None])
def test_no_admin_token_configured_refuses_everyone(
    start_gateway: StartGateway, authorization: str | None
) -> None:
    gateway = start_gateway(
        """
        store:
          path: gatehouse.db
        admin:
          token: ${GATEHOUSE_ADMIN_TOKEN:-}
        """
    )
    headers = {} if authorization is None else {"Authorization": authorization}
    for method, path in (("GET", "/admin/config"), ("POST", "/admin/reload")):
        status, response_headers, body = plain_request(gateway.host, gateway.port, method, path, headers)
        assert status == 401, body
        assert response_headers["content-type"].startswith("application/json")
        assert isinstance(json.loads(body), dict)


def test_reload_needs_the_admin_token(gateway: Gateway, keys: dict[str, str]) -> None:
    gateway.write_config(WITH_OPS)
    assert_json_401(gateway.post("/admin/reload"))
    assert_json_401(gateway.post("/admin/reload", headers=bearer(keys["api"])))
    assert chat_status(gateway, keys["ops"]) == 401


def test_reload_adds_an_agent(gateway: Gateway, keys: dict[str, str]) -> None:
    assert chat_status(gateway, keys["ops"]) == 401
    gateway.write_config(WITH_OPS)

    response = gateway.post("/admin/reload", headers=bearer(keys["admin"]))

    assert response.status_code == 200, response.text
    assert keys["ops"] not in response.text
    assert chat_status(gateway, keys["ops"]) == 404
    assert chat_status(gateway, keys["api"]) == 404
    shown = strings_in(gateway.get("/admin/config", headers=bearer(keys["admin"])).json())
    assert "ops" in shown


def test_reload_of_a_bad_file_keeps_the_running_config(gateway: Gateway, keys: dict[str, str]) -> None:
    gateway.write_config(WITH_OPS)
    assert gateway.post("/admin/reload", headers=bearer(keys["admin"])).status_code == 200
    gateway.write_config(BROKEN)

    response = gateway.post("/admin/reload", headers=bearer(keys["admin"]))

    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    errors = response.json()["errors"]
    assert isinstance(errors, list) and len(errors) == 1, response.text
    assert errors[0]["line"] == 2, errors
    assert errors[0]["path"] == "store.pth", errors
    assert isinstance(errors[0]["message"], str) and errors[0]["message"], errors
    for value in keys.values():
        assert value not in response.text
    assert chat_status(gateway, keys["api"]) == 404
    assert chat_status(gateway, keys["ops"]) == 404
