"""The tracing tests' stack and agents (test_tracing.py, test_trace_viewer.py).

The gateway runs on the contract sample samples/agent-tracing.yaml, as its header documents it: from a
working directory holding `samples` (linked to the repository's) and a copy of `policies`, so that the
sample's relative paths resolve while the store (.gatehouse/) stays in that directory. Behind it: the
fake OpenAI provider (fakes/), the sample's stdio notes server (samples/servers/notes.py under
GATEHOUSE_PYTHON_MCP2), and the trace receivers of otlp_receiver.py as the OTLP collector and Langfuse.

The agents are what an agent written with the official SDKs does, in this process: list the tools on
/mcp with the mcp 2.x client, ask the model (openai or anthropic SDK) with those tools, make the tool
call the model asked for through /mcp, and ask again with its result until the model answers text. No
traceparent is sent anywhere. `AgentRun` keeps what the agent saw, so a test can compare the spans with
it (the tool call id, the JSON-RPC id of its tools/call, its MCP session).
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx
import httpx2
import openai
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from conftest import HTTP_TIMEOUT, REPO_ROOT, STOP_TIMEOUT, Gateway, clean_env, fresh_secret, gatehouse_bin
from fakes import FakeOpenAI, RecordedRequest
from llm_support import sse_data
from mcp_support import python_mcp2, run_async
from otlp_receiver import KIND_CLIENT, KIND_INTERNAL, KIND_SERVER, TraceReceiver

SAMPLE = pathlib.Path("samples/agent-tracing.yaml")  # relative to the working directory, as documented
MODEL = "gpt-4o-mini"
# What the fake answers as the model: a dated snapshot, as OpenAI does, so the spans' response model
# can be told from the requested one.
RESPONSE_MODEL = "gpt-4o-mini-2024-07-18"
# The sample's price of gpt-4o-mini, USD per million tokens (cached input costs the input price there).
PRICE = {"input": 0.15, "output": 0.60}
AGENT = "demo"
TOOL = "notes__add_note"
UPSTREAM_TOOL = "add_note"
ROOT_NAME = f"invoke_agent {AGENT}"
CHAT_NAME = f"chat {MODEL}"
MASK = "[EMAIL]"
# Spans are exported in batches: they must arrive within this.
EXPORT_TIMEOUT = 20.0
SDK_TIMEOUT = 30.0
AGENT_TIMEOUT = 60.0
SERVER_UP_TIMEOUT = 30.0
# Variables of the sample's exporters; cleared from the inherited environment, set only as a test says.
EXPORTER_VARIABLES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_SERVICE_NAME",
    "LANGFUSE_HOST",
    "LANGFUSE_PUBLIC_KEY",
    "LANGFUSE_SECRET_KEY",
)


# ---------------------------------------------------------------------------------------------------
# The gateway


@dataclass
class TracingStack:
    """A gateway on samples/agent-tracing.yaml, its fake provider, its receivers, and the keys involved."""

    gateway: Gateway
    fake: FakeOpenAI
    otlp: TraceReceiver | None
    langfuse: TraceReceiver | None
    agent_key: str
    admin_token: str
    workdir: pathlib.Path
    env: dict[str, str]

    @property
    def agent_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.agent_key}"}

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    @property
    def store_path(self) -> pathlib.Path:
        return self.workdir / ".gatehouse" / "gatehouse.db"

    def admin_get(self, path: str) -> httpx.Response:
        return self.gateway.get(path, headers=self.admin_headers)

    def metrics(self) -> str:
        response = self.gateway.get("/metrics")
        assert response.status_code == 200, response.text
        return response.text

    def gatehouse(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Runs `gatehouse ARGS` as an operator would next to this gateway: same directory, same variables."""
        try:
            return subprocess.run(
                [str(gatehouse_bin()), *args],
                cwd=self.workdir,
                env=self.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as error:
            pytest.fail(f"`gatehouse {' '.join(args)}` still running after {timeout}s: {error.stdout}{error.stderr}")

    def wait_servers_up(self, timeout: float = SERVER_UP_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            if not self.gateway.running:
                pytest.fail(f"gatehouse exited with {self.gateway.proc.returncode}:\n{self.gateway.log_text}")
            response = self.admin_get("/admin/mcp/servers")
            if response.status_code == 200:
                last = response.json().get("servers")
                if last and all(server.get("status") == "up" for server in last):
                    return
            else:
                last = response.text
            time.sleep(0.1)
        pytest.fail(f"MCP servers not up within {timeout}s: {last}\n{self.gateway.log_text}")

    def upstream_since(self, mark: int) -> list[RecordedRequest]:
        """The chat requests the fake received after `mark` (a count of its requests taken earlier)."""
        return [record for record in self.fake.requests[mark:] if record.path == "/v1/chat/completions"]


def read_store(path: pathlib.Path) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table of a gateway's SQLite store, read-only, as {table: [row as a dict]}."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
    try:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        content: dict[str, list[dict[str, Any]]] = {}
        for table in tables:
            cursor = connection.execute(f'SELECT * FROM "{table}"')
            columns = [description[0] for description in cursor.description]
            content[table] = [dict(zip(columns, row)) for row in cursor.fetchall()]
        return content
    finally:
        connection.close()


def decode_span_batch(blob: bytes, trace_id: str) -> list[dict[str, Any]]:
    """The spans of a `trace_span_batches` row, as `trace_spans` rows would hold them. Per span: a
    flags byte (1: has a parent, 2: detail is bytes), start and end (8 bytes each, little endian),
    then span id, parent id (when flagged), agent, name, kind, status and detail, each a 4-byte
    little-endian length and its bytes."""
    spans: list[dict[str, Any]] = []
    index = 0

    def take(width: int, signed: bool = False) -> int:
        nonlocal index
        assert len(blob) - index >= width, f"span batch of trace {trace_id} cut short at byte {index}"
        value = int.from_bytes(blob[index : index + width], "little", signed=signed)
        index += width
        return value

    def chunk() -> bytes:
        nonlocal index
        length = take(4)
        assert len(blob) - index >= length, f"span batch of trace {trace_id} cut short at byte {index}"
        index += length
        return blob[index - length : index]

    while index < len(blob):
        flags = take(1)
        start, end = take(8, signed=True), take(8, signed=True)
        span_id = chunk().decode()
        parent = chunk().decode() if flags & 1 else None
        agent, name, kind, status = (chunk().decode() for _ in range(4))
        detail_bytes = chunk()
        spans.append(
            {
                "trace_id": trace_id,
                "span_id": span_id,
                "parent_span_id": parent,
                "is_run_root": 0,
                "agent": agent,
                "name": name,
                "kind": kind,
                "start_ns": start,
                "end_ns": end,
                "status": status,
                "detail": detail_bytes if flags & 2 else detail_bytes.decode(),
            }
        )
    return spans


def stored_spans(content: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Every span in a store's content: rows of trace_spans, and the spans of trace_span_batches rows."""
    spans = list(content.get("trace_spans", []))
    for row in content.get("trace_span_batches", []):
        decoded = decode_span_batch(row["spans"], row["trace_id"])
        assert len(decoded) == row["span_count"], f"batch {row['id']}: {len(decoded)} spans, counted {row['span_count']}"
        spans += decoded
    return spans


def wait_stored(stack: TracingStack, span_id: str, timeout: float = 10.0) -> dict[str, list[dict[str, Any]]]:
    """The store's content once it holds `span_id` (spans are written in batches)."""
    deadline = time.monotonic() + timeout
    while True:
        content = read_store(stack.store_path) if stack.store_path.exists() else {}
        if any(row.get("span_id") == span_id for row in stored_spans(content)):
            return content
        if time.monotonic() >= deadline:
            pytest.fail(f"span {span_id} not in the store within {timeout}s")
        time.sleep(0.2)


def prepare_workdir(workdir: pathlib.Path) -> None:
    """`samples` linked to the repository's, `policies` copied: the sample runs from here, its store stays here."""
    workdir.mkdir(parents=True, exist_ok=True)
    if not (workdir / "samples").exists():
        (workdir / "samples").symlink_to(REPO_ROOT / "samples", target_is_directory=True)
    if not (workdir / "policies").exists():
        shutil.copytree(REPO_ROOT / "policies", workdir / "policies")


def gateway_env(extra: Mapping[str, str]) -> dict[str, str]:
    """clean_env's, without any inherited exporter variable, plus `extra`."""
    env = {key: value for key, value in clean_env().items() if key not in EXPORTER_VARIABLES}
    env.update(extra)
    return env


def start_tracing_stack(
    workdir: pathlib.Path,
    fake: FakeOpenAI,
    *,
    otlp: TraceReceiver | None = None,
    langfuse: TraceReceiver | None = None,
    otlp_endpoint: str | None = None,
    env: Mapping[str, str] | None = None,
    config_file: pathlib.Path = SAMPLE,
    wait_mcp: bool = True,
) -> TracingStack:
    """Starts the gateway on the sample in `workdir` with exactly the sample's variables: the exporters
    point at `otlp` / `langfuse` (or `otlp_endpoint`), the others stay unset (off). Returns once it is
    ready and, with `wait_mcp`, once the notes server is up (an LLM-only test need not wait for it)."""
    prepare_workdir(workdir)
    agent_key = fresh_secret("gh-agent-")
    admin_token = fresh_secret("gh-admin-")
    variables = {
        "GATEHOUSE_API_KEY": agent_key,
        "GATEHOUSE_ADMIN_TOKEN": admin_token,
        "OPENAI_BASE_URL": fake.base_url,
        "OPENAI_API_KEY": fake.api_key,
        "PYTHON": python_mcp2(),
    }
    if otlp is not None:
        variables["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlp.url
    elif otlp_endpoint is not None:
        variables["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlp_endpoint
    if langfuse is not None:
        variables.update(
            LANGFUSE_HOST=langfuse.url, LANGFUSE_PUBLIC_KEY=langfuse.public_key, LANGFUSE_SECRET_KEY=langfuse.secret_key
        )
    variables.update(env or {})
    full_env = gateway_env(variables)
    gateway = Gateway(config_path=config_file, cwd=workdir, env=full_env, args=())
    stack = TracingStack(gateway, fake, otlp, langfuse, agent_key, admin_token, workdir, full_env)
    try:
        gateway.wait_ready()
        if wait_mcp:
            stack.wait_servers_up()
    except BaseException:
        if gateway.running:
            gateway.proc.kill()
            gateway.wait_exit(5.0)
        raise
    return stack


def stop_gateway(gateway: Gateway) -> None:
    """SIGTERM; the gateway must exit 0. Prints its log either way."""
    code = gateway.stop() if gateway.running else gateway.proc.returncode
    print(f"--- gatehouse {' '.join(gateway.args)} in {gateway.cwd} (exit {code}) ---")
    print(gateway.log_text)
    assert code == 0, f"gatehouse exited with {code} after SIGTERM"


def tracing_module_stack(
    tmp_path_factory: pytest.TempPathFactory, name: str, **env: str
) -> Iterator[TracingStack]:
    """The body of a module-scoped fixture: receivers, the fake, the gateway; all stopped at the end."""
    fake = FakeOpenAI(name="openai", api_key=fresh_secret("sk-provider-openai-"), response_model=RESPONSE_MODEL)
    otlp = TraceReceiver("otlp")
    langfuse = TraceReceiver(
        "langfuse", public_key=fresh_secret("pk-lf-"), secret_key=fresh_secret("sk-lf-")
    )
    fake.start()
    otlp.start()
    langfuse.start()
    try:
        stack = start_tracing_stack(tmp_path_factory.mktemp(name), fake, otlp=otlp, langfuse=langfuse, env=env)
        try:
            yield stack
        finally:
            stop_gateway(stack.gateway)
    finally:
        fake.close()
        otlp.close()
        langfuse.close()


def reset_fake(fake: FakeOpenAI) -> None:
    """The fake's scripted replies back to the module's defaults."""
    fake.heal()
    fake.reply_text = None
    fake.reply_pieces = None
    fake.tool_result_text = None
    fake.cached_tokens = 0
    fake.reasoning_tokens = 0
    fake.response_model = RESPONSE_MODEL
    fake.tool_arguments = {"city": "Oslo"}


# ---------------------------------------------------------------------------------------------------
# The agents


@dataclass
class AgentRun:
    """What an agent saw during one run: enough to find its trace and check it."""

    client: str  # "openai" or "anthropic"
    prompt: str
    tool_call_id: str  # the id of the tool call in the model's first answer, as the client received it
    tool_name: str
    arguments: dict[str, Any]
    jsonrpc_id: str  # the JSON-RPC id the MCP client sent with that tools/call, as a string
    mcp_session_id: str | None  # the Mcp-Session-Id the MCP client sent with it; None without a session
    tool_result: str  # the tool result's text, as the client received it
    final_text: str
    finish_reasons: list[str]  # what the client saw per LLM call
    upstream: list[RecordedRequest] = field(default_factory=list)  # the fake's chat requests of this run
    mcp_requests: list[dict[str, Any]] = field(default_factory=list)  # every JSON-RPC message sent to /mcp


class _MCPRecorder:
    """An httpx2 request hook: every JSON-RPC message the MCP client sends, with its session header."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def __call__(self, request: httpx2.Request) -> None:
        if request.method != "POST":
            return
        try:
            body = json.loads(await request.aread())
        except ValueError:
            return
        for message in body if isinstance(body, list) else [body]:
            if isinstance(message, dict):
                self.messages.append({"message": message, "session": request.headers.get("mcp-session-id")})

    def tools_call(self, name: str) -> dict[str, Any]:
        calls = [
            entry
            for entry in self.messages
            if entry["message"].get("method") == "tools/call" and entry["message"].get("params", {}).get("name") == name
        ]
        assert len(calls) == 1, f"expected one tools/call of {name}, the client sent {calls}"
        return calls[0]


def result_text(result: Any) -> str:
    """The text of an mcp 2.x CallToolResult."""
    assert not result.is_error, result
    return "\n".join(getattr(part, "text", "") for part in result.content)


def openai_tool(tool: Any) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description or "", "parameters": tool.input_schema},
    }


def anthropic_tool(tool: Any) -> dict[str, Any]:
    return {"name": tool.name, "description": tool.description or "", "input_schema": tool.input_schema}


def ordered_tools(listed: Sequence[Any], first: str) -> list[Any]:
    """The listed tools with `first` first (the fake calls the first tool it is given)."""
    names = [tool.name for tool in listed]
    assert first in names, f"{first} not listed on /mcp: {names}"
    return sorted(listed, key=lambda tool: tool.name != first)


async def _openai_chat(client: Any, messages: list[dict[str, Any]], tools: list[dict[str, Any]], stream: bool) -> dict:
    """One chat call; returns the assistant message (as it goes back into the history) and the finish reason."""
    if not stream:
        completion = await client.chat.completions.create(model=MODEL, messages=messages, tools=tools)
        choice = completion.choices[0]
        message = choice.message.model_dump(exclude_none=True)
        return {"message": message, "finish_reason": choice.finish_reason}
    content: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    finish_reason = None
    events = await client.chat.completions.create(model=MODEL, messages=messages, tools=tools, stream=True)
    async for chunk in events:
        for choice in chunk.choices:
            delta = choice.delta
            if delta.content:
                content.append(delta.content)
            for call in delta.tool_calls or []:
                entry = calls.setdefault(call.index, {"id": "", "type": "function", "function": {"name": "", "arguments": ""}})
                if call.id:
                    entry["id"] = call.id
                if call.function is not None:
                    entry["function"]["name"] += call.function.name or ""
                    entry["function"]["arguments"] += call.function.arguments or ""
            if choice.finish_reason:
                finish_reason = choice.finish_reason
    message: dict[str, Any] = {"role": "assistant", "content": "".join(content) or None}
    if calls:
        message["tool_calls"] = [calls[index] for index in sorted(calls)]
    return {"message": message, "finish_reason": finish_reason}


def run_openai_agent(
    stack: TracingStack,
    prompt: str,
    *,
    tool: str = TOOL,
    stream: bool = False,
    mcp_mode: str = "auto",
    before: Callable[[Any], Any] | None = None,
) -> AgentRun:
    """The agent loop with the openai SDK and the mcp 2.x client (`mcp_mode`: "auto" or "legacy").

    `before(mcp_client)` (async) runs on the MCP connection before the first model call.
    """
    mark = len(stack.fake.requests)
    recorder = _MCPRecorder()

    async def main() -> AgentRun:
        async with httpx2.AsyncClient(
            headers=stack.agent_headers,
            timeout=httpx2.Timeout(HTTP_TIMEOUT),
            trust_env=False,
            event_hooks={"request": [recorder]},
        ) as http:
            transport = streamable_http_client(f"{stack.gateway.url}/mcp", http_client=http)
            async with Client(transport, mode=mcp_mode) as mcp:
                if before is not None:
                    await before(mcp)
                listed = (await mcp.list_tools()).tools
                tools = [openai_tool(each) for each in ordered_tools(listed, tool)]
                llm = openai.AsyncOpenAI(
                    base_url=f"{stack.gateway.url}/v1", api_key=stack.agent_key, max_retries=0, timeout=SDK_TIMEOUT
                )
                async with llm:
                    messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
                    first = await _openai_chat(llm, messages, tools, stream)
                    assert first["finish_reason"] == "tool_calls", first
                    [call] = first["message"]["tool_calls"]
                    arguments = json.loads(call["function"]["arguments"])
                    result = await mcp.call_tool(call["function"]["name"], arguments)
                    text = result_text(result)
                    messages += [
                        first["message"],
                        {"role": "tool", "tool_call_id": call["id"], "content": text},
                    ]
                    second = await _openai_chat(llm, messages, tools, stream)
                    assert second["finish_reason"] == "stop", second
            sent = recorder.tools_call(call["function"]["name"])
            return AgentRun(
                client="openai",
                prompt=prompt,
                tool_call_id=call["id"],
                tool_name=call["function"]["name"],
                arguments=arguments,
                jsonrpc_id=str(sent["message"]["id"]),
                mcp_session_id=sent["session"],
                tool_result=text,
                final_text=second["message"].get("content") or "",
                finish_reasons=[first["finish_reason"], second["finish_reason"]],
                mcp_requests=recorder.messages,
            )

    run = run_async(main, timeout=AGENT_TIMEOUT)
    run.upstream = stack.upstream_since(mark)
    assert len(run.upstream) == 2, f"expected two chat calls upstream, the fake got {len(run.upstream)}"
    return run


def run_anthropic_agent(stack: TracingStack, prompt: str, *, tool: str = TOOL, mcp_mode: str = "auto") -> AgentRun:
    """The agent loop with the anthropic SDK (/v1/messages, model gpt-4o-mini) and the mcp 2.x client."""
    mark = len(stack.fake.requests)
    recorder = _MCPRecorder()

    async def main() -> AgentRun:
        async with httpx2.AsyncClient(
            headers=stack.agent_headers,
            timeout=httpx2.Timeout(HTTP_TIMEOUT),
            trust_env=False,
            event_hooks={"request": [recorder]},
        ) as http:
            transport = streamable_http_client(f"{stack.gateway.url}/mcp", http_client=http)
            async with Client(transport, mode=mcp_mode) as mcp:
                listed = (await mcp.list_tools()).tools
                tools = [anthropic_tool(each) for each in ordered_tools(listed, tool)]
                llm = anthropic.AsyncAnthropic(
                    base_url=stack.gateway.url, api_key=stack.agent_key, max_retries=0, timeout=SDK_TIMEOUT
                )
                async with llm:
                    messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
                    first = await llm.messages.create(model=MODEL, max_tokens=256, messages=messages, tools=tools)
                    assert first.stop_reason == "tool_use", first
                    [use] = [block for block in first.content if block.type == "tool_use"]
                    result = await mcp.call_tool(use.name, dict(use.input))
                    text = result_text(result)
                    messages += [
                        {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
                        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": text}]},
                    ]
                    second = await llm.messages.create(model=MODEL, max_tokens=256, messages=messages, tools=tools)
                    assert second.stop_reason == "end_turn", second
            sent = recorder.tools_call(use.name)
            return AgentRun(
                client="anthropic",
                prompt=prompt,
                tool_call_id=use.id,
                tool_name=use.name,
                arguments=dict(use.input),
                jsonrpc_id=str(sent["message"]["id"]),
                mcp_session_id=sent["session"],
                tool_result=text,
                final_text="".join(block.text for block in second.content if block.type == "text"),
                finish_reasons=[first.stop_reason or "", second.stop_reason or ""],
                mcp_requests=recorder.messages,
            )

    run = run_async(main, timeout=AGENT_TIMEOUT)
    run.upstream = stack.upstream_since(mark)
    assert len(run.upstream) == 2, f"expected two chat calls upstream, the fake got {len(run.upstream)}"
    return run


# ---------------------------------------------------------------------------------------------------
# Traces


def describe(spans: Sequence[dict[str, Any]]) -> str:
    """Spans as readable lines, for failure messages."""
    lines = []
    for span in sorted(spans, key=lambda each: (each["trace_id"], each["start"])):
        lines.append(
            f"  trace={span['trace_id']} span={span['span_id']} parent={span['parent_span_id'] or '-'} "
            f"kind={span['kind']} {span['name']!r} [{span['start']}, {span['end']}] "
            f"attributes={json.dumps(span['attributes'], default=repr, sort_keys=True)} "
            f"links={span['links']} status={span['status']}"
        )
    return "\n".join(lines) or "  (no spans)"


def tool_span_of(spans: Sequence[dict[str, Any]], tool_call_id: str) -> dict[str, Any] | None:
    for span in spans:
        if span["kind"] == KIND_SERVER and span["attributes"].get("gen_ai.tool.call.id") == tool_call_id:
            return span
    return None


def complete_trace(spans: Sequence[dict[str, Any]], tool_call_id: str) -> list[dict[str, Any]] | None:
    """The spans of the trace holding the agent's tool call, once its root, both chats and the hop are in."""
    tool = tool_span_of(spans, tool_call_id)
    if tool is None:
        return None
    trace = [span for span in spans if span["trace_id"] == tool["trace_id"]]
    names = [span["name"] for span in trace]
    roots = [span for span in trace if not span["parent_span_id"]]
    if roots and names.count(CHAT_NAME) >= 2 and any(span["parent_span_id"] == tool["span_id"] for span in trace):
        return trace
    return None


def wait_trace(receiver: TraceReceiver, run: AgentRun, what: str, timeout: float = EXPORT_TIMEOUT) -> list[dict]:
    """The run's whole trace as `receiver` got it; fails with every span received when it does not arrive."""
    trace = receiver.wait_for_spans(lambda spans: complete_trace(spans, run.tool_call_id), timeout)
    if trace is None:
        exports = receiver.exports()
        pytest.fail(
            f"{what}: the trace of the agent run (tool call {run.tool_call_id}) not complete within {timeout}s. "
            f"{len(exports)} export(s), answered {[request.status for request in exports]}; spans received:\n"
            + describe(receiver.spans())
        )
    return trace


def by_name(trace: Sequence[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return sorted((span for span in trace if span["name"] == name), key=lambda span: span["start"])


def reply_model(record: RecordedRequest) -> str:
    """The model the fake named in its answer (JSON reply, or the first event of a stream)."""
    if isinstance(record.reply, dict):
        return record.reply["model"]
    [first, *_] = sse_data(record.sent_events)
    return json.loads(first)["model"]


def expected_cost(usage: dict[str, Any]) -> float:
    return usage["prompt_tokens"] * PRICE["input"] / 1e6 + usage["completion_tokens"] * PRICE["output"] / 1e6


def check_agent_trace(
    trace: Sequence[dict[str, Any]],
    run: AgentRun,
    *,
    finish_reasons: Sequence[Sequence[str]] | None = (("tool_calls",), ("stop",)),
) -> dict[str, Any]:
    """Checks the trace of one agent loop against the contract; returns its spans by role."""
    context = "\n" + describe(trace)
    ids = [span["span_id"] for span in trace]
    assert len(ids) == len(set(ids)), f"a span id appears twice in one receiver's trace:{context}"
    trace_ids = {span["trace_id"] for span in trace}
    assert len(trace_ids) == 1 and len(next(iter(trace_ids))) == 32, f"not one 128-bit trace:{context}"
    [trace_id] = trace_ids
    spans = {span["span_id"]: span for span in trace}
    for span in trace:
        assert len(span["span_id"]) == 16 and span["span_id"] != "0" * 16, f"bad span id:{context}"
        assert 0 < span["start"] <= span["end"], f"{span['name']}: start {span['start']} after end:{context}"
        if span["parent_span_id"]:
            assert span["parent_span_id"] in spans, f"{span['name']}: parent not in the trace:{context}"

    # The run root.
    roots = [span for span in trace if not span["parent_span_id"]]
    assert [root["name"] for root in roots] == [ROOT_NAME], f"expected one root {ROOT_NAME!r}:{context}"
    [root] = roots
    assert root["kind"] == KIND_INTERNAL, f"root kind {root['kind']}, expected INTERNAL (1):{context}"
    assert root["attributes"].get("gen_ai.operation.name") == "invoke_agent", context
    assert root["attributes"].get("gen_ai.agent.name") == AGENT, context

    # The two model calls, in order.
    chats = by_name(trace, CHAT_NAME)
    assert len(chats) == 2, f"expected two {CHAT_NAME!r} spans, got {len(chats)}:{context}"
    for index, (chat, record) in enumerate(zip(chats, run.upstream)):
        where = f"{CHAT_NAME} #{index + 1}:{context}"
        attributes = chat["attributes"]
        usage = record.usage
        assert usage is not None
        assert chat["kind"] == KIND_CLIENT, where
        assert chat["parent_span_id"] == root["span_id"], where
        assert attributes.get("gen_ai.operation.name") == "chat", where
        assert attributes.get("gen_ai.provider.name") == "openai", where
        assert attributes.get("gen_ai.request.model") == MODEL, where
        assert attributes.get("gen_ai.response.model") == reply_model(record), where
        assert attributes.get("gen_ai.usage.input_tokens") == usage["prompt_tokens"], where
        assert attributes.get("gen_ai.usage.output_tokens") == usage["completion_tokens"], where
        cached = usage["prompt_tokens_details"]["cached_tokens"]
        reasoning = usage["completion_tokens_details"]["reasoning_tokens"]
        if cached:
            assert attributes.get("gen_ai.usage.cache_read.input_tokens") == cached, where
        else:
            assert attributes.get("gen_ai.usage.cache_read.input_tokens") in (None, 0), where
        if reasoning:
            assert attributes.get("gen_ai.usage.reasoning.output_tokens") == reasoning, where
        else:
            assert attributes.get("gen_ai.usage.reasoning.output_tokens") in (None, 0), where
        reasons = attributes.get("gen_ai.response.finish_reasons")
        assert isinstance(reasons, list) and reasons and all(isinstance(item, str) for item in reasons), where
        if finish_reasons is not None:
            assert reasons == list(finish_reasons[index]), where
        cost = attributes.get("gatehouse.cost.usd")
        assert isinstance(cost, float), f"gatehouse.cost.usd is {cost!r}, expected a double; {where}"
        assert abs(cost - expected_cost(usage)) < 1e-12, f"cost {cost} != {expected_cost(usage)}; {where}"

    # The agent's tool call, as the gateway served it.
    tools = by_name(trace, f"tools/call {run.tool_name}")
    assert len(tools) == 1, f"expected one 'tools/call {run.tool_name}' span:{context}"
    [tool] = tools
    attributes = tool["attributes"]
    assert tool["kind"] == KIND_SERVER, context
    assert tool["parent_span_id"] == root["span_id"], context
    assert attributes.get("mcp.method.name") == "tools/call", context
    assert attributes.get("gen_ai.tool.name") == run.tool_name, context
    assert attributes.get("gen_ai.operation.name") == "execute_tool", context
    assert attributes.get("jsonrpc.request.id") == run.jsonrpc_id, f"the client sent id {run.jsonrpc_id!r}:{context}"
    assert attributes.get("mcp.session.id") == run.mcp_session_id, (
        f"the client's Mcp-Session-Id was {run.mcp_session_id!r}:{context}"
    )
    assert attributes.get("gen_ai.tool.call.id") == run.tool_call_id, context
    assert [(link["trace_id"], link["span_id"]) for link in tool["links"]] == [(trace_id, chats[0]["span_id"])], (
        f"expected one link to the first chat span {chats[0]['span_id']}:{context}"
    )

    # Its hop to the notes server.
    upstream_name = f"tools/call {run.tool_name.split('__', 1)[1]}"
    hops = [span for span in trace if span["parent_span_id"] == tool["span_id"]]
    assert [hop["name"] for hop in hops] == [upstream_name], f"expected one child {upstream_name!r}:{context}"
    [hop] = hops
    assert hop["kind"] == KIND_CLIENT, context
    assert hop["attributes"].get("server.address") == "notes", context

    # Time: children inside their parents, the loop's steps one after the other.
    for span in trace:
        parent = spans.get(span["parent_span_id"])
        if parent is not None:
            assert parent["start"] <= span["start"] and span["end"] <= parent["end"], (
                f"{span['name']} [{span['start']}, {span['end']}] outside its parent {parent['name']} "
                f"[{parent['start']}, {parent['end']}]:{context}"
            )
    assert chats[0]["end"] <= tool["start"], f"the tool call started before the first chat ended:{context}"
    assert tool["end"] <= chats[1]["start"], f"the second chat started before the tool call ended:{context}"
    return {"root": root, "chats": chats, "tool": tool, "hop": hop, "trace_id": trace_id}


# ---------------------------------------------------------------------------------------------------
# Processes


def process_rss_kib(pid: int) -> int:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def kill_process_group(proc: subprocess.Popen[Any], timeout: float = STOP_TIMEOUT) -> None:
    """Ends a process started with start_new_session=True and everything in its group (by its id)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=5.0)
    # Its children take a moment to go once killed: wait until the group is empty.
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
