"""Runs the real `gatehouse` binary as a subprocess for the interop tests.

The binary comes from GATEHOUSE_BIN (scripts/test sets it; default .build/debug/gatehouse).
Each gateway runs in the test's own tmp dir with an environment stripped of GATEHOUSE_*
variables, and logs JSON lines on stderr. Every wait here is bounded.

The LLM tests (test_llm_*.py, marked `llm`) start the gateway on samples/llm-gateway.yaml with
fake providers from fakes/ behind it: see the `llm` and `start_llm_gateway` fixtures. The MCP tests
(test_mcp_*.py) start it in front of real MCP servers: `start_mcp_gateway` and `mcp_sample` at the end.
"""

from __future__ import annotations

import http.client
import json
import os
import pathlib
import signal
import socket
import subprocess
import textwrap
import threading
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from fakes import FakeAnthropic, FakeOpenAI, FakeProvider
from mcp_support import (
    ACCEPT,
    MCP_SAMPLE,
    SESSION_ERA_VERSION,
    NotesHTTPServer,
    initialize_params,
    jsonrpc_response,
    modern_body,
    modern_headers,
    python_mcp2,
    run_async,
    session_body,
)

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
HTTP_TIMEOUT = 30.0


def gatehouse_bin() -> pathlib.Path:
    raw = os.environ.get("GATEHOUSE_BIN") or str(REPO_ROOT / ".build" / "debug" / "gatehouse")
    path = pathlib.Path(raw)
    if not path.is_absolute():
        path = (REPO_ROOT / path).resolve()
    return path


@pytest.fixture(scope="session", autouse=True)
def _require_binary() -> None:
    path = gatehouse_bin()
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"no executable gatehouse binary at {path}; build it or set GATEHOUSE_BIN", pytrace=False)


def fresh_secret(prefix: str = "gh-test-") -> str:
    """A value distinctive enough that finding it in output can only mean it leaked."""
    return prefix + uuid.uuid4().hex


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GATEHOUSE_")}
    env.update(extra or {})
    return env


def yaml(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def run_gatehouse(
    args: Sequence[str], *, cwd: pathlib.Path, env: Mapping[str, str] | None = None, timeout: float = 30.0
) -> subprocess.CompletedProcess[str]:
    """Runs a command that must end by itself (validate, a serve that must fail) within `timeout`."""
    try:
        return subprocess.run(
            [str(gatehouse_bin()), *args],
            cwd=cwd,
            env=clean_env(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as error:
        output = (error.stdout or b"") + (error.stderr or b"")
        text = output.decode(errors="replace") if isinstance(output, bytes) else output
        pytest.fail(f"`gatehouse {' '.join(args)}` still running after {timeout}s; output:\n{text}")


class GatehouseProcess:
    """A running `gatehouse` process whose stdout and stderr are drained into buffers."""

    def __init__(self, args: Sequence[str], *, cwd: pathlib.Path, env: Mapping[str, str]) -> None:
        self.args = list(args)
        self.cwd = cwd
        self._lock = threading.Condition()
        self._stdout: list[str] = []
        self._stderr: list[str] = []
        self.proc = subprocess.Popen(
            [str(gatehouse_bin()), *args],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._pumps = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self._stdout), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self._stderr), daemon=True),
        ]
        for pump in self._pumps:
            pump.start()

    def _pump(self, stream: IO[bytes] | None, into: list[str]) -> None:
        assert stream is not None
        for raw in iter(stream.readline, b""):
            with self._lock:
                into.append(raw.decode("utf-8", errors="replace").rstrip("\n"))
                self._lock.notify_all()
        stream.close()
        with self._lock:
            self._lock.notify_all()

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    @property
    def stderr_lines(self) -> list[str]:
        with self._lock:
            return list(self._stderr)

    @property
    def log_text(self) -> str:
        """Everything the process printed so far, stderr then stdout."""
        with self._lock:
            return "\n".join(self._stderr + self._stdout)

    def wait_for_stderr(self, predicate: Callable[[str], bool], timeout: float) -> str:
        """Returns the first stderr line matching `predicate`; fails if the process exits or time runs out."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._lock:
            while True:
                for line in self._stderr[seen:]:
                    if predicate(line):
                        return line
                seen = len(self._stderr)
                if not self._pumps[1].is_alive() and self.proc.poll() is not None:
                    pytest.fail(
                        f"gatehouse exited with {self.proc.returncode} before the expected log line:\n"
                        + self._tail_locked()
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    pytest.fail(f"no expected log line after {timeout}s:\n" + self._tail_locked())
                self._lock.wait(min(remaining, 0.5))

    def _tail_locked(self, lines: int = 60) -> str:
        return "\n".join((self._stderr + self._stdout)[-lines:])

    def send_signal(self, sig: signal.Signals) -> None:
        if self.running:
            self.proc.send_signal(sig)

    def wait_exit(self, timeout: float) -> int | None:
        """The exit code, or None if the process still runs after `timeout` seconds."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        for pump in self._pumps:
            pump.join(timeout=5.0)
        return code

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        """Sends `sig` and returns the exit code; kills the process and fails if it outlives `timeout`."""
        self.send_signal(sig)
        code = self.wait_exit(timeout)
        if code is None:
            self.proc.kill()
            self.wait_exit(5.0)
            pytest.fail(f"gatehouse still running {timeout}s after {sig.name}; killed it. Log:\n{self.log_text}")
        return code


