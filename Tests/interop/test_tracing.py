"""Tracing, end to end: the contract sample samples/agent-tracing.yaml (agent `demo`, policies/demo.yaml)
exporting to an OTLP/HTTP collector and to a Langfuse-shaped OTel endpoint (otlp_receiver.py), in front of
the fake OpenAI provider and the sample's stdio notes server.

An agent written with the official SDKs (openai or anthropic for the model, mcp 2.x for the tools), which
sends no traceparent anywhere, runs the loop "ask the model with tools, make the tool call it asked for
through /mcp, ask again with the result": the gateway must turn that run into one trace, `invoke_agent
demo` over two `chat gpt-4o-mini` CLIENT spans and the `tools/call notes__add_note` SERVER span (linked to
the chat that asked for it) with its `tools/call add_note` hop to the notes server; export it batched to
both receivers with the right headers, retry only what OTLP says to retry, never slow the agent down when
the collector is dead, and capture content only after the guards' redaction.
"""

from __future__ import annotations

import collections
import contextlib
import json
import statistics
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import pytest

from conftest import closed_port, fresh_secret
from fakes import FakeOpenAI
from llm_support import metric_value
from otlp_receiver import KIND_SERVER, LANGFUSE_PATH, OTLP_PATH, PROTOBUF, TraceReceiver
from tracing_support import (
    AGENT,
    CHAT_NAME,
    EXPORT_TIMEOUT,
    MASK,
    MODEL,
    RESPONSE_MODEL,
    TOOL,
    AgentRun,
    TracingStack,
    check_agent_trace,
    describe,
    process_rss_kib,
    reset_fake,
    result_text,
    run_anthropic_agent,
    run_openai_agent,
    start_tracing_stack,
    stop_gateway,
    stored_spans,
    tracing_module_stack,
    wait_stored,
    wait_trace,
)

pytestmark = [pytest.mark.tracing, pytest.mark.llm, pytest.mark.mcp]

SERVICE_NAME = "gatehouse-interop"
COLLECTOR_TENANT = "interop"
# The exporter's queue capacity the gateway documents for each exporter.
QUEUE_CAPACITY = 2048


@pytest.fixture(scope="module")
def collector_token() -> str:
    return fresh_secret("collector-token-")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, collector_token: str) -> Iterator[TracingStack]:
    """One gateway for the module, exporting to both receivers, with the collector's headers and a service name."""
    yield from tracing_module_stack(
        tmp_path_factory,
        "tracing",
        OTEL_EXPORTER_OTLP_HEADERS=f"x-collector-token={collector_token},x-tenant={COLLECTOR_TENANT}",
        OTEL_SERVICE_NAME=SERVICE_NAME,
    )


@pytest.fixture
def tracing(stack: TracingStack) -> Iterator[TracingStack]:
    """The module's stack with the fake's scripted replies reset before and after the test."""
    reset_fake(stack.fake)
    yield stack
    reset_fake(stack.fake)


def note_arguments() -> dict[str, str]:
    tag = uuid.uuid4().hex[:10]
    return {"title": f"Trip {tag}", "body": f"Pack the tent and the map ({tag})."}


@pytest.fixture(scope="module")
def openai_run(stack: TracingStack) -> AgentRun:
    """One run of the openai SDK agent, with cached and reasoning tokens in the model's usage."""
    reset_fake(stack.fake)
    stack.fake.tool_arguments = note_arguments()
    stack.fake.cached_tokens = 5
    stack.fake.reasoning_tokens = 3
    try:
        return run_openai_agent(stack, "Remember my trip: add a note about it.")
    finally:
        reset_fake(stack.fake)


