"""Runs the real `gatehouse` binary as a subprocess for the interop tests.

The binary comes from GATEHOUSE_BIN (scripts/test sets it; default .build/debug/gatehouse).
Each gateway runs in the test's own tmp dir with an environment stripped of GATEHOUSE_*
variables, and logs JSON lines on stderr. Every wait here is bounded.

The LLM tests (test_llm_*.py, marked `llm`) start the gateway on samples/llm-gateway.yaml with
fake providers from fakes/ behind it: see the `llm` and `start_llm_gateway` fixtures at the end.
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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

import httpx
import pytest

from fakes import FakeAnthropic, FakeOpenAI, FakeProvider

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
