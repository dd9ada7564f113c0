"""SIGTERM and SIGINT with work in flight: the gateway ends every exchange in its protocol's terms, stops its
MCP servers, keeps its books, and exits 0 within the bound it announces.

One config serves both planes: a fake OpenAI provider (fakes/) and MCP servers of the kind each test needs:
stdio servers/fixture_server.py that lingers 30 s after end of input but obeys SIGTERM (`--linger 30`), or
that ignores SIGTERM too (`--stubborn`), and fakes/silent_mcp.py, an HTTP server that never answers a call
nor the DELETE of its session. Before the signal each test completes a few chat completions; after the exit
the store must open cleanly and hold their usage rows.

The announced bound (log line "shutting down", `bound`) is documented in docs/configuration.md: the grace
period, plus 3 s when MCP servers are configured, plus 4 s.
"""

from __future__ import annotations

import json
import pathlib
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from conftest import Gateway, MCPStack, RawMCPClient, StartGateway, fresh_secret, yaml
from fakes import FakeOpenAI
from fakes.silent_mcp import SilentMCPServer
from mcp_support import (
    ACCEPT,
    SESSION_ERA_VERSION,
    ProcessRecord,
    children_of,
    fixture_stdio_command,
    modern_body,
    modern_headers,
    python_mcp2,
    wait_until,
)

pytestmark = [pytest.mark.mcp, pytest.mark.llm]

GRACE_SECONDS = 2
MCP_STOP_SECONDS = 3  # end of input, SIGTERM, SIGKILL, reaped: one second each
FINISH_AND_MARGIN_SECONDS = 4  # the last usage batch and the store's close, then a margin
SHUTTING_DOWN = -32000
SIGNALS = [pytest.param(signal.SIGTERM, id="SIGTERM"), pytest.param(signal.SIGINT, id="SIGINT")]
COMPLETIONS_BEFORE = 3
THREAD_TIMEOUT = 30.0


def documented_bound(with_mcp: bool) -> float:
    return GRACE_SECONDS + (MCP_STOP_SECONDS if with_mcp else 0) + FINISH_AND_MARGIN_SECONDS


def gateway_config(provider: FakeOpenAI, servers: list[dict[str, Any]]) -> str:
    """Agent `demo`, the admin token, the store in the test's dir, gpt-4o-mini on `provider`, `servers`."""
    text = f"""
        server:
          shutdown_grace_period: {GRACE_SECONDS}s
        store:
          path: gatehouse.db
        admin:
          token: ${{GATEHOUSE_ADMIN_TOKEN}}
        agents:
          - name: demo
            api_keys: ["${{GATEHOUSE_API_KEY}}"]
        providers:
          - name: openai
            type: openai
            base_url: {provider.base_url}
            api_key: ${{OPENAI_API_KEY}}
        models:
          - name: gpt-4o-mini
            deployments:
              - provider: openai
                model: gpt-4o-mini
        prices:
          gpt-4o-mini: {{input: 0.15, output: 0.60}}
    """
    lines = [yaml(text)]
    if servers:
        lines.append("mcp:\n  servers:\n")
        lines.extend(f"    - {json.dumps(server)}\n" for server in servers)
    return "".join(lines)


def fixture_server(name: str, *options: str) -> dict[str, Any]:
    command = fixture_stdio_command(*options)
    return {"name": name, "transport": "stdio", "command": command[0], "args": command[1:]}


class Stack:
    """The gateway, its provider, and what each test needs to drive and check them."""

    def __init__(self, gateway: Gateway, provider: FakeOpenAI, agent_key: str, admin_token: str) -> None:
        self.gateway = gateway
        self.provider = provider
        self.agent_key = agent_key
        self.mcp = MCPStack(gateway=gateway, agent_key=agent_key, admin_token=admin_token)

    def openai(self) -> Any:
        import openai

        return openai.OpenAI(
            base_url=f"{self.gateway.url}/v1", api_key=self.agent_key, max_retries=0, timeout=THREAD_TIMEOUT
        )

    def complete_before_the_signal(self) -> list[str]:
        """COMPLETIONS_BEFORE chat completions answered in full: their request ids."""
        ids = []
        client = self.openai()
        for number in range(COMPLETIONS_BEFORE):
            raw = client.chat.completions.with_raw_response.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": f"before the signal {number}"}]
            )
            raw.parse()
            ids.append(raw.headers["x-request-id"])
        return ids

    def stop(self, sig: signal.Signals) -> tuple[int | None, float]:
        """Sends `sig`; the exit code (None: still running at the documented bound + 5 s) and the seconds taken."""
        started = time.monotonic()
        self.gateway.send_signal(sig)
        code = self.gateway.wait_exit(documented_bound(True) + 5.0)
        elapsed = time.monotonic() - started
        if code is None:
            self.gateway.proc.kill()
            self.gateway.wait_exit(5.0)
        return code, elapsed