def wait_quiet(receiver: TraceReceiver, quiet: float = 1.5, timeout: float = 15.0) -> None:
    """Waits until `receiver` got no request for `quiet` seconds (what was pending has been exported)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        requests = receiver.requests
        last = requests[-1].received_at if requests else 0.0
        if time.monotonic() - last >= quiet:
            return
        time.sleep(0.1)
    pytest.fail(f"the gateway kept exporting for {timeout}s")


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


# --- One agent run, one trace ---------------------------------------------------------------------


def test_an_openai_sdk_agent_run_is_one_trace_at_the_collector(
    stack: TracingStack, openai_run: AgentRun, collector_token: str
) -> None:
    trace = wait_trace(stack.otlp, openai_run, "OTLP collector")
    spans = check_agent_trace(trace, openai_run)

    # Usage as the model reported it, cached and reasoning tokens included (checked against the fake's
    # own numbers above; here, that the fake really reported some, so the check was not vacuous).
    for chat, record in zip(spans["chats"], openai_run.upstream):
        assert record.usage["prompt_tokens_details"]["cached_tokens"] == 5
        assert record.usage["completion_tokens_details"]["reasoning_tokens"] == 3
        assert chat["attributes"]["gen_ai.response.model"] == RESPONSE_MODEL
    # The tool call the spans describe is the one the model asked for and the agent made.
    assert spans["tool"]["attributes"]["gen_ai.tool.call.id"] == (
        openai_run.upstream[0].reply["choices"][0]["message"]["tool_calls"][0]["id"]
    )
    assert json.loads(openai_run.upstream[0].reply["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]) == (
        openai_run.arguments
    )

    # Resource: the service name from OTEL_SERVICE_NAME, on every span of the trace.
    for span in trace:
        assert span["resource"].get("service.name") == SERVICE_NAME, describe([span])

    # The exports: protobuf POSTs to {endpoint}/v1/traces with OTEL_EXPORTER_OTLP_HEADERS, and never
    # Langfuse's credentials.
    exports = stack.otlp.exports()
    assert exports and all(request.status == 200 for request in exports), [r.status for r in exports]
    langfuse_secret = stack.langfuse.secret_key
    for request in stack.otlp.requests:
        assert (request.method, request.path) == ("POST", OTLP_PATH), (request.method, request.path)
        assert (request.header("content-type") or "").startswith(PROTOBUF), request.headers
        assert request.header("x-collector-token") == collector_token, request.headers
        assert request.header("x-tenant") == COLLECTOR_TENANT, request.headers
        assert request.header("authorization") is None, request.headers
        assert langfuse_secret not in json.dumps(request.headers), request.headers
        assert langfuse_secret.encode() not in request.body


def test_the_same_run_reaches_langfuse_with_its_trace_attributes(
    stack: TracingStack, openai_run: AgentRun, collector_token: str
) -> None:
    otlp_trace = wait_trace(stack.otlp, openai_run, "OTLP collector")
    trace = wait_trace(stack.langfuse, openai_run, "Langfuse")
    spans = check_agent_trace(trace, openai_run)
    # The very same spans go to both.
    assert {span["span_id"] for span in trace} == {span["span_id"] for span in otlp_trace}, describe(trace)

    # The exports: Basic auth with the keys, ingestion version 4, protobuf; never the collector's headers.
    langfuse = stack.langfuse
    assert langfuse.requests, "Langfuse received nothing"
    for request in langfuse.requests:
        assert (request.method, request.path) == ("POST", LANGFUSE_PATH), (request.method, request.path)
        assert request.status == 200, f"Langfuse answered {request.status}: headers {request.headers}"
        assert request.header("authorization") == langfuse.expected_authorization, request.headers
        assert request.header("x-langfuse-ingestion-version") == "4", request.headers
        assert (request.header("content-type") or "").startswith(PROTOBUF), request.headers
        assert request.header("x-collector-token") is None and collector_token.encode() not in request.body
    # The receiver does refuse an export without them (so the 200s above mean the gateway sent them).
    refused = httpx.post(f"{langfuse.url}{LANGFUSE_PATH}", content=langfuse.requests[0].body,
                         headers={"Content-Type": PROTOBUF}, trust_env=False)
    assert refused.status_code == 401, refused.text
    wrong = httpx.post(f"{langfuse.url}{LANGFUSE_PATH}", content=langfuse.requests[0].body, trust_env=False,
                       headers={"Content-Type": PROTOBUF, "Authorization": "Basic " + "d3Jvbmc6a2V5"})
    assert wrong.status_code == 401, wrong.text

    # Trace-level attributes on every span: one trace name, one session, the agent as the user.
    names = {span["attributes"].get("langfuse.trace.name") for span in trace}
    sessions = {span["attributes"].get("session.id") for span in trace}
    assert len(names) == 1 and all(isinstance(n, str) and n for n in names), f"langfuse.trace.name: {names}"
    assert len(sessions) == 1 and all(isinstance(s, str) and s for s in sessions), f"session.id: {sessions}"
    assert {span["attributes"].get("user.id") for span in trace} == {AGENT}, describe(trace)

    # Observation types: the run an agent, the model calls generations (with their usage), the tool call a tool.
    assert spans["root"]["attributes"].get("langfuse.observation.type") == "agent", describe([spans["root"]])
    for chat, record in zip(spans["chats"], openai_run.upstream):
        attributes = chat["attributes"]
        assert attributes.get("langfuse.observation.type") == "generation", describe([chat])
        assert attributes.get("gen_ai.usage.input_tokens") == record.usage["prompt_tokens"], describe([chat])
        assert attributes.get("gen_ai.usage.output_tokens") == record.usage["completion_tokens"], describe([chat])
    assert spans["tool"]["attributes"].get("langfuse.observation.type") == "tool", describe([spans["tool"]])


def test_an_anthropic_sdk_agent_run_translated_to_openai_is_one_trace(tracing: TracingStack) -> None:
    tracing.fake.tool_arguments = note_arguments()
    run = run_anthropic_agent(tracing, "Remember my trip: add a note about it.")

    # The tool_use id the client got is the tool call id the provider gave (translation keeps it).
    sent = run.upstream[0].reply["choices"][0]["message"]["tool_calls"][0]
    assert run.tool_call_id == sent["id"], (run.tool_call_id, sent)
    assert run.arguments == tracing.fake.tool_arguments

    trace = wait_trace(tracing.otlp, run, "OTLP collector")
    # Finish reasons are the provider's; the client saw them translated (tool_use, end_turn).
    spans = check_agent_trace(trace, run, finish_reasons=None)
    assert spans["tool"]["attributes"]["gen_ai.tool.call.id"] == run.tool_call_id


def test_a_streaming_agent_with_an_mcp_session_is_one_trace_with_the_streams_usage(tracing: TracingStack) -> None:
    tracing.fake.tool_arguments = note_arguments()
    tracing.fake.cached_tokens = 4
    tracing.fake.reasoning_tokens = 2
    run = run_openai_agent(tracing, "Remember my trip: add a note about it.", stream=True, mcp_mode="legacy")

    assert run.mcp_session_id, "the session-era MCP client sent no Mcp-Session-Id"
    # The usage came in the upstream stream (the gateway asks for it), not in a JSON body.
    for record in run.upstream:
        assert record.streamed and record.usage_reported, record
    trace = wait_trace(tracing.otlp, run, "OTLP collector")
    spans = check_agent_trace(trace, run)  # usage equal to the stream's, finish reasons tool_calls then stop
    assert spans["tool"]["attributes"]["mcp.session.id"] == run.mcp_session_id


# --- Redaction ------------------------------------------------------------------------------------


def cell_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return "" if value is None else str(value)


def test_content_is_captured_after_redaction_and_no_address_reaches_a_receiver_or_the_store(
    tracing: TracingStack,
) -> None:
    tag = uuid.uuid4().hex[:12]
    prompt_address = f"agent-{tag}@example.com"  # in the agent's prompt
    note_address = f"note-{tag}@example.net"  # in a tool result
    reply_address = f"reply-{tag}@example.org"  # in the model's answer
    title = f"contact-{tag}"
    tracing.fake.tool_arguments = {"query": title}
    tracing.fake.tool_result_text = f"Found it. Your contact is {reply_address}, as noted."

    async def add_contact_note(mcp: Any) -> None:
        # The agent stores the note the search will find. Its arguments carry note_address as the
        # agent wrote them: no guard of the sample's policies masks e-mail addresses in tool
        # arguments, so this call's captured arguments are the one place that address may appear.
        result = await mcp.call_tool(TOOL, {"title": title, "body": f"Write to {note_address} for access."})
        result_text(result)

    run = run_openai_agent(
        tracing,
        f"Find my note {title} and send what it says to {prompt_address}.",
        tool="notes__search_notes",
        before=add_contact_note,
    )

    # What the agent and the provider saw: the guards did mask (else the test below proves nothing).
    assert note_address not in run.tool_result and MASK in run.tool_result, run.tool_result
    assert reply_address not in run.final_text and MASK in run.final_text, run.final_text
    first, second = run.upstream
    assert prompt_address.encode() not in first.body and MASK in json.dumps(first.json["messages"]), first.json
    assert prompt_address.encode() not in second.body and note_address.encode() not in second.body, second.json

    otlp_trace = wait_trace(tracing.otlp, run, "OTLP collector")
    langfuse_trace = wait_trace(tracing.langfuse, run, "Langfuse")
    wait_quiet(tracing.otlp)
    wait_quiet(tracing.langfuse)

    # The add_note call that carries note_address in its arguments: its spans, and nothing else, may hold it.
    all_spans = tracing.otlp.spans()
    setup = [
        span
        for span in all_spans
        if span["kind"] == KIND_SERVER
        and span["name"] == f"tools/call {TOOL}"
        and note_address in json.dumps(span["attributes"])
    ]
    assert len(setup) <= 1, describe(setup)
    allowed = {span["span_id"] for span in setup}
    allowed |= {span["span_id"] for span in all_spans if span["parent_span_id"] in allowed}

    def allowed_count(spans: list[dict[str, Any]]) -> int:
        """How often note_address occurs where it may: the add_note call's spans, never as a result or output."""
        count = 0
        for span in spans:
            for key, value in span["attributes"].items():
                occurrences = as_text(value).count(note_address)
                if occurrences and (span["span_id"] not in allowed or "result" in key or "output" in key):
                    pytest.fail(f"{note_address} in {key} of:\n{describe([span])}")
                count += occurrences
        return count

    for receiver in (tracing.otlp, tracing.langfuse):
        for request in receiver.requests:
            body = request.body
            assert prompt_address.encode() not in body, f"{receiver.mode}: the prompt's address was exported"
            assert reply_address.encode() not in body, f"{receiver.mode}: the completion's address was exported"
            if note_address.encode() in body:
                assert request.spans is not None, f"{receiver.mode}: undecodable body holds {note_address}"
                assert body.count(note_address.encode()) == allowed_count(request.spans), (
                    f"{receiver.mode}: {note_address} outside the add_note call's arguments"
                )

    # Content was captured, masked: the prompt in both chats, the answer, the tool result.
    for trace in (otlp_trace, langfuse_trace):
        chats = sorted((span for span in trace if span["name"] == CHAT_NAME), key=lambda span: span["start"])
        assert len(chats) == 2, describe(trace)
        for chat in chats:
            captured = chat["attributes"].get("gen_ai.input.messages")
            assert captured is not None and MASK in as_text(captured), f"prompt not captured masked:\n{describe([chat])}"
        output = chats[1]["attributes"].get("gen_ai.output.messages")
        assert output is not None and MASK in as_text(output), f"answer not captured masked:\n{describe([chats[1]])}"
        search = [span for span in trace if span["attributes"].get("gen_ai.tool.call.id") == run.tool_call_id]
        results = [
            as_text(span["attributes"]["gen_ai.tool.call.result"])
            for span in trace
            if "gen_ai.tool.call.result" in span["attributes"]
            and (span in search or any(span["parent_span_id"] == each["span_id"] for each in search))
        ]
        assert results and all(MASK in text for text in results), f"tool result not captured masked:\n{describe(search)}"

    # The local store: wait until it holds the run's root, then read every table and the raw files.
    root_id = next(span["span_id"] for span in otlp_trace if not span["parent_span_id"])
    store = tracing.store_path
    content = wait_stored(tracing, root_id)
    # Spans are read one by one (a batch row holds several); every other table's rows as they are.
    rows_by_place = [("span", span) for span in stored_spans(content)] + [
        (table, row) for table, rows in content.items() if table not in ("trace_spans", "trace_span_batches") for row in rows
    ]
    for place, row in rows_by_place:
        text = " ".join(cell_text(value) for value in row.values())
        assert prompt_address not in text and reply_address not in text, f"address in store ({place}): {row}"
        if note_address in text:
            assert place == "span" and row.get("span_id") in allowed, (
                f"{note_address} in the store ({place}) outside the add_note call's spans: {row}"
            )
    run_spans = [span for span in stored_spans(content) if span.get("trace_id") == otlp_trace[0]["trace_id"]]
    assert MASK in " ".join(cell_text(span.get("detail")) for span in run_spans), "no masked content in the store"
    for suffix in ("", "-wal", "-shm"):
        path = store.with_name(store.name + suffix)
        if path.exists():
            raw = path.read_bytes()
            assert prompt_address.encode() not in raw and reply_address.encode() not in raw, f"address in {path}"


