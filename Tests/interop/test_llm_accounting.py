"""Token and cost accounting (GET /admin/usage, /metrics), request ids, and where credentials may go: the agent's
key never reaches a provider nor the log, and each provider gets its own key."""

from __future__ import annotations

import pathlib
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from conftest import LLMStack
from fakes import FakeProvider
from llm_support import ANTHROPIC_TOOLS, OPENAI_TOOLS, billed, cost_usd, metric_value

pytestmark = pytest.mark.llm

USER = [{"role": "user", "content": "Say hello to the gateway"}]
SETTLE_TIMEOUT = 5.0

# Client-facing model -> the upstream model whose price applies (samples/llm-gateway.yaml).
UPSTREAM_MODEL = {"gpt-4o-mini": "gpt-4o-mini", "resilient": "gpt-4o-mini", "claude-haiku-4-5": "claude-haiku-4-5"}


class Ledger:
    """What the fakes billed, per client-facing model, for the calls a test made."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, int]] = {}

    def call(self, model: str, fake: FakeProvider, run: Callable[[], Any]) -> None:
        before = len(fake.requests)
        run()
        records = fake.requests[before:]
        assert len(records) == 1, f"{model}: expected one upstream request at {fake.name}, got {len(records)}"
        input_tokens, output_tokens = billed(records[0])
        row = self.rows.setdefault(model, {"requests": 0, "input_tokens": 0, "output_tokens": 0})
        row["requests"] += 1
        row["input_tokens"] += input_tokens
        row["output_tokens"] += output_tokens

    def cost(self, model: str) -> float:
        row = self.rows[model]
        return cost_usd(UPSTREAM_MODEL[model], row["input_tokens"], row["output_tokens"])


def usage_rows(llm: LLMStack) -> dict[tuple[str, str], dict[str, Any]]:
    response = llm.admin_get("/admin/usage")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    rows = response.json()["usage"]
    assert isinstance(rows, list), response.text
    keyed = {}
    for row in rows:
        assert set(row) >= {"agent", "model", "requests", "input_tokens", "output_tokens", "cost_usd"}, row
        keyed[(row["agent"], row["model"])] = row
    return keyed


def settled_usage(llm: LLMStack, ledger: Ledger) -> dict[tuple[str, str], dict[str, Any]]:
    """/admin/usage once it counts the calls of `ledger` (streams are counted when they end), or after the timeout."""
    wanted = {("demo", model): row for model, row in ledger.rows.items()}
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        rows = usage_rows(llm)
        counted = {key: {name: row[name] for name in ("requests", "input_tokens", "output_tokens")}
                   for key, row in rows.items() if row["requests"]}
        if counted == wanted or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def stream_all(stream: Any) -> None:
    for _ in stream:
        pass


def test_admin_usage_totals_match_the_providers(llm: LLMStack) -> None:
    openai_client = llm.openai_client()
    anthropic_client = llm.anthropic_client()
    ledger = Ledger()

    def anthropic_stream(model: str) -> None:
        with anthropic_client.messages.stream(model=model, max_tokens=64, messages=USER) as stream:
            stream.get_final_message()

    def responses_stream() -> None:
        with openai_client.responses.stream(model="gpt-4o-mini", input="Say hello") as stream:
            stream.get_final_response()

    chat = openai_client.chat.completions.create
    ledger.call("gpt-4o-mini", llm.primary, lambda: chat(model="gpt-4o-mini", messages=USER))
    ledger.call("gpt-4o-mini", llm.primary, lambda: chat(model="gpt-4o-mini", messages=USER, tools=OPENAI_TOOLS))
    ledger.call("gpt-4o-mini", llm.primary, lambda: stream_all(
        chat(model="gpt-4o-mini", messages=USER, stream=True, stream_options={"include_usage": True})))
    ledger.call("gpt-4o-mini", llm.primary, lambda: stream_all(chat(model="gpt-4o-mini", messages=USER, stream=True)))
    ledger.call("gpt-4o-mini", llm.primary, lambda: openai_client.responses.create(model="gpt-4o-mini", input="Hi"))
    ledger.call("gpt-4o-mini", llm.primary, responses_stream)
    ledger.call("gpt-4o-mini", llm.primary, lambda: anthropic_client.messages.create(
        model="gpt-4o-mini", max_tokens=64, messages=USER))
    ledger.call("gpt-4o-mini", llm.primary, lambda: anthropic_stream("gpt-4o-mini"))
    ledger.call("claude-haiku-4-5", llm.anthropic, lambda: anthropic_client.messages.create(
        model="claude-haiku-4-5", max_tokens=64, messages=USER))
    ledger.call("claude-haiku-4-5", llm.anthropic, lambda: anthropic_client.messages.create(
        model="claude-haiku-4-5", max_tokens=64, messages=USER, tools=ANTHROPIC_TOOLS))
    ledger.call("claude-haiku-4-5", llm.anthropic, lambda: anthropic_stream("claude-haiku-4-5"))
    ledger.call("claude-haiku-4-5", llm.anthropic, lambda: chat(model="claude-haiku-4-5", messages=USER))
    ledger.call("claude-haiku-4-5", llm.anthropic, lambda: stream_all(
        chat(model="claude-haiku-4-5", messages=USER, stream=True)))
    ledger.call("resilient", llm.secondary, lambda: chat(model="resilient", messages=USER))
    ledger.call("resilient", llm.secondary, lambda: stream_all(chat(model="resilient", messages=USER, stream=True)))

    rows = settled_usage(llm, ledger)

    assert {key for key, row in rows.items() if row["requests"]} == {("demo", model) for model in ledger.rows}
    for model, expected in ledger.rows.items():
        row = rows[("demo", model)]
        assert (row["requests"], row["input_tokens"], row["output_tokens"]) == (
            expected["requests"], expected["input_tokens"], expected["output_tokens"]
        ), f"{model}: {row} != {expected}"
        assert row["cost_usd"] == pytest.approx(ledger.cost(model), rel=1e-9), model


def test_admin_usage_totals_survive_a_restart(start_llm_gateway: Callable[..., LLMStack]) -> None:
    first = start_llm_gateway()
    ledger = Ledger()
    client = first.openai_client()
    for _ in range(2):
        ledger.call("gpt-4o-mini", first.primary, lambda: client.chat.completions.create(model="gpt-4o-mini", messages=USER))
    before = settled_usage(first, ledger)[("demo", "gpt-4o-mini")]
    assert first.gateway.stop() == 0

    # The same working directory, so the same store: the totals are read back at startup.
    second = start_llm_gateway()
    after = usage_rows(second)[("demo", "gpt-4o-mini")]
    assert after == before
    assert after["requests"] == 2
    assert after["cost_usd"] == pytest.approx(ledger.cost("gpt-4o-mini"), rel=1e-9)


def test_admin_usage_counts_anthropic_cache_tokens_as_input(llm: LLMStack) -> None:
    ledger = Ledger()
    ledger.call("claude-haiku-4-5", llm.anthropic, lambda: llm.anthropic_client().messages.create(
        model="claude-haiku-4-5", max_tokens=64, messages=USER))
    usage = llm.anthropic.last().usage
    total_input = usage["input_tokens"] + usage["cache_creation_input_tokens"] + usage["cache_read_input_tokens"]

    row = settled_usage(llm, ledger)[("demo", "claude-haiku-4-5")]

    assert row["input_tokens"] == total_input
    assert row["output_tokens"] == usage["output_tokens"]
    assert row["cost_usd"] == pytest.approx(total_input * 1 / 1e6 + usage["output_tokens"] * 5 / 1e6, rel=1e-9)


def test_admin_usage_counts_embeddings(llm: LLMStack) -> None:
    ledger = Ledger()
    ledger.call("text-embedding-3-small", llm.primary, lambda: llm.openai_client().embeddings.create(
        model="text-embedding-3-small", input=["one two three", "four five"]))

    row = settled_usage(llm, ledger)[("demo", "text-embedding-3-small")]

    # The sample sets no price for this model, so its cost is the gateway's own business: not checked.
    assert (row["requests"], row["input_tokens"], row["output_tokens"]) == (1, 5, 0)


def test_admin_usage_needs_the_admin_token(llm: LLMStack) -> None:
    assert llm.gateway.get("/admin/usage").status_code == 401
    assert llm.gateway.get("/admin/usage", headers={"Authorization": f"Bearer {llm.agent_key}"}).status_code == 401


def test_metrics_count_tokens_and_cost_by_agent_and_model(llm: LLMStack) -> None:
    openai_client = llm.openai_client()
    ledger = Ledger()
    ledger.call("gpt-4o-mini", llm.primary, lambda: openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=USER))
    ledger.call("gpt-4o-mini", llm.primary, lambda: stream_all(openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=USER, stream=True)))
    ledger.call("claude-haiku-4-5", llm.anthropic, lambda: llm.anthropic_client().messages.create(
        model="claude-haiku-4-5", max_tokens=64, messages=USER))
    settled_usage(llm, ledger)

    text = llm.gateway.get("/metrics").text

    for model, row in ledger.rows.items():
        labels = {"agent": "demo", "model": model}
        assert metric_value(text, "gatehouse_llm_tokens_total", **labels, type="input") == row["input_tokens"], text
        assert metric_value(text, "gatehouse_llm_tokens_total", **labels, type="output") == row["output_tokens"], text
        cost = metric_value(text, "gatehouse_llm_cost_usd_total", **labels)
        assert cost is not None, f"no gatehouse_llm_cost_usd_total{labels} in:\n{text}"
        assert cost == pytest.approx(ledger.cost(model), rel=1e-9)


def test_every_llm_response_carries_a_request_id(llm: LLMStack) -> None:
    bearer = {"Authorization": f"Bearer {llm.agent_key}"}
    anthropic_headers = {"x-api-key": llm.agent_key, "anthropic-version": "2023-06-01"}
    message = {"max_tokens": 32, "messages": USER}
    llm.primary.answer_400("refused by the fake", times=1)
    wrong_key = {"Authorization": "Bearer wrong-key"}
    calls = [
        ("POST", "/v1/chat/completions", bearer, {"model": "gpt-4o-mini", "messages": USER}),  # the provider's 400
        ("POST", "/v1/chat/completions", bearer, {"model": "gpt-4o-mini", "messages": USER}),
        ("POST", "/v1/chat/completions", bearer, {"model": "gpt-4o-mini", "messages": USER, "stream": True}),
        ("POST", "/v1/chat/completions", bearer, {"model": "claude-haiku-4-5", "messages": USER}),
        ("POST", "/v1/chat/completions", bearer, {"model": "no-such-model", "messages": USER}),
        ("POST", "/v1/chat/completions", wrong_key, {"model": "gpt-4o-mini", "messages": USER}),
        ("POST", "/v1/responses", bearer, {"model": "gpt-4o-mini", "input": "Hi"}),
        ("POST", "/v1/responses", bearer, {"model": "gpt-4o-mini", "input": "Hi", "stream": True}),
        ("POST", "/v1/embeddings", bearer, {"model": "text-embedding-3-small", "input": "Hi"}),
        ("GET", "/v1/models", bearer, None),
        ("POST", "/v1/messages", anthropic_headers, {"model": "claude-haiku-4-5", **message}),
        ("POST", "/v1/messages", anthropic_headers, {"model": "claude-haiku-4-5", "stream": True, **message}),
        ("POST", "/v1/messages", anthropic_headers, {"model": "gpt-4o-mini", **message}),
    ]
    seen = []
    with httpx.Client(base_url=llm.gateway.url, timeout=20.0, trust_env=False) as client:
        for method, path, headers, body in calls:
            response = client.request(method, path, headers=headers, json=body)
            request_id = response.headers.get("x-request-id")
            assert request_id, f"{method} {path} ({response.status_code}) has no x-request-id"
            seen.append(request_id)
    assert len(set(seen)) == len(seen), seen


def test_agent_key_never_reaches_a_provider_or_the_log(llm: LLMStack) -> None:
    openai_client = llm.openai_client()
    anthropic_client = llm.anthropic_client()
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    stream_all(openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True))
    openai_client.chat.completions.create(model="claude-haiku-4-5", messages=USER)
    openai_client.chat.completions.create(model="resilient", messages=USER)
    openai_client.responses.create(model="gpt-4o-mini", input="Hi")
    openai_client.embeddings.create(model="text-embedding-3-small", input="Hi")
    list(openai_client.models.list())
    anthropic_client.messages.create(model="claude-haiku-4-5", max_tokens=32, messages=USER)
    with anthropic_client.messages.stream(model="claude-haiku-4-5", max_tokens=32, messages=USER) as stream:
        stream.get_final_message()
    anthropic_client.messages.create(model="gpt-4o-mini", max_tokens=32, messages=USER)
    response = httpx.post(
        f"{llm.gateway.url}/v1/messages",
        headers={"x-api-key": llm.agent_key, "anthropic-version": "2023-06-01"},
        json={"model": "claude-haiku-4-5", "max_tokens": 32, "messages": USER},
        timeout=20.0,
        trust_env=False,
    )
    assert response.status_code == 200, response.text

    for fake in llm.fakes.all:
        for record in fake.requests:
            where = f"{fake.name} {record.method} {record.path}"
            for name, value in record.headers.items():
                assert llm.agent_key not in value, f"the agent key reached {where} in header {name}"
            assert llm.agent_key.encode() not in record.body, f"the agent key reached {where} in the body"
    for record in llm.primary.requests + llm.secondary.requests:
        assert record.header("authorization") == f"Bearer {llm.fakes.openai_key}"
        assert record.header("x-api-key") is None
    for record in llm.anthropic.requests:
        assert record.header("x-api-key") == llm.fakes.anthropic_key
        assert record.header("authorization") is None
    assert len(llm.anthropic.requests) == 4
    assert llm.agent_key not in llm.gateway.log_text


def test_provider_keys_never_reach_the_log_or_the_client(llm: LLMStack) -> None:
    import openai

    llm.primary.answer_status(401, "Incorrect API key provided.", times=1)
    with pytest.raises(openai.APIStatusError) as raised:
        llm.openai_client().chat.completions.create(model="gpt-4o-mini", messages=USER)
    llm.anthropic_client().messages.create(model="claude-haiku-4-5", max_tokens=32, messages=USER)

    assert llm.fakes.openai_key not in raised.value.response.text
    assert llm.fakes.openai_key not in llm.gateway.log_text
    assert llm.fakes.anthropic_key not in llm.gateway.log_text


def test_a_failed_call_leaves_a_usage_row_with_its_status(llm: LLMStack) -> None:
    import sqlite3

    import openai

    llm.primary.answer_400("The messages are not acceptable.")
    with pytest.raises(openai.BadRequestError):
        llm.openai_client().chat.completions.create(model="gpt-4o-mini", messages=USER)
    with pytest.raises(openai.NotFoundError):
        llm.openai_client().chat.completions.create(model="no-such-model", messages=USER)
    llm.primary.heal()
    llm.openai_client().chat.completions.create(model="gpt-4o-mini", messages=USER)
    deadline = time.monotonic() + SETTLE_TIMEOUT
    rows: list[tuple[Any, ...]] = []
    while time.monotonic() < deadline:
        connection = sqlite3.connect(str(store_path(llm)))
        rows = connection.execute(
            "SELECT model, provider, status, input_tokens, output_tokens, cost_picousd FROM llm_usage ORDER BY id"
        ).fetchall()
        connection.close()
        if len(rows) >= 2:
            break
        time.sleep(0.05)
    assert rows[0] == ("gpt-4o-mini", "openai", 400, 0, 0, 0), rows
    assert rows[1][:3] == ("gpt-4o-mini", "openai", 200) and rows[1][3] > 0, rows
    # A model that does not exist never reached a provider: there is nothing to book.
    assert all(row[0] != "no-such-model" for row in rows)


def store_path(llm: LLMStack) -> pathlib.Path:
    return pathlib.Path(llm.gateway.cwd) / ".gatehouse" / "gatehouse.db"