class Gateway(GatehouseProcess):
    """`gatehouse serve --log-format json` on 127.0.0.1:0, started, listening and ready."""

    def __init__(
        self, *, config_path: pathlib.Path | None, cwd: pathlib.Path, env: Mapping[str, str], args: Sequence[str]
    ) -> None:
        self.config_path = config_path
        argv = ["serve"]
        if config_path is not None:
            argv += ["--config", str(config_path)]
        argv += ["--listen", "127.0.0.1:0", "--log-format", "json", *args]
        super().__init__(argv, cwd=cwd, env=env)
        self.url = ""
        self.client: httpx.Client | None = None

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        line = self.wait_for_stderr(lambda text: _json_message(text) == "listening", timeout)
        url = json.loads(line).get("url")
        assert isinstance(url, str) and url.startswith("http://127.0.0.1:"), f"listening line without url: {line}"
        self.url = url
        self.client = httpx.Client(base_url=url, trust_env=False, timeout=HTTP_TIMEOUT)
        last: object = None
        while time.monotonic() < deadline:
            if not self.running:
                pytest.fail(f"gatehouse exited with {self.proc.returncode} before /readyz:\n{self.log_text}")
            try:
                response = self.client.get("/readyz")
                if response.status_code == 200:
                    return
                last = response.status_code
            except httpx.TransportError as error:
                last = error
            time.sleep(0.05)
        pytest.fail(f"/readyz not 200 after {timeout}s (last: {last!r}):\n{self.log_text}")

    @property
    def host(self) -> str:
        return urllib.parse.urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        return urllib.parse.urlsplit(self.url).port or 0

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        assert self.client is not None
        return self.client.get(path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        assert self.client is not None
        return self.client.post(path, **kwargs)

    def write_config(self, text: str) -> None:
        assert self.config_path is not None
        self.config_path.write_text(yaml(text))

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        if self.client is not None:
            self.client.close()
        return super().stop(sig, timeout)


def plain_request(
    host: str, port: int, method: str, path: str, headers: Mapping[str, str], body: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    """A request through http.client, which sends header values as given (httpx refuses "Bearer ")."""
    connection = http.client.HTTPConnection(host, port, timeout=HTTP_TIMEOUT)
    try:
        connection.request(method, path, body=body, headers=dict(headers))
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def _json_message(line: str) -> object:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record.get("message") if isinstance(record, dict) else None


StartGateway = Callable[..., Gateway]


@pytest.fixture
def start_gateway(tmp_path: pathlib.Path) -> Iterator[StartGateway]:
    """Factory: start_gateway(config_yaml, env={...}, args=[...]) -> a ready Gateway.

    The config is written to tmp_path/gatehouse.yaml (None: no --config), or an existing file is
    used as is with config_file=path. At teardown each gateway still running gets SIGTERM and
    must exit 0.
    """
    started: list[Gateway] = []

    def start(
        config: str | None,
        *,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
        name: str = "gatehouse.yaml",
        config_file: pathlib.Path | None = None,
    ) -> Gateway:
        config_path = config_file
        if config is not None:
            assert config_file is None, "pass either the config text or config_file"
            config_path = tmp_path / name
            config_path.write_text(yaml(config))
        gateway = Gateway(config_path=config_path, cwd=tmp_path, env=clean_env(env), args=args)
        started.append(gateway)
        gateway.wait_ready()
        return gateway

    yield start

    failures = []
    for gateway in started:
        if gateway.running:
            code = gateway.stop()
            if code != 0:
                failures.append(f"gatehouse exited with {code} after SIGTERM")
        print(f"--- gatehouse {' '.join(gateway.args)} (exit {gateway.proc.returncode}) ---")
        print(gateway.log_text)
    assert not failures, "; ".join(failures)


# ---------------------------------------------------------------------------------------------------
# The LLM gateway: samples/llm-gateway.yaml in front of fake providers (Tests/interop/fakes).

LLM_SAMPLE = REPO_ROOT / "samples" / "llm-gateway.yaml"
SDK_TIMEOUT = 20.0


@dataclass
class LLMFakes:
    """The three upstreams of samples/llm-gateway.yaml, named as its providers are."""

    primary: FakeOpenAI  # provider `openai`
    secondary: FakeOpenAI  # provider `openai-secondary`
    anthropic: FakeAnthropic  # provider `anthropic`
    openai_key: str
    anthropic_key: str

    @property
    def all(self) -> list[FakeProvider]:
        return [self.primary, self.secondary, self.anthropic]


@dataclass
class LLMStack:
    """A gateway started with samples/llm-gateway.yaml, its fakes, and the keys involved."""

    gateway: Gateway
    fakes: LLMFakes
    agent_key: str
    admin_token: str

    @property
    def primary(self) -> FakeOpenAI:
        return self.fakes.primary

    @property
    def secondary(self) -> FakeOpenAI:
        return self.fakes.secondary

    @property
    def anthropic(self) -> FakeAnthropic:
        return self.fakes.anthropic

    def openai_client(self, **options: Any) -> Any:
        """The official OpenAI client on the gateway, as the agent, with SDK retries off."""
        import openai

        settings: dict[str, Any] = {"max_retries": 0, "timeout": SDK_TIMEOUT}
        settings.update(options)
        return openai.OpenAI(base_url=f"{self.gateway.url}/v1", api_key=self.agent_key, **settings)

    def anthropic_client(self, **options: Any) -> Any:
        """The official Anthropic client on the gateway root, as the agent, with SDK retries off."""
        import anthropic

        settings: dict[str, Any] = {"max_retries": 0, "timeout": SDK_TIMEOUT}
        settings.update(options)
        return anthropic.Anthropic(base_url=self.gateway.url, api_key=self.agent_key, **settings)

    def admin_get(self, path: str) -> httpx.Response:
        return self.gateway.get(path, headers={"Authorization": f"Bearer {self.admin_token}"})


def closed_port() -> int:
    """A loopback port nothing listens on (bound once, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def llm_fakes() -> Iterator[LLMFakes]:
    openai_key = fresh_secret("sk-provider-openai-")
    anthropic_key = fresh_secret("sk-ant-provider-")
    fakes = LLMFakes(
        primary=FakeOpenAI(name="openai", api_key=openai_key),
        secondary=FakeOpenAI(name="openai-secondary", api_key=openai_key),
        anthropic=FakeAnthropic(name="anthropic", api_key=anthropic_key),
        openai_key=openai_key,
        anthropic_key=anthropic_key,
    )
    for fake in fakes.all:
        fake.start()
    yield fakes
    for fake in fakes.all:
        fake.close()


StartLLMGateway = Callable[..., LLMStack]


@pytest.fixture
def start_llm_gateway(start_gateway: StartGateway, llm_fakes: LLMFakes) -> StartLLMGateway:
    """Factory: start_llm_gateway(**env overrides) -> an LLMStack on samples/llm-gateway.yaml.

    The environment is exactly what the sample documents, pointing at the fakes. Requested after
    start_gateway, so the fakes close first at teardown and nothing upstream keeps a gateway waiting.
    """

    def start(**overrides: str) -> LLMStack:
        agent_key = fresh_secret("gh-agent-")
        admin_token = fresh_secret("gh-admin-")
        env = {
            "GATEHOUSE_API_KEY": agent_key,
            "GATEHOUSE_ADMIN_TOKEN": admin_token,
            "OPENAI_BASE_URL": llm_fakes.primary.base_url,
            "OPENAI_SECONDARY_BASE_URL": llm_fakes.secondary.base_url,
            "OPENAI_API_KEY": llm_fakes.openai_key,
            "ANTHROPIC_BASE_URL": llm_fakes.anthropic.base_url,
            "ANTHROPIC_API_KEY": llm_fakes.anthropic_key,
        }
        env.update(overrides)
        gateway = start_gateway(None, env=env, config_file=LLM_SAMPLE)
        return LLMStack(gateway=gateway, fakes=llm_fakes, agent_key=agent_key, admin_token=admin_token)

    return start


@pytest.fixture
def llm(start_llm_gateway: StartLLMGateway) -> LLMStack:
    return start_llm_gateway()


# ---------------------------------------------------------------------------------------------------
# The MCP gateway: /mcp in front of real MCP servers (mcp_support.py). The tests marked `mcp` start
# it on samples/mcp-federation.yaml or on a config of their own, as agent `demo` with an admin token.

MCP_SERVER_UP_TIMEOUT = 30.0


@dataclass
class MCPStack:
    """A gateway serving /mcp, the agent's key and the admin token."""

    gateway: Gateway
    agent_key: str
    admin_token: str

    def url(self, path: str = "/mcp") -> str:
        return f"{self.gateway.url}{path}"

    @property
    def agent_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.agent_key}"}

    # Admin API ------------------------------------------------------------------------------------

    def admin(self, method: str, path: str) -> httpx.Response:
        assert self.gateway.client is not None
        return self.gateway.client.request(method, path, headers={"Authorization": f"Bearer {self.admin_token}"})

    def servers(self) -> list[dict[str, Any]]:
        """GET /admin/mcp/servers: every configured server, in configuration order."""
        response = self.admin("GET", "/admin/mcp/servers")
        assert response.status_code == 200, response.text
        servers = response.json()["servers"]
        assert isinstance(servers, list), response.text
        return servers

    def server(self, name: str) -> dict[str, Any]:
        matching = [server for server in self.servers() if server["name"] == name]
        assert len(matching) == 1, f"server {name!r} in /admin/mcp/servers: {matching}"
        return matching[0]

    def server_tools(self, name: str) -> dict[str, dict[str, Any]]:
        """GET /admin/mcp/servers/{name}/tools, by upstream tool name."""
        response = self.admin("GET", f"/admin/mcp/servers/{name}/tools")
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["server"] == name, response.text
        return {tool["name"]: tool for tool in answer["tools"]}

    def wait_for_server(
        self, name: str, check: Callable[[dict[str, Any]], bool], what: str, timeout: float = MCP_SERVER_UP_TIMEOUT
    ) -> dict[str, Any]:
        """Polls /admin/mcp/servers until `check` holds for server `name`, at most `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            server = self.server(name)
            if check(server):
                return server
            if not self.gateway.running:
                pytest.fail(f"gatehouse exited with {self.gateway.proc.returncode}:\n{self.gateway.log_text}")
            if time.monotonic() >= deadline:
                pytest.fail(f"server {name}: {what} not within {timeout}s; last {server}\n{self.gateway.log_text}")
            time.sleep(0.05)

    def wait_up(self, *names: str, timeout: float = MCP_SERVER_UP_TIMEOUT) -> dict[str, dict[str, Any]]:
        return {name: self.wait_for_server(name, lambda s: s["status"] == "up", "up", timeout) for name in names}

    # Raw Streamable HTTP --------------------------------------------------------------------------

    def post_mcp(
        self, body: Any, headers: Mapping[str, str], *, path: str = "/mcp", agent: bool = True
    ) -> httpx.Response:
        """One POST to an MCP endpoint, with the agent's key unless `agent` is False."""
        assert self.gateway.client is not None
        sent = {"Content-Type": "application/json", **(self.agent_headers if agent else {}), **headers}
        return self.gateway.client.post(path, content=json.dumps(body), headers=sent)

    def modern(
        self, method: str, params: dict[str, Any] | None = None, *, name: str | None = None, path: str = "/mcp"
    ) -> tuple[httpx.Response, dict[str, Any]]:
        """A 2026-07-28 request (no session): the HTTP response and the JSON-RPC response in it."""
        if name is None and params is not None and method == "tools/call":
            name = params["name"]
        response = self.post_mcp(modern_body(method, params), modern_headers(method, name), path=path)
        return response, jsonrpc_response(response.headers.get("content-type", ""), response.content)

    def modern_call(self, tool: str, arguments: dict[str, Any], *, path: str = "/mcp") -> dict[str, Any]:
        """tools/call over 2026-07-28: the JSON-RPC response (with `result` or `error`)."""
        response, message = self.modern("tools/call", {"name": tool, "arguments": arguments}, path=path)
        assert response.status_code == 200, response.text
        assert message["id"] == 1, message
        return message

    def modern_tools(self, *, path: str = "/mcp") -> dict[str, dict[str, Any]]:
        """tools/list over 2026-07-28, every page, by name."""
        tools: dict[str, dict[str, Any]] = {}
        cursor = None
        for _ in range(100):
            response, message = self.modern("tools/list", {"cursor": cursor} if cursor else {}, path=path)
            assert response.status_code == 200 and "result" in message, response.text
            for tool in message["result"]["tools"]:
                assert tool["name"] not in tools, f"{tool['name']} listed twice"
                tools[tool["name"]] = tool
            cursor = message["result"].get("nextCursor")
            if not cursor:
                return tools
        pytest.fail("tools/list still paging after 100 pages")

    # SDK clients ----------------------------------------------------------------------------------

    def raw_client(self, era: str, path: str = "/mcp") -> RawMCPClient:
        """A RawMCPClient on `path`, opened (a session-era one has done the initialize handshake)."""
        return RawMCPClient(self, era, path).open()

    def mcp1_target(self, path: str = "/mcp") -> list[str]:
        """The target of drivers/mcp1_client.py and langchain_mcp_tools.py: the URL and the agent's key."""
        return ["--url", self.url(path), "--header", f"Authorization: Bearer {self.agent_key}"]

    def mcp2(self, path: str, mode: str, scenario: Callable[[Any], Awaitable[Any]], **options: Any) -> Any:
        """Connects an in-process mcp 2.x Client (`mode`) to `path` with the agent's key, runs `scenario`."""

        async def main() -> Any:
            async with httpx2.AsyncClient(
                headers=self.agent_headers, timeout=httpx2.Timeout(HTTP_TIMEOUT, read=300.0), trust_env=False
            ) as http_client:
                transport = streamable_http_client(self.url(path), http_client=http_client)
                async with Client(transport, mode=mode, **options) as client:
                    return await scenario(client)

        return run_async(main)


class RawMCPClient:
    """One MCP client on raw Streamable HTTP over its own connection, in one era.

    era "modern": 2026-07-28, every request self-contained (no session). era "session": 2025-11-25,
    `open()` runs the initialize handshake and every later request carries the Mcp-Session-Id.
    """

    def __init__(self, stack: MCPStack, era: str, path: str = "/mcp") -> None:
        assert era in ("modern", "session"), era
        self.stack = stack
        self.era = era
        self.path = path
        self.session_id: str | None = None
        self.http = httpx.Client(base_url=stack.gateway.url, trust_env=False, timeout=HTTP_TIMEOUT)

    def open(self) -> RawMCPClient:
        if self.era == "session":
            response = self._post(session_body("initialize", initialize_params(), request_id=0), {})
            assert response.status_code == 200, response.text
            answer = jsonrpc_response(response.headers.get("content-type", ""), response.content)
            assert answer["result"]["protocolVersion"] == SESSION_ERA_VERSION, answer
            self.session_id = response.headers.get("mcp-session-id")
            assert self.session_id, f"initialize answered without Mcp-Session-Id: {response.headers}"
            notified = self._post(session_body("notifications/initialized", request_id=None), self._session_headers())
            assert notified.status_code == 202, notified.text
        return self

    def _session_headers(self) -> dict[str, str]:
        assert self.session_id is not None
        return {"Mcp-Session-Id": self.session_id, "MCP-Protocol-Version": SESSION_ERA_VERSION, "Accept": ACCEPT}

    def _post(self, body: Any, headers: Mapping[str, str]) -> httpx.Response:
        sent = {"Content-Type": "application/json", "Accept": ACCEPT, **self.stack.agent_headers, **headers}
        return self.http.post(self.path, content=json.dumps(body), headers=sent)

    def request(
        self, method: str, params: dict[str, Any] | None = None, request_id: int | str = 1
    ) -> tuple[httpx.Response, dict[str, Any]]:
        """One request: the HTTP response and the JSON-RPC response in it."""
        if self.era == "modern":
            name = params.get("name") if params is not None and method == "tools/call" else None
            response = self._post(modern_body(method, params, request_id), modern_headers(method, name))
        else:
            response = self._post(session_body(method, params or {}, request_id), self._session_headers())
        return response, jsonrpc_response(response.headers.get("content-type", ""), response.content)

    def call(self, tool: str, arguments: dict[str, Any], request_id: int | str = 1) -> dict[str, Any]:
        """tools/call: the JSON-RPC response (`result` or `error`), after checking its HTTP status and id."""
        response, message = self.request("tools/call", {"name": tool, "arguments": arguments}, request_id)
        assert response.status_code == 200, response.text
        assert message["id"] == request_id, message
        return message

    def close(self) -> None:
        self.http.close()


StartMCPGateway = Callable[..., MCPStack]


@pytest.fixture
def start_mcp_gateway(start_gateway: StartGateway) -> StartMCPGateway:
    """Factory: start_mcp_gateway(config_yaml | config_file=path, env={...}, up=[names]) -> an MCPStack.

    The environment holds GATEHOUSE_API_KEY (agent `demo`), GATEHOUSE_ADMIN_TOKEN and PYTHON (the
    interpreter with mcp 2.x), then `env`. Every gateway runs in the test's tmp dir, so two gateways
    of one test share the store in .gatehouse/. Returns once the servers named in `up` are up.
    """
    keys = {"agent": fresh_secret("gh-agent-"), "admin": fresh_secret("gh-admin-")}

    def start(
        config: str | None = None,
        *,
        config_file: pathlib.Path | None = None,
        env: Mapping[str, str] | None = None,
        up: Sequence[str] = (),
    ) -> MCPStack:
        full_env = {
            "GATEHOUSE_API_KEY": keys["agent"],
            "GATEHOUSE_ADMIN_TOKEN": keys["admin"],
            "PYTHON": python_mcp2(),
            **(env or {}),
        }
        gateway = start_gateway(config, config_file=config_file, env=full_env)
        stack = MCPStack(gateway=gateway, agent_key=keys["agent"], admin_token=keys["admin"])
        stack.wait_up(*up)
        return stack

    return start


@pytest.fixture
def remote_notes() -> Iterator[NotesHTTPServer]:
    """samples/servers/notes.py --http: the sample's `remote` server, and a server tests call directly."""
    server = NotesHTTPServer()
    yield server
    code = server.stop()
    print(f"--- notes.py --http (exit {code}) ---\n{server.log_text}")
    assert code == 0, f"notes.py --http exited with {code} after SIGTERM"


SAMPLE_SERVERS = ("time", "notes", "remote")


@pytest.fixture
def mcp_sample(remote_notes: NotesHTTPServer, start_mcp_gateway: StartMCPGateway, tmp_path: pathlib.Path) -> MCPStack:
    """A gateway on samples/mcp-federation.yaml as the file is, with all three servers up.

    The environment is clean_env's plus what the sample documents and nothing else: the agent key,
    the admin token, PYTHON and MCP_REMOTE_URL (a notes.py --http of this test). The working directory is the
    test's tmp dir, with `samples` linked to the repository's so that the sample's relative
    samples/servers/notes.py resolves while the store stays in the tmp dir's .gatehouse/.
    Requested after remote_notes, so the gateway stops before the server it calls.
    """
    (tmp_path / "samples").symlink_to(REPO_ROOT / "samples", target_is_directory=True)
    return start_mcp_gateway(config_file=MCP_SAMPLE, env={"MCP_REMOTE_URL": remote_notes.url}, up=SAMPLE_SERVERS)