# --- Export failures ------------------------------------------------------------------------------


def test_a_503_with_retry_after_is_retried_after_it_and_every_span_arrives_once(tracing: TracingStack) -> None:
    wait_quiet(tracing.otlp)
    tracing.fake.tool_arguments = note_arguments()
    tracing.otlp.fail_next(1, 503, retry_after="1")
    run = run_openai_agent(tracing, "Remember my trip: add a note about it.")

    expected = {span["span_id"] for span in wait_trace(tracing.langfuse, run, "Langfuse")}
    trace = wait_trace(tracing.otlp, run, "OTLP collector")
    tracing.otlp.wait_for_spans(lambda spans: expected <= {span["span_id"] for span in spans}, EXPORT_TIMEOUT)
    wait_quiet(tracing.otlp)
    check_agent_trace(tracing.otlp.trace(trace[0]["trace_id"]), run)

    exports = tracing.otlp.exports()
    refused = [request for request in exports if request.status == 503]
    assert len(refused) == 1, [request.status for request in exports]
    [refused_request] = refused
    assert refused_request.spans, "the refused export carried no span"
    assert set(refused_request.span_ids) <= expected, describe(refused_request.spans)

    # Exactly once among the accepted exports, the refused batch included.
    counts = collections.Counter(
        span_id for request in tracing.otlp.accepted() for span_id in request.span_ids if span_id in expected
    )
    assert set(counts) == expected and set(counts.values()) == {1}, counts
    # The retry came after the collector's Retry-After: 1.
    retried = [
        request
        for request in exports
        if request.accepted and set(refused_request.span_ids) & set(request.span_ids)
    ]
    assert retried, "the refused spans never came back"
    delay = retried[0].received_at - refused_request.received_at
    assert delay >= 0.9, f"retried {delay:.3f}s after the 503 with Retry-After: 1"
    assert set(refused_request.span_ids) <= {span_id for request in retried for span_id in request.span_ids}