@pytest.fixture
def provider() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI(name="openai", api_key=fresh_secret("sk-provider-"))
    fake.start()
    yield fake
    fake.close()


StartStack = Callable[..., Stack]


@pytest.fixture
def start_stack(start_gateway: StartGateway, provider: FakeOpenAI) -> StartStack:
    def start(servers: list[dict[str, Any]], up: list[str]) -> Stack:
        agent_key = fresh_secret("gh-agent-")
        admin_token = fresh_secret("gh-admin-")
        env = {
            "GATEHOUSE_API_KEY": agent_key,
            "GATEHOUSE_ADMIN_TOKEN": admin_token,
            "OPENAI_API_KEY": provider.api_key,
            "PYTHON": python_mcp2(),
        }
        gateway = start_gateway(gateway_config(provider, servers), env=env)
        stack = Stack(gateway, provider, agent_key, admin_token)
        stack.mcp.wait_up(*up)
        return stack

    return start


def descendants(pid: int) -> list[ProcessRecord]:
    found = []
    for child in children_of(pid):
        found.append(child)
        found.extend(descendants(child.pid))
    return found


class InThread:
    """Runs `work` on a thread of its own; result() hands back what it returned or raised."""

    def __init__(self, work: Callable[[], Any]) -> None:
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(work,), daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[], Any]) -> None:
        try:
            self._value = work()
        except BaseException as error:  # handed to the test thread by result()
            self._error = error

    def result(self) -> Any:
        self._thread.join(THREAD_TIMEOUT)
        assert not self._thread.is_alive(), f"no answer within {THREAD_TIMEOUT}s"
        if self._error is not None:
            raise self._error
        return self._value


def check_clean_exit(stack: Stack, code: int | None, elapsed: float, with_mcp: bool = True) -> None:
    """Exit 0 within the announced bound, which is the documented one, and no trap in the log."""
    log = stack.gateway.log_text
    assert code == 0, f"exit code {code} after {elapsed:.2f} s\n{log}"
    announced = [json.loads(line) for line in stack.gateway.stderr_lines if '"shutting down"' in line]
    assert len(announced) == 1, log
    assert announced[0]["bound"] == f"{documented_bound(with_mcp)}s", announced
    assert elapsed < documented_bound(with_mcp), f"shutdown took {elapsed:.2f} s\n{log}"
    assert "Fatal error" not in log and "Program crashed" not in log, log


def check_store(tmp_path: pathlib.Path, request_ids: list[str]) -> None:
    """The store was closed cleanly (no WAL left behind), passes its integrity check, and holds the rows."""
    database = tmp_path / "gatehouse.db"
    wal = tmp_path / "gatehouse.db-wal"
    assert database.exists()
    assert not wal.exists() or wal.stat().st_size == 0, "the store was not checkpointed and closed"
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        rows = connection.execute("SELECT request_id, agent, model, status FROM llm_usage").fetchall()
    finally:
        connection.close()
    recorded = {row[0]: row[1:] for row in rows}
    for request_id in request_ids:
        assert recorded.get(request_id) == ("demo", "gpt-4o-mini", 200), (request_id, rows)


def call_in_thread(client: RawMCPClient, tool: str, arguments: dict[str, Any], request_id: int = 1) -> InThread:
    return InThread(lambda: client.call(tool, arguments, request_id))


def check_interrupted(message: dict[str, Any], request_id: int = 1) -> None:
    assert message["id"] == request_id, message
    assert message["error"]["code"] == SHUTTING_DOWN, message
    assert "shutting down" in message["error"]["message"], message


