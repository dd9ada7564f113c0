"""What /mcp routes besides tools: prompts and resources (merged lists, routed reads), progress
notifications relayed to the caller, curation (include/exclude, rename, descriptions), call
metrics, Mcp-Param headers toward a 2026 HTTP server, and upstreams that speak only the session era
(stdio and HTTP, including a server that forgets its session), reached by clients of both eras.

The servers: servers/fixture_server.py (mcp 2.x, both eras, with a prompt, resources and a
progress-reporting tool), mcp-server-time, and servers/legacy_server.py (mcp 1.x FastMCP: session
era only).
"""

from __future__ import annotations

import pathlib
import signal
import socket
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import MCPStack, StartMCPGateway, closed_port
from mcp_support import (
    FIXTURE_SERVER,
    HEADER_MISMATCH,
    INVALID_PARAMS,
    MODERN_VERSION,
    SESSION_ERA_VERSION,
    NotesHTTPServer,
    fixture_stdio_command,
    mcp1_client,
    mcp_config,
    modern_body,
    modern_headers,
    python_mcp1,
    stdio_server,
    wait_until,
)

pytestmark = pytest.mark.mcp

LEGACY_SERVER = pathlib.Path(__file__).resolve().parent / "servers" / "legacy_server.py"
ERAS = [pytest.param("auto", MODERN_VERSION, id="modern"), pytest.param("legacy", SESSION_ERA_VERSION, id="session-era")]


@pytest.fixture
def fixture_and_time(start_mcp_gateway: StartMCPGateway) -> MCPStack:
    config = mcp_config(
        [
            stdio_server("fix", [str(FIXTURE_SERVER)]),
            stdio_server(
                "time",
                ["-m", "mcp_server_time", "--local-timezone", "UTC"],
                tools={
                    "exclude": ["convert_*"],
                    "rename": {"get_current_time": "now"},
                    "descriptions": {"get_current_time": "What time it is, in a time zone"},
                },
            ),
        ]
    )
    return start_mcp_gateway(config, up=["fix", "time"])


@pytest.mark.parametrize(("mode", "version"), ERAS)
def test_prompts_and_resources_are_merged_and_routed(fixture_and_time: MCPStack, mode: str, version: str) -> None:
    async def scenario(client: Any) -> dict[str, Any]:
        assert client.protocol_version == version
        prompts = [prompt.name for prompt in (await client.list_prompts()).prompts]
        greeting = await client.get_prompt("fix__greet", {"name": "Ada"})
        resources = [(str(item.uri), item.mime_type) for item in (await client.list_resources()).resources]
        templates = [item.uri_template for item in (await client.list_resource_templates()).resource_templates]
        motd = await client.read_resource("fixture://motd")
        templated = await client.read_resource("fixture://greeting/Bob")
        return {
            "prompts": prompts,
            "greeting": [message.content.text for message in greeting.messages],
            "resources": resources,
            "templates": templates,
            "motd": [item.text for item in motd.contents],
            "templated": [item.text for item in templated.contents],
        }

    seen = fixture_and_time.mcp2("/mcp", mode, scenario)
    assert seen == {
        "prompts": ["fix__greet"],
        "greeting": ["Hello, Ada!"],
        "resources": [("fixture://motd", "text/plain")],
        "templates": ["fixture://greeting/{name}"],
        "motd": ["Tools are federated."],
        "templated": ["Hi Bob"],
    }


def test_a_prompt_of_one_server_keeps_its_name_on_its_own_endpoint(fixture_and_time: MCPStack) -> None:
    async def scenario(client: Any) -> tuple[list[str], list[str]]:
        names = [prompt.name for prompt in (await client.list_prompts()).prompts]
        greeting = await client.get_prompt("greet", {"name": "Lin"})
        return names, [message.content.text for message in greeting.messages]

    assert fixture_and_time.mcp2("/mcp/fix", "auto", scenario) == (["greet"], ["Hello, Lin!"])


@pytest.mark.parametrize(("mode", "version"), ERAS)
def test_progress_notifications_reach_the_caller(fixture_and_time: MCPStack, mode: str, version: str) -> None:
    async def scenario(client: Any) -> tuple[list[tuple[float, float | None, str | None]], Any]:
        progress: list[tuple[float, float | None, str | None]] = []

        async def record(value: float, total: float | None, message: str | None) -> None:
            progress.append((value, total, message))

        result = await client.call_tool("fix__count", {"n": 3}, progress_callback=record)
        return progress, result.structured_content

    progress, result = fixture_and_time.mcp2("/mcp", mode, scenario)
    assert progress == [(1, 3, "step 1"), (2, 3, "step 2"), (3, 3, "step 3")]
    assert result == {"result": 3}


def test_curation_filters_renames_and_describes(fixture_and_time: MCPStack) -> None:
    federated = fixture_and_time.modern_tools()
    time_tools = {name: tool for name, tool in federated.items() if name.startswith("time__")}
    assert list(time_tools) == ["time__now"]
    assert time_tools["time__now"]["description"] == "What time it is, in a time zone"
    assert list(fixture_and_time.modern_tools(path="/mcp/time")) == ["now"]

    answer = fixture_and_time.modern_call("time__now", {"timezone": "UTC"})
    assert answer["result"]["isError"] is False
    assert answer["result"]["structuredContent"]["timezone"] == "UTC"

    excluded = fixture_and_time.modern_call("time__convert_time", {})
    assert excluded["error"]["code"] == INVALID_PARAMS
    assert excluded["error"]["message"] == "Unknown tool: time__convert_time"
    original_name = fixture_and_time.modern_call("time__get_current_time", {"timezone": "UTC"})
    assert original_name["error"]["message"] == "Unknown tool: time__get_current_time"


