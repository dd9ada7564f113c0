"""Per-agent policies, end to end: the contract sample samples/policy-gateway.yaml with its policies/,
in front of samples/servers/agent_tools.py (five MCP servers) and the fake LLM providers, driven by the
official SDKs (openai, anthropic, mcp 2.x, mcp 1.x) and by raw Streamable HTTP.

Every check that a call was refused also checks that the upstream never saw it: agent_tools.py logs
each tools/call it receives (GET /calls), the fakes record every request.
"""

from __future__ import annotations

import concurrent.futures
import json
import pathlib
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx
import openai
import pytest

from conftest import REPO_ROOT, START_TIMEOUT, STOP_TIMEOUT, Gateway, MCPStack, StartGateway, fresh_secret
from fakes import FakeAnthropic, FakeOpenAI
from mcp_support import mcp1_client, python_mcp2, wait_until

pytestmark = pytest.mark.mcp

POLICY_SAMPLE = REPO_ROOT / "samples" / "policy-gateway.yaml"
AGENT_TOOLS = REPO_ROOT / "samples" / "servers" / "agent_tools.py"
AGENTS = ("researcher", "support", "batch")
POLICY_DENIED = -32003
RATE_LIMITED = -32029
SERVERS = ("files", "web", "mail", "util", "quota")