# ---------------------------------------------------------------------------------------------------
# MCP calls in flight on stdio servers


@pytest.mark.parametrize("sig", SIGNALS)
@pytest.mark.parametrize(
    "options",
    [pytest.param(("--linger", "30"), id="lingers-after-eof"), pytest.param(("--stubborn",), id="ignores-sigterm")],
)
def test_a_call_in_flight_on_a_stdio_server_gets_an_error_and_no_child_remains(
    start_stack: StartStack, tmp_path: pathlib.Path, sig: signal.Signals, options: tuple[str, ...]
) -> None:
    stack = start_stack([fixture_server("slow", *options)], up=["slow"])
    before = stack.complete_before_the_signal()
    children = descendants(stack.gateway.proc.pid)
    assert stack.mcp.server("slow")["pid"] in {child.pid for child in children}, children

    started = {era: tmp_path / f"started-{era}" for era in ("modern", "session")}
    calls = {
        era: call_in_thread(
            stack.mcp.raw_client(era), "slow__sleep", {"seconds": 60, "started_file": str(started[era])}
        )
        for era in started
    }
    wait_until(lambda: all(path.exists() for path in started.values()), 15.0, "both calls running in the server")

    code, elapsed = stack.stop(sig)

    for call in calls.values():
        check_interrupted(call.result())
    check_clean_exit(stack, code, elapsed)
    wait_until(lambda: not any(child.alive for child in children), 1.0, "every child gone with the gateway")
    check_store(tmp_path, before)


def test_the_mcp_sdk_sees_the_interruption_as_an_mcp_error(start_stack: StartStack, tmp_path: pathlib.Path) -> None:
    from mcp.shared.exceptions import MCPError

    stack = start_stack([fixture_server("slow", "--linger", "30")], up=["slow"])
    started = tmp_path / "started"

    async def scenario(client: Any) -> Any:
        return await client.call_tool("slow__sleep", {"seconds": 60, "started_file": str(started)})

    call = InThread(lambda: stack.mcp.mcp2("/mcp", "legacy", scenario))
    wait_until(started.exists, 15.0, "the call running in the server")

    code, elapsed = stack.stop(signal.SIGTERM)

    with pytest.raises(MCPError) as raised:
        call.result()
    assert raised.value.error.code == SHUTTING_DOWN
    assert "shutting down" in raised.value.error.message
    check_clean_exit(stack, code, elapsed)


BATCH_VERSION = "2025-03-26"  # the one protocol revision with JSON-RPC batches