def test_a_400_is_not_retried(tracing: TracingStack) -> None:
    wait_quiet(tracing.otlp)
    tracing.fake.tool_arguments = note_arguments()
    tracing.otlp.fail_next(1, 400, body=b'{"code":3,"message":"bad"}', content_type="application/json")
    run = run_openai_agent(tracing, "Remember my trip: add a note about it.")

    expected = {span["span_id"] for span in wait_trace(tracing.langfuse, run, "Langfuse")}
    rejected = tracing.otlp.wait_for(
        lambda receiver: [request for request in receiver.exports() if request.status == 400], EXPORT_TIMEOUT
    )
    assert rejected and len(rejected) == 1, [request.status for request in tracing.otlp.exports()]
    [rejected_request] = rejected
    rejected_ids = set(rejected_request.span_ids)
    assert rejected_ids and rejected_ids <= expected, describe(rejected_request.spans or [])

    # The rest of the run is exported as usual; the rejected batch never again, whatever the answer.
    rest = expected - rejected_ids
    arrived = tracing.otlp.wait_for_spans(lambda spans: rest <= {span["span_id"] for span in spans}, EXPORT_TIMEOUT)
    assert arrived, f"spans after the rejected batch did not arrive: missing {rest}"
    time.sleep(3.0)  # past the exporter's first backoff (0.5 s) several times over
    wait_quiet(tracing.otlp)
    later = [request for request in tracing.otlp.requests if request is not rejected_request]
    resent = [request.status for request in later if rejected_ids & set(request.span_ids)]
    assert resent == [], f"a batch answered 400 was sent again (answered {resent})"