class AgentTools:
    """samples/servers/agent_tools.py --port 0, with its call log."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [python_mcp2(), str(AGENT_TOOLS), "--port", "0"],
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._ready = threading.Event()
        self.url = ""
        threading.Thread(target=self._drain, daemon=True).start()
        if not self._ready.wait(START_TIMEOUT):
            self.proc.kill()
            pytest.fail("agent_tools.py did not start:\n" + "\n".join(self.lines))
        self.http = httpx.Client(base_url=self.url, trust_env=False, timeout=10.0)

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))
            if match := re.search(r"agent_tools: listening on (http://127\.0\.0\.1:\d+)", line):
                self.url = match.group(1)
                self._ready.set()

    def calls(self, tool: str | None = None) -> list[dict[str, Any]]:
        response = self.http.get("/calls")
        assert response.status_code == 200, response.text
        calls = response.json()["calls"]
        return [call for call in calls if tool is None or f"{call['server']}__{call['tool']}" == tool]

    def clear(self) -> None:
        assert self.http.delete("/calls").status_code == 204

    def stop(self) -> int:
        self.http.close()
        self.proc.terminate()
        try:
            return self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return -1


@dataclass
class PolicyStack:
    gateway: Gateway
    tools: AgentTools
    openai_fake: FakeOpenAI
    anthropic_fake: FakeAnthropic
    keys: dict[str, str]
    admin_token: str
    workdir: pathlib.Path
    env: dict[str, str]

    def mcp(self, agent: str) -> MCPStack:
        return MCPStack(gateway=self.gateway, agent_key=self.keys[agent], admin_token=self.admin_token)

    def openai(self, agent: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.gateway.url}/v1", api_key=self.keys[agent], max_retries=0, timeout=20)

    def anthropic(self, agent: str) -> anthropic.Anthropic:
        return anthropic.Anthropic(base_url=self.gateway.url, api_key=self.keys[agent], max_retries=0, timeout=20)

    def admin(self, path: str) -> httpx.Response:
        return self.gateway.get(path, headers={"Authorization": f"Bearer {self.admin_token}"})

    def policy_file(self, name: str) -> pathlib.Path:
        return self.workdir / "policies" / name


@pytest.fixture
def agent_tools() -> Iterator[AgentTools]:
    server = AgentTools()
    yield server
    assert server.stop() == 0, "agent_tools.py did not exit 0 on SIGTERM:\n" + "\n".join(server.lines)


@pytest.fixture
def start_policy_gateway(
    start_gateway: StartGateway, agent_tools: AgentTools, tmp_path: pathlib.Path
) -> Iterator[Any]:
    """Starts the gateway on the contract sample, as the outside checks do: from a directory holding
    `samples` (linked) and a copy of `policies` (so a test may edit it), with exactly the sample's
    variables. Requested after agent_tools, so the gateway stops before the servers it calls."""
    fakes: list[Any] = []

    def start(**overrides: str) -> PolicyStack:
        if not (tmp_path / "samples").exists():
            (tmp_path / "samples").symlink_to(REPO_ROOT / "samples", target_is_directory=True)
            shutil.copytree(REPO_ROOT / "policies", tmp_path / "policies")
        openai_key = overrides.pop("_openai_key", None) or fresh_secret("sk-provider-openai-")
        anthropic_key = fresh_secret("sk-ant-provider-")
        openai_fake = FakeOpenAI(name="openai", api_key=openai_key, models=("gpt-4o-mini", "gpt-4o")).start()
        anthropic_fake = FakeAnthropic(name="anthropic", api_key=anthropic_key).start()
        fakes.extend([openai_fake, anthropic_fake])
        keys = {agent: overrides.pop(f"_{agent}_key", None) or fresh_secret(f"gh-{agent}-") for agent in AGENTS}
        admin_token = overrides.pop("_admin_token", None) or fresh_secret("gh-admin-")
        env = {
            "GATEHOUSE_ADMIN_TOKEN": admin_token,
            "RESEARCHER_API_KEY": keys["researcher"],
            "SUPPORT_API_KEY": keys["support"],
            "BATCH_API_KEY": keys["batch"],
            "OPENAI_BASE_URL": openai_fake.base_url,
            "OPENAI_API_KEY": openai_key,
            "ANTHROPIC_BASE_URL": anthropic_fake.base_url,
            "ANTHROPIC_API_KEY": anthropic_key,
            "TOOLS_BASE_URL": agent_tools.url,
            **overrides,
        }
        gateway = start_gateway(None, env=env, config_file=pathlib.Path("samples/policy-gateway.yaml"))
        stack = PolicyStack(gateway, agent_tools, openai_fake, anthropic_fake, keys, admin_token, tmp_path, env)
        stack.mcp("researcher").wait_up(*SERVERS)
        return stack

    yield start
    for fake in fakes:
        fake.close()


@pytest.fixture
def policy(start_policy_gateway: Any) -> PolicyStack:
    return start_policy_gateway()


def assert_no_secret_leaked(stack: PolicyStack) -> None:
    log = stack.gateway.log_text
    for secret in [*stack.keys.values(), stack.admin_token, stack.openai_fake.api_key, stack.anthropic_fake.api_key]:
        assert secret not in log


# --- Who sees what ------------------------------------------------------------------------------------

EXPECTED_TOOLS = {
    "researcher": {"files__read", "web__fetch", "mail__send", "quota__ping"},
    "support": {"util__echo"},
    "batch": set(),
}
EXPECTED_MODELS = {
    "researcher": {"gpt-4o-mini", "gpt-4o", "claude-haiku-4-5"},
    "support": {"gpt-4o-mini"},
    "batch": {"gpt-4o-mini"},
}


def test_each_agent_lists_only_its_own_tools_in_both_eras(policy: PolicyStack) -> None:
    for agent in AGENTS:
        stack = policy.mcp(agent)
        assert set(stack.modern_tools()) == EXPECTED_TOOLS[agent], agent

        async def listed(client: Any) -> set[str]:
            return {tool.name for tool in (await client.list_tools()).tools}

        assert stack.mcp2("/mcp", "legacy", listed) == EXPECTED_TOOLS[agent], agent
        session = stack.raw_client("session")
        response, message = session.request("tools/list", {})
        assert {tool["name"] for tool in message["result"]["tools"]} == EXPECTED_TOOLS[agent], agent
        session.close()
    # One server's endpoint shows the same tools under their own names, or none.
    assert set(policy.mcp("support").modern_tools(path="/mcp/util")) == {"echo"}
    assert set(policy.mcp("support").modern_tools(path="/mcp/files")) == set()
    assert set(policy.mcp("researcher").modern_tools(path="/mcp/files")) == {"read"}


def test_each_agent_lists_only_its_own_models(policy: PolicyStack) -> None:
    for agent in AGENTS:
        assert {model.id for model in policy.openai(agent).models.list()} == EXPECTED_MODELS[agent], agent


def test_allowed_calls_work_on_both_planes(policy: PolicyStack) -> None:
    researcher = policy.mcp("researcher")
    result = researcher.modern_call("files__read", {"path": "/srv/public/report.txt"})
    assert result["result"]["content"][0]["text"] == "contents of /srv/public/report.txt", result
    assert researcher.modern_call("web__fetch", {"url": "https://example.com/"})["result"]["isError"] is False
    support = policy.mcp("support")
    assert support.modern_call("util__echo", {"text": "hi"})["result"]["content"][0]["text"] == "hi"
    completion = policy.openai("researcher").chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hello"}]
    )
    assert completion.choices[0].message.content
    message = policy.anthropic("researcher").messages.create(
        model="claude-haiku-4-5", max_tokens=50, messages=[{"role": "user", "content": "hello"}]
    )
    assert message.content[0].text
    assert policy.openai("support").chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}]
    ).choices[0].message.content


# --- Denials --------------------------------------------------------------------------------------------


def test_a_tool_outside_the_policy_is_denied_readably_and_never_reaches_the_server(policy: PolicyStack) -> None:
    policy.tools.clear()
    support = policy.mcp("support")
    for tool, arguments in [
        ("mail__send", {"to": "x@example.com", "body": "hi"}),
        ("files__read", {"path": "/srv/public/a"}),
        ("quota__ping", {}),
    ]:
        message = support.modern_call(tool, arguments)
        error = message["error"]
        assert error["code"] == POLICY_DENIED, message
        assert "Denied by policy" in error["message"] and f"'{tool}'" in error["message"], error
        assert "support.yaml#default-deny" in error["message"] and error["data"]["rule"] == "support.yaml#default-deny"
        # The message names what was asked for, never the tools other agents have.
        for other in EXPECTED_TOOLS["researcher"] - {tool}:
            assert other not in error["message"]
    batch = policy.mcp("batch")
    assert batch.modern_call("util__echo", {"text": "x"})["error"]["code"] == POLICY_DENIED
    # The session era and the SDKs get the same refusal.
    session = support.raw_client("session")
    refused = session.call("mail__send", {"to": "a@b.c", "body": "x"}, request_id=7)
    assert refused["error"]["code"] == POLICY_DENIED
    session.close()
    driver = mcp1_client(
        support.mcp1_target(),
        [{"method": "tools/call", "name": "mail__send", "arguments": {"to": "a@b.c", "body": "x"}}],
    )
    assert driver["results"][0]["error"]["code"] == POLICY_DENIED, driver
    assert "Denied by policy" in driver["results"][0]["error"]["message"], driver

    async def call(client: Any) -> Any:
        from mcp.shared.exceptions import MCPError

        with pytest.raises(MCPError) as raised:
            await client.call_tool("quota__ping", {})
        return raised.value

    error = support.mcp2("/mcp", "auto", call)
    assert getattr(error, "code", None) == POLICY_DENIED or "Denied by policy" in str(error), error
    assert policy.tools.calls() == [], "a denied call reached an upstream server"


def test_a_model_outside_the_policy_is_a_403_in_each_dialect_and_never_reaches_the_provider(
    policy: PolicyStack,
) -> None:
    before = len(policy.openai_fake.requests) + len(policy.anthropic_fake.requests)
    with pytest.raises(openai.PermissionDeniedError) as openai_error:
        policy.openai("support").chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert openai_error.value.status_code == 403
    assert "support.yaml#default-deny" in str(openai_error.value.message)
    with pytest.raises(anthropic.PermissionDeniedError) as anthropic_error:
        policy.anthropic("batch").messages.create(
            model="claude-haiku-4-5", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert anthropic_error.value.status_code == 403
    assert anthropic_error.value.body["error"]["type"] == "permission_error", anthropic_error.value.body
    with pytest.raises(openai.PermissionDeniedError):
        policy.openai("batch").embeddings.create(model="gpt-4o", input="x")
    assert len(policy.openai_fake.requests) + len(policy.anthropic_fake.requests) == before
    assert_no_secret_leaked(policy)


ALLOWED_PATHS = [
    "/srv/public/a.txt",
    "/srv/public/dir/../b.txt",
    "/srv/public//nested///c.txt",
    "/srv/public/./d.txt",
]
DENIED_PATHS = [
    "/etc/passwd",
    "/srv/public/../secret.txt",
    "/srv/public/../../etc/passwd",
    "/srv/public/%2e%2e/secret.txt",
    "/srv/public/%252e%252e/secret.txt",
    "/srv/public/..%2fsecret.txt",
    "/srv/public\\..\\secret.txt",
    "/srv/public/\u2025/secret.txt",  # two-dot leader: NFKC ".."
    "/srv/public\uff0f..\uff0fsecret.txt",  # fullwidth solidus
    "/srv/publicity/x.txt",
    "/srv/public",
    "srv/public/a.txt",
    "/srv/public/a\u0000.txt",
    "/srv/public/a\n.txt",
    "",
]


def test_the_path_rule_holds_against_tricky_inputs(policy: PolicyStack) -> None:
    researcher = policy.mcp("researcher")
    policy.tools.clear()
    for path in ALLOWED_PATHS:
        assert "result" in researcher.modern_call("files__read", {"path": path}), path
    assert [call["arguments"]["path"] for call in policy.tools.calls()] == ALLOWED_PATHS
    policy.tools.clear()
    for path in DENIED_PATHS:
        message = researcher.modern_call("files__read", {"path": path})
        assert message.get("error", {}).get("code") == POLICY_DENIED, (path, message)
        assert "public-files-only" in message["error"]["data"]["rule"] or "repeated" in message["error"]["data"]["rule"]
    for arguments in [
        {},  # missing
        {"path": 7},  # not a string
        {"path": {"path": "/srv/public/a"}},  # nested
        {"path": ["/srv/public/a"]},  # a list
        {"file": "/srv/public/a"},  # another key
    ]:
        assert researcher.modern_call("files__read", arguments)["error"]["code"] == POLICY_DENIED, arguments
    # Extra fields do not change the judgement of the path.
    assert "result" in researcher.modern_call("files__read", {"path": "/srv/public/a", "mode": "r"})
    assert researcher.modern_call("files__read", {"path": "/etc/x", "mode": "/srv/public/"})["error"]
    # Duplicate keys: the gateway's reader takes the first, Python's json the last, so it is refused.
    body = (
        '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"files__read",'
        '"arguments":{"path":"/srv/public/a","path":"/etc/passwd"},"_meta":'
        + json.dumps(
            {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
            }
        )
        + "}}"
    )
    response = researcher.gateway.post(
        "/mcp",
        content=body,
        headers={
            **researcher.agent_headers,
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": "2026-07-28",
            "Mcp-Method": "tools/call",
            "Mcp-Name": "files__read",
        },
    )
    assert response.json()["error"]["code"] == POLICY_DENIED, response.text
    assert "appears twice" in response.json()["error"]["message"]
    calls = policy.tools.calls()
    assert [call["arguments"] for call in calls] == [{"path": "/srv/public/a", "mode": "r"}], calls


# --- Limits -----------------------------------------------------------------------------------------------


def test_fifty_concurrent_calls_against_ten_a_minute_pass_exactly_ten_and_lists_do_not_count(
    policy: PolicyStack,
) -> None:
    researcher = policy.mcp("researcher")
    policy.tools.clear()
    for _ in range(3):
        assert "quota__ping" in researcher.modern_tools()
    session = researcher.raw_client("session")
    session.request("ping", {}, request_id=2)
    session.close()

    def call(_: int) -> httpx.Response:
        return researcher.modern("tools/call", {"name": "quota__ping", "arguments": {}})[0]

    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(call, range(50)))
    passed = [r for r in responses if "result" in r.json()]
    refused = [r for r in responses if "error" in r.json()]
    assert len(passed) == 10 and len(refused) == 40, [r.text for r in responses]
    for response in refused:
        error = response.json()["error"]
        assert error["code"] == RATE_LIMITED and "retry in" in error["message"], error
        assert error["data"]["rule"] == "researcher.yaml#quota-ping-per-minute"
        retry = int(response.headers["retry-after"])
        assert 1 <= retry <= 60 and error["data"]["retryAfterSeconds"] == retry
    assert len(policy.tools.calls("quota__ping")) == 10
    # Other tools have no limit of their own.
    assert "result" in researcher.modern_call("web__fetch", {"url": "https://example.com/"})


def test_concurrent_streams_never_overshoot_the_token_limit_by_more_than_one_call(start_policy_gateway: Any) -> None:
    stack = start_policy_gateway(BATCH_TOKENS_PER_MINUTE="300")
    stack.openai_fake.chunk_delay = 0.05
    stack.openai_fake.completion_tokens = 40
    client = stack.openai("batch")

    def stream(_: int) -> tuple[str, int]:
        try:
            chunks = client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "count to ten"}],
                max_tokens=60,
                stream=True,
                stream_options={"include_usage": True},
            )
            used = 0
            for chunk in chunks:
                if chunk.usage:
                    used = chunk.usage.total_tokens
            return "ok", used
        except openai.RateLimitError as error:
            assert error.response.headers.get("retry-after"), error.response.headers
            assert error.response.headers.get("x-ratelimit-limit-tokens") == "300"
            assert error.response.headers.get("x-ratelimit-remaining-tokens") == "0"
            return "limited", 0

    for _ in range(3):
        with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
            results = list(pool.map(stream, range(12)))
        assert any(kind == "limited" for kind, _ in results), results
    completed = [used for kind, used in [*results] if kind == "ok"]
    assert completed, results
    per_call = max(record.usage["total_tokens"] for record in stack.openai_fake.requests if record.usage)
    billed = sum(record.usage["total_tokens"] for record in stack.openai_fake.requests if record.usage)
    assert billed <= 300 + per_call, (billed, per_call, len(stack.openai_fake.requests))


# --- Hot reload -----------------------------------------------------------------------------------------------


def test_a_policy_edit_applies_within_two_seconds_and_an_invalid_one_keeps_the_old_policy(policy: PolicyStack) -> None:
    support = policy.openai("support")
    with pytest.raises(openai.PermissionDeniedError):
        support.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    path = policy.policy_file("support.yaml")
    original = path.read_text()
    path.write_text(original.replace("allow: [gpt-4o-mini]", "allow: [gpt-4o-mini, gpt-4o]"))
    edited_at = time.monotonic()

    def allowed() -> bool:
        return "gpt-4o" in {model.id for model in support.models.list()}

    wait_until(allowed, 5.0, "the edited policy to apply")
    assert time.monotonic() - edited_at <= 2.5
    assert support.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}]).choices

    # An invalid edit: the error names file, line and key; the running policy stays.
    path.write_text(path.read_text() + "\nmodles:\n  allow: [gpt-4o]\n")
    invalid_line = path.read_text().splitlines().index("modles:") + 1

    def rejected() -> dict[str, Any] | None:
        status = policy.admin("/admin/policy").json()
        return status if status["errors"] else None

    status = wait_until(rejected, 5.0, "the invalid policy to be rejected")
    error = status["errors"][0]
    assert error["file"].endswith("support.yaml") and error["line"] == invalid_line, error
    assert error["path"] == "modles" and "did you mean 'models'" in (error["hint"] or ""), error
    assert "policy rejected" in policy.gateway.log_text
    assert support.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}]).choices
    path.write_text(original)
    wait_until(lambda: not allowed(), 5.0, "the original policy to apply again")
    assert policy.admin("/admin/policy").json()["errors"] == []
    assert_no_secret_leaked(policy)


def test_an_invalid_policy_directory_stops_the_gateway_at_startup(tmp_path: pathlib.Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "a.yaml").write_text("agents: [a]\ntools:\n  allow:\n    - name: x\n      when:\n        - argument: p\n          regex: '('\n")
    (tmp_path / "gatehouse.yaml").write_text("agents:\n  - name: a\n    api_keys: [k]\npolicy:\n  directory: policies\n")
    from conftest import gatehouse_bin, clean_env

    result = subprocess.run(
        [str(gatehouse_bin()), "validate", "--config", "gatehouse.yaml"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "a.yaml:7:" in result.stderr and "tools.allow[0].when[0].regex" in result.stderr, result.stderr
    served = subprocess.run(
        [str(gatehouse_bin()), "serve", "--config", "gatehouse.yaml", "--listen", "127.0.0.1:0"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert served.returncode == 1 and "not a valid regular expression" in served.stderr, served.stderr


# --- The policy command ---------------------------------------------------------------------------------------


def run_policy_command(*args: str, cwd: pathlib.Path) -> subprocess.CompletedProcess[str]:
    from conftest import clean_env, gatehouse_bin

    return subprocess.run(
        [str(gatehouse_bin()), "policy", *args], cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=30
    )


def test_policy_test_passes_on_the_repository_cases_and_fails_on_a_wrong_expectation(tmp_path: pathlib.Path) -> None:
    passing = run_policy_command("test", "--dir", "policies", cwd=REPO_ROOT)
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert re.search(r"^(\d+) passed, 0 failed$", passing.stdout, re.M), passing.stdout
    shutil.copytree(REPO_ROOT / "policies", tmp_path / "policies")
    (tmp_path / "policies" / "wrong.test.yaml").write_text(
        "cases:\n"
        "  - name: support may send mail (it may not)\n"
        "    agent: support\n"
        "    tool: mail__send\n"
        "    arguments: {to: a@example.com, body: hi}\n"
        "    expect: allow\n"
        "  - name: right rule, wrong id\n"
        "    agent: researcher\n"
        "    tool: files__read\n"
        "    arguments: {path: /etc/passwd}\n"
        "    expect: deny\n"
        "    rule: researcher.yaml#some-other-rule\n"
    )
    failing = run_policy_command("test", "--dir", "policies", cwd=tmp_path)
    assert failing.returncode == 1, failing.stdout
    assert "FAIL  policies/wrong.test.yaml:2 support may send mail (it may not)" in failing.stdout, failing.stdout
    assert "expected allow; got deny by support.yaml#default-deny" in failing.stdout
    assert "FAIL  policies/wrong.test.yaml:7 right rule, wrong id" in failing.stdout
    assert "got deny by researcher.yaml#public-files-only" in failing.stdout
    assert re.search(r"^\d+ passed, 2 failed$", failing.stdout, re.M), failing.stdout


def test_policy_explain_and_check(tmp_path: pathlib.Path) -> None:
    explained = run_policy_command(
        "explain", "--dir", "policies", "--agent", "researcher", "--tool", "files__read",
        "--arguments", '{"path": "/srv/public/../../etc/passwd"}', cwd=REPO_ROOT,
    )
    assert explained.returncode == 0, explained.stderr
    assert explained.stdout.splitlines()[:2] == ["deny", "rule:   researcher.yaml#public-files-only"], explained.stdout
    assert "must be a path inside /srv/public/" in explained.stdout
    allowed = run_policy_command("explain", "--dir", "policies", "--agent", "support", "--model", "gpt-4o-mini", cwd=REPO_ROOT)
    assert allowed.stdout.splitlines()[:2] == ["allow", "rule:   support.yaml#models.allow[0]"], allowed.stdout
    checked = run_policy_command("check", "--dir", "policies", cwd=REPO_ROOT)
    assert checked.returncode == 0 and "valid" in checked.stdout, checked.stderr
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "x.yaml").write_text("agents: [x]\nlimits:\n  - requests: 10\n    per: soon\n")
    broken = run_policy_command("check", "--dir", "policies", cwd=tmp_path)
    assert broken.returncode == 1
    assert "policies/x.yaml:4:10: error: limits[0].per: expected a duration" in broken.stderr, broken.stderr


# --- Audit log ----------------------------------------------------------------------------------------------------


def test_every_decision_on_a_call_is_audited_without_argument_values(policy: PolicyStack) -> None:
    marker = fresh_secret("argument-value-")
    researcher = policy.mcp("researcher")
    assert "result" in researcher.modern_call("files__read", {"path": f"/srv/public/{marker}"})
    assert researcher.modern_call("files__read", {"path": f"/etc/{marker}"})["error"]["code"] == POLICY_DENIED
    assert policy.mcp("support").modern_call("mail__send", {"to": marker, "body": marker})["error"]
    with pytest.raises(openai.PermissionDeniedError):
        policy.openai("support").chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": marker}])
    policy.openai("batch").chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": marker}])
    for _ in range(11):
        researcher.modern_call("quota__ping", {})

    def audited() -> list[dict[str, Any]] | None:
        rows = policy.admin("/admin/audit?limit=1000").json()["decisions"]
        return rows if len(rows) >= 16 else None

    rows = wait_until(audited, 10.0, "16 audited decisions")
    assert len(rows) == 16, rows
    by = {(row["agent"], row["target"], row["decision"]) for row in rows}
    assert ("researcher", "files__read", "allow") in by and ("researcher", "files__read", "deny") in by
    assert ("support", "mail__send", "deny") in by and ("support", "gpt-4o", "deny") in by
    assert ("batch", "gpt-4o-mini", "allow") in by and ("researcher", "quota__ping", "limit") in by
    denied_read = next(r for r in rows if r["target"] == "files__read" and r["decision"] == "deny")
    assert denied_read["rule"] == "researcher.yaml#public-files-only" and denied_read["plane"] == "mcp"
    assert denied_read["action"] == "call_tool" and denied_read["request_id"]
    # Filters: agent, tool or model, decision, time.
    support_denials = policy.admin("/admin/audit?agent=support&decision=deny").json()["decisions"]
    assert {row["target"] for row in support_denials} == {"mail__send", "gpt-4o"}
    limited = policy.admin("/admin/audit?tool=quota__ping&decision=limit").json()["decisions"]
    assert len(limited) == 1 and limited[0]["rule"] == "researcher.yaml#quota-ping-per-minute"
    assert policy.admin("/admin/audit?since=2999-01-01").json()["decisions"] == []
    assert len(policy.admin("/admin/audit?model=gpt-4o-mini&limit=5").json()["decisions"]) == 1
    assert policy.admin("/admin/audit?decision=maybe").status_code == 400
    # No argument value, prompt or key anywhere in the audit log, the admin answers or the log.
    everything = json.dumps(policy.admin("/admin/audit?limit=10000").json())
    assert marker not in everything
    assert marker not in policy.gateway.log_text
    assert_no_secret_leaked(policy)
    for secret in policy.keys.values():
        assert secret not in everything


# --- Managed keys -------------------------------------------------------------------------------------------------


def run_keys_command(stack: PolicyStack, *args: str) -> subprocess.CompletedProcess[str]:
    from conftest import clean_env, gatehouse_bin

    return subprocess.run(
        [str(gatehouse_bin()), "keys", *args, "--config", "samples/policy-gateway.yaml"],
        cwd=stack.workdir,
        env=clean_env(stack.env),
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_a_managed_key_works_on_both_planes_and_a_revoked_one_fails_on_the_next_request(policy: PolicyStack) -> None:
    created = run_keys_command(policy, "create", "--agent", "support", "--expires", "30d")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert re.fullmatch(r"ghk_[0-9a-f]{12}_[0-9a-f]{48}", key), created.stdout
    key_id = key[:16]
    assert key_id in created.stderr and "shown only once" in created.stderr
    policy.keys["support-managed"] = key
    client = policy.openai("support-managed")
    assert {model.id for model in client.models.list()} == {"gpt-4o-mini"}  # support's policy applies
    assert client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}]).choices
    session = policy.mcp("support-managed").raw_client("session")
    response, message = session.request("tools/list", {})
    assert {tool["name"] for tool in message["result"]["tools"]} == {"util__echo"}
    # The session is bound to the key that opened it: support's configured key cannot use it.
    other = policy.mcp("support").gateway.post(
        "/mcp",
        content=json.dumps({"jsonrpc": "2.0", "id": 5, "method": "tools/list", "params": {}}),
        headers={
            "Authorization": f"Bearer {policy.keys['support']}",
            "Mcp-Session-Id": session.session_id or "",
            "MCP-Protocol-Version": "2025-11-25",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        },
    )
    assert other.status_code == 404, other.text

    listed = run_keys_command(policy, "list")
    assert listed.returncode == 0 and key_id in listed.stdout and "support" in listed.stdout, listed.stdout
    assert "active" in listed.stdout and key not in listed.stdout and key[17:] not in listed.stdout

    revoked = run_keys_command(policy, "revoke", key_id)
    assert revoked.returncode == 0, revoked.stderr
    assert "the running gateway refuses it now" in revoked.stdout, revoked.stdout
    with pytest.raises(openai.AuthenticationError) as refused:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    assert "revoked" in str(refused.value.message)
    after = session._post(
        {"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "util__echo", "arguments": {"text": "x"}}},
        session._session_headers(),
    )
    assert after.status_code == 401, after.text
    session.close()
    assert "revoked" in run_keys_command(policy, "list").stdout
    # Only the hash is stored.
    import sqlite3

    database = sqlite3.connect(policy.workdir / ".gatehouse" / "gatehouse.db")
    stored = database.execute("SELECT id, key_hash FROM api_keys").fetchall()
    database.close()
    assert stored and all(key not in row and key[17:] not in row[1] for row in stored), stored
    for file in (policy.workdir / ".gatehouse").iterdir():
        assert key.encode() not in file.read_bytes(), file
    assert key not in policy.gateway.log_text and key[17:] not in policy.gateway.log_text


def test_keys_through_the_admin_api(policy: PolicyStack) -> None:
    headers = {"Authorization": f"Bearer {policy.admin_token}"}
    refused = policy.gateway.post("/admin/keys", json={"agent": "nobody"}, headers=headers)
    assert refused.status_code == 400 and "nobody" in refused.text
    bad_expiry = policy.gateway.post("/admin/keys", json={"agent": "batch", "expires_in": "soon"}, headers=headers)
    assert bad_expiry.status_code == 400
    created = policy.gateway.post("/admin/keys", json={"agent": "batch", "expires_in": "1h"}, headers=headers)
    assert created.status_code == 201, created.text
    body = created.json()
    key = body["key"]
    assert body["agent"] == "batch" and body["id"] == key[:16] and body["expires_at"]
    policy.keys["batch-managed"] = key
    client = policy.openai("batch-managed")
    assert {model.id for model in client.models.list()} == {"gpt-4o-mini"}
    listed = policy.admin("/admin/keys?agent=batch").json()["keys"]
    assert [entry["id"] for entry in listed] == [body["id"]] and listed[0]["status"] == "active"
    assert key not in json.dumps(listed) and key[17:] not in json.dumps(listed)
    assert policy.gateway.client is not None
    revoked = policy.gateway.client.request("DELETE", f"/admin/keys/{body['id']}", headers=headers)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked", revoked.text
    with pytest.raises(openai.AuthenticationError):
        client.models.list()
    assert policy.gateway.client.request("DELETE", "/admin/keys/ghk_000000000000", headers=headers).status_code == 404
    # A key that looks managed but was never issued is just invalid.
    policy.keys["forged"] = "ghk_" + "0" * 12 + "_" + "1" * 48
    with pytest.raises(openai.AuthenticationError):
        policy.openai("forged").models.list()
    assert key not in policy.gateway.log_text


# --- JWT bearer tokens and the protected-resource metadata ------------------------------------------------------

ISSUER = "https://issuer.test"


class TokenIssuer:
    """An authorization server's keys: RS256, ES256 and EdDSA keys in a JWKS file the gateway reads."""

    def __init__(self, path: pathlib.Path) -> None:
        import jwt
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

        self.jwt = jwt
        self.path = path
        self.keys: dict[str, tuple[str, Any]] = {
            "rsa-1": ("RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
            "ec-1": ("ES256", ec.generate_private_key(ec.SECP256R1())),
            "ed-1": ("EdDSA", ed25519.Ed25519PrivateKey.generate()),
        }
        self.write()

    def write(self) -> None:
        from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

        entries = []
        for kid, (algorithm, key) in self.keys.items():
            codec = {"RS256": RSAAlgorithm, "ES256": ECAlgorithm, "EdDSA": OKPAlgorithm}[algorithm]
            entry = json.loads(codec.to_jwk(key.public_key()))
            entry.update({"kid": kid, "alg": algorithm, "use": "sig"})
            entries.append(entry)
        self.path.write_text(json.dumps({"keys": entries}))

    def token(self, subject: str, *, kid: str = "rsa-1", audience: str, **claims: Any) -> str:
        algorithm, key = self.keys[kid]
        now = int(time.time())
        payload = {"iss": ISSUER, "sub": subject, "aud": audience, "iat": now, "exp": now + 300, **claims}
        return self.jwt.encode(payload, key, algorithm=algorithm, headers={"kid": kid})


@pytest.fixture
def jwt_policy(start_policy_gateway: Any, tmp_path: pathlib.Path) -> tuple[PolicyStack, TokenIssuer, str]:
    issuer = TokenIssuer(tmp_path / "issuer.jwks.json")
    stack = start_policy_gateway(
        GATEHOUSE_JWKS_FILE=str(tmp_path / "issuer.jwks.json"),
        GATEHOUSE_JWT_ISSUER=ISSUER,
        GATEHOUSE_PUBLIC_URL="https://gateway.test",
    )
    return stack, issuer, "https://gateway.test/mcp"


def test_jwt_bearer_tokens_map_to_agents_and_their_policies(jwt_policy: tuple[PolicyStack, TokenIssuer, str]) -> None:
    policy, issuer, audience = jwt_policy
    for kid in ("rsa-1", "ec-1", "ed-1"):
        policy.keys[f"jwt-{kid}"] = issuer.token("support", kid=kid, audience=audience)
        stack = policy.mcp(f"jwt-{kid}")
        assert set(stack.modern_tools()) == {"util__echo"}, kid
        assert stack.modern_call("util__echo", {"text": kid})["result"]["content"][0]["text"] == kid
        assert stack.modern_call("mail__send", {"to": "a@b.c", "body": "x"})["error"]["code"] == POLICY_DENIED
    policy.keys["jwt-researcher"] = issuer.token("researcher", audience=audience)
    client = policy.openai("jwt-researcher")
    assert {model.id for model in client.models.list()} == EXPECTED_MODELS["researcher"]
    assert client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}]).choices
    # The client's token is never passed upstream.
    for record in policy.openai_fake.requests:
        assert policy.keys["jwt-researcher"] not in json.dumps(record.headers)
    assert policy.keys["jwt-researcher"] not in policy.gateway.log_text