def open_batch_session(stack: Stack) -> httpx.Client:
    """An initialized 2025-03-26 session on a client of its own, whose headers carry the session."""
    http = httpx.Client(base_url=stack.gateway.url, trust_env=False, timeout=THREAD_TIMEOUT)
    headers = {"Content-Type": "application/json", "Accept": ACCEPT, **stack.mcp.agent_headers}
    initialize = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {"protocolVersion": BATCH_VERSION, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    response = http.post("/mcp", content=json.dumps(initialize), headers=headers)
    assert response.status_code == 200 and response.json()["result"]["protocolVersion"] == BATCH_VERSION
    http.headers.update({**headers, "Mcp-Session-Id": response.headers["mcp-session-id"], "MCP-Protocol-Version": BATCH_VERSION})
    initialized = http.post("/mcp", content=json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
    assert initialized.status_code == 202
    return http


def post_batch(http: httpx.Client, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    response = http.post("/mcp", content=json.dumps(batch))
    assert response.status_code == 200, response.text
    replies = response.json()
    assert isinstance(replies, list), replies
    return replies


def test_a_batch_in_flight_is_answered_element_by_element(start_stack: StartStack, tmp_path: pathlib.Path) -> None:
    stack = start_stack([fixture_server("slow", "--linger", "30")], up=["slow"])
    http = open_batch_session(stack)
    echo = {"name": "slow__echo", "arguments": {"text": "in a batch"}}
    answered = post_batch(
        http,
        [
            {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": echo},
            {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": 9, "progress": 1}},
            {"jsonrpc": "2.0", "id": 2, "method": "ping"},
        ],
    )
    assert [reply["id"] for reply in answered] == [1, 2]
    assert answered[0]["result"]["content"] == [{"type": "text", "text": "in a batch"}], answered
    assert answered[1]["result"] == {}

    started = tmp_path / "started"
    sleep = {"name": "slow__sleep", "arguments": {"seconds": 60, "started_file": str(started)}}
    batch = InThread(
        lambda: post_batch(
            http,
            [
                {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": sleep},
                {"jsonrpc": "2.0", "id": 4, "method": "ping"},
            ],
        )
    )
    wait_until(started.exists, 15.0, "the batch's call running in the server")

    code, elapsed = stack.stop(signal.SIGTERM)

    replies = batch.result()
    check_interrupted(replies[0], request_id=3)
    # After the shutdown began every request waiting for a server is interrupted; a ping is not one.
    assert replies[1] == {"jsonrpc": "2.0", "id": 4, "result": {}}
    check_clean_exit(stack, code, elapsed)
    http.close()


# ---------------------------------------------------------------------------------------------------
# Streams


OPEN_STREAMS = 20


@pytest.mark.parametrize("sig", SIGNALS)
def test_open_streams_end_with_their_terminal_event(
    start_stack: StartStack, provider: FakeOpenAI, tmp_path: pathlib.Path, sig: signal.Signals
) -> None:
    import openai

    stack = start_stack([fixture_server("slow", "--linger", "30")], up=["slow"])
    before = stack.complete_before_the_signal()

    # A session's GET stream and a 2026 subscriptions/listen stream, open through the signal.
    session = stack.mcp.raw_client("session")
    assert session.session_id is not None
    get_stream = InThread(lambda: read_sse("GET", stack, session_headers(session.session_id)))
    listen_body = modern_body("subscriptions/listen", {"notifications": {"toolsListChanged": True}}, request_id=7)
    listen_stream = InThread(
        lambda: read_sse("POST", stack, modern_headers("subscriptions/listen"), body=listen_body)
    )

    # OPEN_STREAMS completions, each stopped by the provider after its first content chunk.
    provider.stream_then_hang(2)
    first_content = threading.Barrier(OPEN_STREAMS + 1, timeout=THREAD_TIMEOUT)

    def one_stream() -> tuple[str, BaseException | None]:
        received = ""
        stream = stack.openai().chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Say hello"}], stream=True
        )
        try:
            for chunk in stream:
                was_empty = not received
                if chunk.choices:
                    received += chunk.choices[0].delta.content or ""
                if was_empty and received:
                    first_content.wait()  # every stream has its first content before the signal
        except openai.APIError as error:
            return received, error
        return received, None

    streams = [InThread(one_stream) for _ in range(OPEN_STREAMS)]
    first_content.wait()
    wait_until(lambda: len(provider.requests) >= COMPLETIONS_BEFORE + OPEN_STREAMS, 10.0, "every stream upstream")

    code, elapsed = stack.stop(sig)

    for stream in streams:
        received, error = stream.result()
        assert received == "Hello ", received
        # The OpenAI error frame ended the stream (the SDK raises APIError on it), not a cut connection.
        assert isinstance(error, openai.APIError) and not isinstance(error, openai.APIConnectionError), repr(error)
        assert "shutting down" in str(error)
    assert get_stream.result() == []  # no notification, then the stream's orderly end
    assert listen_stream.result() == [
        {
            "jsonrpc": "2.0",
            "method": "notifications/subscriptions/acknowledged",
            "params": {
                "notifications": {"toolsListChanged": True},
                "_meta": {"io.modelcontextprotocol/subscriptionId": 7},
            },
        },
        {
            "jsonrpc": "2.0",
            "id": 7,
            "result": {"resultType": "complete", "_meta": {"io.modelcontextprotocol/subscriptionId": 7}},
        },
    ]
    check_clean_exit(stack, code, elapsed)
    check_store(tmp_path, before)


def session_headers(session_id: str) -> dict[str, str]:
    return {"Mcp-Session-Id": session_id, "MCP-Protocol-Version": SESSION_ERA_VERSION, "Accept": "text/event-stream"}


def read_sse(method: str, stack: Stack, headers: dict[str, str], body: Any = None) -> list[dict[str, Any]]:
    """The JSON-RPC messages of one SSE response, read until the gateway ends it (an error if it is cut)."""
    sent = {"Content-Type": "application/json", "Accept": ACCEPT, **stack.mcp.agent_headers, **headers}
    messages = []
    with httpx.Client(base_url=stack.gateway.url, trust_env=False, timeout=httpx.Timeout(THREAD_TIMEOUT)) as client:
        content = json.dumps(body) if body is not None else None
        with client.stream(method, "/mcp", content=content, headers=sent) as response:
            assert response.status_code == 200, response.read()
            assert response.headers["content-type"] == "text/event-stream"
            for line in response.iter_lines():
                if line.startswith("data: "):
                    messages.append(json.loads(line[len("data: ") :]))
    return messages


# ---------------------------------------------------------------------------------------------------
# Hung HTTP upstreams


@pytest.fixture
def silent_server() -> Iterator[SilentMCPServer]:
    server = SilentMCPServer().start()
    yield server
    server.close()


@pytest.mark.parametrize("sig", SIGNALS)
def test_calls_on_hung_http_upstreams_get_errors_in_their_dialects(
    start_stack: StartStack,
    provider: FakeOpenAI,
    silent_server: SilentMCPServer,
    tmp_path: pathlib.Path,
    sig: signal.Signals,
) -> None:
    import openai

    silent = {"name": "silent", "transport": "streamable_http", "url": silent_server.url}
    stack = start_stack([silent], up=["silent"])
    before = stack.complete_before_the_signal()

    calls = {era: call_in_thread(stack.mcp.raw_client(era), "silent__wait", {}) for era in ("modern", "session")}
    assert silent_server.wait_for_calls(2, 15.0), "the calls never reached the server"
    # A chat completion waiting for a provider that never answers.
    provider.hang()
    completion = InThread(
        lambda: stack.openai().chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hello?"}]
        )
    )
    wait_until(lambda: len(provider.requests) > COMPLETIONS_BEFORE, 10.0, "the completion upstream")

    code, elapsed = stack.stop(sig)

    for call in calls.values():
        check_interrupted(call.result())
    with pytest.raises(openai.InternalServerError) as raised:
        completion.result()
    assert raised.value.status_code == 503
    assert "shutting down" in raised.value.message
    check_clean_exit(stack, code, elapsed)
    # The session's DELETE was tried once and, unanswered, did not hold up the exit.
    assert silent_server.deletes_received == 1
    check_store(tmp_path, before)


def test_without_mcp_servers_the_bound_is_the_grace_period_plus_4s(
    start_stack: StartStack, tmp_path: pathlib.Path
) -> None:
    stack = start_stack([], up=[])
    before = stack.complete_before_the_signal()

    code, elapsed = stack.stop(signal.SIGTERM)

    check_clean_exit(stack, code, elapsed, with_mcp=False)
    check_store(tmp_path, before)


def test_a_shutdown_past_its_bound_exits_1_and_names_what_was_still_running(
    start_stack: StartStack, tmp_path: pathlib.Path
) -> None:
    stack = start_stack([], up=[])
    stack.complete_before_the_signal()
    # Another process takes the store's write lock and keeps it: the last usage batch and the close's
    # checkpoint each wait for it up to the store's busy timeout (5 s), longer than the bound allows.
    holder = sqlite3.connect(tmp_path / "gatehouse.db", timeout=5.0, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        stack.openai().chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "late"}])
        code, elapsed = stack.stop(signal.SIGTERM)
    finally:
        holder.rollback()
        holder.close()

    log = stack.gateway.log_text
    assert code == 1, f"exit code {code} after {elapsed:.2f} s\n{log}"
    overran = [json.loads(line) for line in stack.gateway.stderr_lines if "shutdown overran its bound" in line]
    assert len(overran) == 1, log
    assert overran[0]["level"] == "critical"
    assert overran[0]["bound"] == f"{documented_bound(False)}s"
    assert set(overran[0]["still_running"].split(",")) & {"usage", "store"}, overran
    assert documented_bound(False) <= elapsed < documented_bound(False) + 2.0, elapsed
    assert "Fatal error" not in log and "Program crashed" not in log, log