# --- A dead collector -----------------------------------------------------------------------------


def chat_latencies(stacks: Sequence[TracingStack], rounds: int) -> list[list[float]]:
    """`rounds` rounds of one plain chat call through each gateway in turn, so that whatever else loads the
    machine weighs on each alike: each gateway's latencies. Every call must answer 200."""
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Say hello"}]}
    with contextlib.ExitStack() as exits:
        clients = [
            exits.enter_context(
                httpx.Client(base_url=stack.gateway.url, headers=stack.agent_headers, timeout=30.0, trust_env=False)
            )
            for stack in stacks
        ]
        latencies: list[list[float]] = [[] for _ in stacks]
        for _ in range(rounds):
            for client, into in zip(clients, latencies):
                started = time.perf_counter()
                response = client.post("/v1/chat/completions", json=body)
                into.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
    return latencies


def test_a_dead_collector_costs_the_agent_nothing_and_drops_are_counted(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with contextlib.ExitStack() as exits:
        fake = FakeOpenAI(name="openai", api_key=fresh_secret("sk-provider-openai-")).start()
        exits.callback(fake.close)
        # The same gateway without exporters, for reference, and one whose collector is a closed port.
        plain = start_tracing_stack(tmp_path_factory.mktemp("no-exporters"), fake, wait_mcp=False)
        exits.callback(stop_gateway, plain.gateway)
        dead = start_tracing_stack(
            tmp_path_factory.mktemp("dead-collector"),
            fake,
            otlp_endpoint=f"http://127.0.0.1:{closed_port()}",
            wait_mcp=False,
        )
        exits.callback(stop_gateway, dead.gateway)

        pid = dead.gateway.proc.pid
        chat_latencies([plain, dead], 20)
        rss_before = process_rss_kib(pid)
        without, with_dead = (statistics.median(each) for each in chat_latencies([plain, dead], 300))
        assert with_dead < 2 * without + 0.020, (
            f"median latency {with_dead * 1000:.1f} ms with a dead collector, {without * 1000:.1f} ms without"
        )

        def dropped() -> float | None:
            value = metric_value(dead.metrics(), "gatehouse_trace_spans_dropped_total", exporter="otlp")
            return value if value else None

        # The exporter gives a batch up after 5 attempts 0.5, 1, 2 and 4 s apart.
        deadline = time.monotonic() + 30.0
        count = dropped()
        while count is None and time.monotonic() < deadline:
            time.sleep(0.5)
            count = dropped()
        metrics = dead.metrics()
        assert count, "no dropped spans counted within 30s:\n" + "\n".join(
            line for line in metrics.splitlines() if "trace" in line
        )
        queued = metric_value(metrics, "gatehouse_trace_export_queue_spans", exporter="otlp")
        assert queued is not None and 0 <= queued <= QUEUE_CAPACITY, f"export queue gauge: {queued}"
        growth = process_rss_kib(pid) - rss_before
        assert growth < 64 * 1024, f"RSS grew by {growth} KiB over 300 calls with a dead collector"
        assert dead.gateway.running