@pytest.fixture
def legacy(start_mcp_gateway: StartMCPGateway) -> MCPStack:
    config = mcp_config([stdio_server("legacy", [str(LEGACY_SERVER)], command=python_mcp1())])
    return start_mcp_gateway(config, up=["legacy"])


def test_a_session_era_upstream_serves_clients_of_both_eras(legacy: MCPStack) -> None:
    assert legacy.server("legacy")["era"] == SESSION_ERA_VERSION

    async def scenario(client: Any) -> tuple[str, list[str], str]:
        tools = [tool.name for tool in (await client.list_tools()).tools]
        shouted = await client.call_tool("legacy__shout", {"text": "hello"})
        return client.protocol_version, tools, shouted.content[0].text

    assert legacy.mcp2("/mcp", "auto", scenario) == (MODERN_VERSION, ["legacy__shout"], "HELLO")
    assert legacy.mcp2("/mcp", "legacy", scenario) == (SESSION_ERA_VERSION, ["legacy__shout"], "HELLO")

    answer = mcp1_client(
        legacy.mcp1_target(), [{"method": "tools/call", "name": "legacy__shout", "arguments": {"text": "hi"}}]
    )
    assert answer["results"][0]["content"] == [{"type": "text", "text": "HI"}]
    # One handshake per upstream, not one per call: the server kept its first and only process.
    assert legacy.server("legacy")["restarts"] == 0


def test_calls_are_counted_and_timed_per_server(fixture_and_time: MCPStack) -> None:
    for text in ("one", "two"):
        assert fixture_and_time.modern_call("fix__echo", {"text": text})["result"]["isError"] is False
    assert fixture_and_time.modern_call("fix__no_such_tool", {})["error"]["code"] == INVALID_PARAMS  # never routed
    metrics = fixture_and_time.gateway.get("/metrics").text
    assert 'gatehouse_mcp_calls_total{server="fix",outcome="ok"} 2' in metrics.splitlines()
    assert 'gatehouse_mcp_call_duration_seconds_count{server="fix"} 2' in metrics.splitlines()
    assert 'gatehouse_mcp_calls_total{server="time",outcome="ok"} 0' in metrics.splitlines()
    assert 'gatehouse_mcp_calls_total{server="fix",outcome="failed"} 0' in metrics.splitlines()


@pytest.fixture
def fixture_over_http() -> Iterator[NotesHTTPServer]:
    server = NotesHTTPServer(fixture_stdio_command())
    yield server
    server.stop()


def test_tool_headers_reach_a_2026_http_server(
    fixture_over_http: NotesHTTPServer, start_mcp_gateway: StartMCPGateway
) -> None:
    """`regional` binds `region` to Mcp-Param-Region: the server refuses a call without the header,
    so the gateway must mirror the argument into it, as the client did toward the gateway."""
    stack = start_mcp_gateway(
        mcp_config([{"name": "fixhttp", "transport": "streamable_http", "url": fixture_over_http.url}]),
        up=["fixhttp"],
    )
    assert stack.server("fixhttp")["era"] == MODERN_VERSION

    async def scenario(client: Any) -> tuple[bool, str]:
        result = await client.call_tool("fixhttp__regional", {"region": "eu-west", "text": "hi"})
        return result.is_error, result.content[0].text

    assert stack.mcp2("/mcp", "auto", scenario) == (False, "eu-west: hi")

    # A client whose header disagrees with the argument is refused by the gateway itself.
    body = modern_body("tools/call", {"name": "fixhttp__regional", "arguments": {"region": "eu-west", "text": "x"}})
    headers = {**modern_headers("tools/call", "fixhttp__regional"), "Mcp-Param-Region": "us-east"}
    response = stack.post_mcp(body, headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == HEADER_MISMATCH


class LegacyHTTPServer:
    """servers/legacy_server.py --http PORT (mcp 1.x: sessions, no 2026), restartable on its port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/mcp"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [python_mcp1(), str(LEGACY_SERVER), "--http", str(self.port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def accepting() -> bool:
            assert self.proc is not None and self.proc.poll() is None, "legacy_server.py exited"
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", self.port)) == 0

        wait_until(accepting, 30.0, "legacy_server.py to accept connections")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10.0)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5.0)


@pytest.fixture
def legacy_http() -> Iterator[LegacyHTTPServer]:
    server = LegacyHTTPServer(closed_port())
    server.start()
    yield server
    server.stop()


def test_a_forgotten_upstream_session_is_initialized_again(
    legacy_http: LegacyHTTPServer, start_mcp_gateway: StartMCPGateway
) -> None:
    stack = start_mcp_gateway(
        mcp_config([{"name": "old", "transport": "streamable_http", "url": legacy_http.url}]), up=["old"]
    )
    assert stack.server("old")["era"] == SESSION_ERA_VERSION
    assert stack.modern_call("old__shout", {"text": "before"})["result"]["content"][0]["text"] == "BEFORE"
    requests_before = upstream_requests(stack, "old")

    # The server restarts on the same port and forgets every session: the next call gets 404 upstream.
    legacy_http.stop()
    legacy_http.start()
    answer = stack.modern_call("old__shout", {"text": "after"})
    assert answer["result"]["content"][0]["text"] == "AFTER"
    # The 404, initialize, notifications/initialized, then the call again.
    assert upstream_requests(stack, "old") - requests_before == 4
    assert stack.server("old")["restarts"] == 0


def upstream_requests(stack: MCPStack, server: str) -> int:
    prefix = f'gatehouse_mcp_upstream_requests_total{{server="{server}",transport="streamable_http"}} '
    for line in stack.gateway.get("/metrics").text.splitlines():
        if line.startswith(prefix):
            return int(float(line[len(prefix) :]))
    pytest.fail(f"no {prefix.strip()} in /metrics")