@pytest.mark.parametrize(
    "case",
    ["expired", "wrong audience", "wrong issuer", "not yet valid", "unknown agent", "no expiry", "alg none", "hs256",
     "foreign key", "tampered"],
)
def test_unacceptable_jwts_get_401_with_the_resource_metadata(
    jwt_policy: tuple[PolicyStack, TokenIssuer, str], case: str
) -> None:
    policy, issuer, audience = jwt_policy
    now = int(time.time())
    if case == "expired":
        token = issuer.token("support", audience=audience, exp=now - 120)
    elif case == "wrong audience":
        token = issuer.token("support", audience="https://other.test/mcp")
    elif case == "wrong issuer":
        token = issuer.token("support", audience=audience, iss="https://evil.test")
    elif case == "not yet valid":
        token = issuer.token("support", audience=audience, nbf=now + 600)
    elif case == "unknown agent":
        token = issuer.token("intruder", audience=audience)
    elif case == "no expiry":
        algorithm, key = issuer.keys["rsa-1"]
        token = issuer.jwt.encode({"iss": ISSUER, "sub": "support", "aud": audience}, key, algorithm=algorithm,
                                  headers={"kid": "rsa-1"})
    elif case == "alg none":
        token = issuer.jwt.encode({"iss": ISSUER, "sub": "support", "aud": audience, "exp": now + 300}, None,
                                  algorithm="none")
    elif case == "hs256":
        token = issuer.jwt.encode({"iss": ISSUER, "sub": "support", "aud": audience, "exp": now + 300},
                                  "a-guessed-secret-that-is-long-enough-32b", algorithm="HS256")
    elif case == "foreign key":
        from cryptography.hazmat.primitives.asymmetric import rsa

        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        token = issuer.jwt.encode({"iss": ISSUER, "sub": "support", "aud": audience, "exp": now + 300}, other,
                                  algorithm="RS256", headers={"kid": "rsa-1"})
    else:
        header, payload, signature = issuer.token("support", audience=audience).split(".")
        import base64

        claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
        claims["sub"] = "researcher"
        forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        token = f"{header}.{forged}.{signature}"
    response = policy.gateway.post(
        "/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"},
    )
    assert response.status_code == 401, (case, response.text)
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge, challenge
    assert 'resource_metadata="https://gateway.test/.well-known/oauth-protected-resource/mcp"' in challenge
    assert "Invalid bearer token" in response.json()["error"]["message"]
    assert token not in response.text and token not in policy.gateway.log_text
    policy.keys["bad"] = token
    with pytest.raises(openai.AuthenticationError):
        policy.openai("bad").models.list()


def test_a_rotated_signing_key_is_fetched_without_a_restart(jwt_policy: tuple[PolicyStack, TokenIssuer, str]) -> None:
    policy, issuer, audience = jwt_policy
    from cryptography.hazmat.primitives.asymmetric import rsa

    issuer.keys["rsa-2"] = ("RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))
    del issuer.keys["rsa-1"]
    issuer.write()
    policy.keys["rotated"] = issuer.token("support", kid="rsa-2", audience=audience)
    assert set(policy.mcp("rotated").modern_tools()) == {"util__echo"}


def test_the_protected_resource_metadata_is_served(jwt_policy: tuple[PolicyStack, TokenIssuer, str]) -> None:
    policy, _, _ = jwt_policy
    for path in ("/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"):
        response = policy.gateway.get(path)
        assert response.status_code == 200, response.text
        metadata = response.json()
        assert metadata["resource"] == "https://gateway.test/mcp"
        assert metadata["authorization_servers"] == [ISSUER]
        assert metadata["bearer_methods_supported"] == ["header"]
    scoped = policy.gateway.get("/.well-known/oauth-protected-resource/mcp/files").json()
    assert scoped["resource"] == "https://gateway.test/mcp/files"
    anonymous = policy.gateway.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == (
        'Bearer resource_metadata="https://gateway.test/.well-known/oauth-protected-resource/mcp"'
    )
    scoped_401 = policy.gateway.post("/mcp/files", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert 'oauth-protected-resource/mcp/files"' in scoped_401.headers["www-authenticate"]
    # The LLM endpoints keep the plain challenge.
    assert policy.gateway.get("/v1/models").headers["www-authenticate"] == "Bearer"


def test_without_a_jwks_every_token_is_refused(policy: PolicyStack) -> None:
    import jwt

    token = jwt.encode({"iss": "https://auth.example.com", "sub": "support", "aud": "http://127.0.0.1:4000/mcp",
                        "exp": int(time.time()) + 300}, "x" * 32, algorithm="HS256")
    policy.keys["unconfigured"] = token
    with pytest.raises(openai.AuthenticationError):
        policy.openai("unconfigured").models.list()


# --- Budgets -------------------------------------------------------------------------------------------------------


def test_an_exhausted_budget_refuses_llm_calls_and_survives_a_restart(
    start_policy_gateway: Any, tmp_path: pathlib.Path
) -> None:
    (tmp_path / "samples").symlink_to(REPO_ROOT / "samples", target_is_directory=True)
    shutil.copytree(REPO_ROOT / "policies", tmp_path / "policies")
    support = tmp_path / "policies" / "support.yaml"
    # One call of the fake provider costs about $0.000008 on gpt-4o-mini's price.
    support.write_text(support.read_text() + "\nbudgets:\n  daily_usd: 0.000005\n  monthly_usd: 100\n")
    first = start_policy_gateway()
    client = first.openai("support")
    assert client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}]).choices

    def refused() -> openai.RateLimitError | None:
        try:
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
        except openai.RateLimitError as error:
            return error
        return None

    error = wait_until(refused, 5.0, "the budget to refuse")
    assert "daily budget of $0.00" in error.message and "resets at" in error.message, error.message
    assert "support.yaml#budgets.daily_usd" in error.message
    retry = int(error.response.headers["retry-after"])
    assert 1 <= retry <= 86_400
    usage = first.admin("/admin/usage").json()
    daily = next(b for b in usage["budgets"] if b["agent"] == "support" and b["period"] == "day")
    assert daily["limit_usd"] == pytest.approx(0.000005) and daily["spent_usd"] > daily["limit_usd"]
    assert daily["remaining_usd"] == 0 and daily["resets_at"].endswith("T00:00:00.000Z")
    monthly = next(b for b in usage["budgets"] if b["agent"] == "support" and b["period"] == "month")
    assert monthly["spent_usd"] == pytest.approx(daily["spent_usd"])
    # Other agents have no budget.
    assert policy_agents_with_budgets(usage) == {"support"}
    requests_before = len(first.openai_fake.requests)
    assert first.gateway.stop() == 0

    second = start_policy_gateway(
        _researcher_key=first.keys["researcher"], _support_key=first.keys["support"], _batch_key=first.keys["batch"],
        _admin_token=first.admin_token,
    )
    with pytest.raises(openai.RateLimitError) as again:
        second.openai("support").chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    assert "daily budget" in again.value.message
    assert len(second.openai_fake.requests) == 0 and requests_before >= 1
    reloaded = second.admin("/admin/usage").json()
    daily_after = next(b for b in reloaded["budgets"] if b["agent"] == "support" and b["period"] == "day")
    assert daily_after["spent_usd"] == pytest.approx(daily["spent_usd"])
    # MCP calls are not LLM spend: the support agent's tool still works.
    assert "result" in second.mcp("support").modern_call("util__echo", {"text": "still here"})


def policy_agents_with_budgets(usage: dict[str, Any]) -> set[str]:
    return {budget["agent"] for budget in usage["budgets"]}
