"""Failover on `resilient`, errors that must not be retried, weighted balancing, and what happens to upstream
streams when the client leaves or the provider fails mid-stream."""

from __future__ import annotations

import time

import pytest

from conftest import LLMStack, StartLLMGateway, closed_port
from llm_support import sse_data

pytestmark = pytest.mark.llm

USER = [{"role": "user", "content": "Say hello to the gateway"}]
PROVIDER_400 = "Invalid value for 'messages[0].content': this fake refuses it."


@pytest.mark.parametrize(
    "failure",
    ["503", "503 with Retry-After", "429", "500"],
)
def test_resilient_falls_back_to_the_primary_on_retryable_status(llm: LLMStack, failure: str) -> None:
    if failure == "503":
        llm.secondary.answer_503()
    elif failure == "503 with Retry-After":
        llm.secondary.answer_503(retry_after="1")
    elif failure == "429":
        llm.secondary.answer_429(retry_after="1")
    else:
        llm.secondary.answer_status(500, "The server had an error while processing your request.")

    completion = llm.openai_client().chat.completions.create(model="resilient", messages=USER)

    assert completion.choices[0].message.content == "Hello from openai."
    assert len(llm.secondary.requests) == 1
    assert len(llm.primary.requests) == 1
    assert llm.primary.last().json["model"] == "gpt-4o-mini"
    assert llm.secondary.last().json["model"] == "gpt-4o-mini"


def test_resilient_uses_the_secondary_first(llm: LLMStack) -> None:
    completion = llm.openai_client().chat.completions.create(model="resilient", messages=USER)

    assert completion.choices[0].message.content == "Hello from openai-secondary."
    assert len(llm.secondary.requests) == 1
    assert llm.primary.requests == []


def test_resilient_falls_back_when_the_secondary_hangs(llm: LLMStack) -> None:
    llm.secondary.hang()
    started = time.monotonic()

    completion = llm.openai_client().chat.completions.create(model="resilient", messages=USER)

    elapsed = time.monotonic() - started
    assert completion.choices[0].message.content == "Hello from openai."
    assert 2.5 <= elapsed < 6.0, f"took {elapsed:.2f}s; first_byte_timeout is 3s"
    [hung] = llm.secondary.requests
    # The gateway gave up on the hung attempt: its connection was closed, not left open.
    assert llm.secondary.wait_for_disconnect(hung, timeout=2.0) is not None


def test_resilient_falls_back_when_the_secondary_refuses_connections(start_llm_gateway: StartLLMGateway) -> None:
    llm = start_llm_gateway(OPENAI_SECONDARY_BASE_URL=f"http://127.0.0.1:{closed_port()}/v1")
    started = time.monotonic()

    completion = llm.openai_client().chat.completions.create(model="resilient", messages=USER)

    elapsed = time.monotonic() - started
    assert completion.choices[0].message.content == "Hello from openai."
    assert len(llm.primary.requests) == 1
    # A refused connection is known at once: failing over must not wait for the 3 s first_byte_timeout.
    assert elapsed < 2.0, f"took {elapsed:.2f}s"


def test_resilient_stream_falls_back_before_the_first_byte(llm: LLMStack) -> None:
    llm.secondary.answer_503()

    chunks = list(llm.openai_client().chat.completions.create(model="resilient", messages=USER, stream=True))

    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello from openai."
    assert len(llm.secondary.requests) == 1
    assert llm.primary.last().json["stream"] is True


def test_provider_400_reaches_the_openai_client_unretried(llm: LLMStack) -> None:
    import openai

    llm.primary.answer_400(PROVIDER_400)

    with pytest.raises(openai.BadRequestError) as raised:
        llm.openai_client().chat.completions.create(model="gpt-4o-mini", messages=USER)

    assert raised.value.status_code == 400
    assert isinstance(raised.value.body, dict)
    assert raised.value.body["message"] == PROVIDER_400
    assert raised.value.body["type"] == "invalid_request_error"
    assert len(llm.primary.requests) == 1
    assert llm.secondary.requests == []


def test_provider_400_reaches_the_anthropic_client_unretried(llm: LLMStack) -> None:
    import anthropic

    llm.primary.answer_400(PROVIDER_400)

    with pytest.raises(anthropic.BadRequestError) as raised:
        llm.anthropic_client().messages.create(model="gpt-4o-mini", max_tokens=32, messages=USER)

    assert raised.value.status_code == 400
    body = raised.value.body
    assert isinstance(body, dict)
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"] == PROVIDER_400
    assert len(llm.primary.requests) == 1


def test_provider_400_on_resilient_does_not_fall_back(llm: LLMStack) -> None:
    import openai

    llm.secondary.answer_400(PROVIDER_400)

    with pytest.raises(openai.BadRequestError) as raised:
        llm.openai_client().chat.completions.create(model="resilient", messages=USER)

    assert raised.value.body["message"] == PROVIDER_400
    assert len(llm.secondary.requests) == 1
    assert llm.primary.requests == []


LONG_REPLY = " ".join(f"word{index}" for index in range(60))


@pytest.mark.parametrize("upstream", ["idle", "streaming"])
def test_openai_stream_cancel_closes_the_upstream(llm: LLMStack, upstream: str) -> None:
    if upstream == "idle":
        llm.primary.stream_then_hang(3)  # role chunk, "Hello ", "from ", then nothing
    else:
        llm.primary.reply_text = f"Hello {LONG_REPLY}"  # 61 pieces, 3 s at 0.05 s apart
        llm.primary.chunk_delay = 0.05
    stream = llm.openai_client().chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)
    chunks = iter(stream)
    assert next(chunks).choices[0].delta.role == "assistant"
    assert next(chunks).choices[0].delta.content == "Hello "

    closed_at = time.monotonic()
    stream.close()

    record = llm.primary.last()
    noticed = llm.primary.wait_for_disconnect(record, timeout=3.0)
    assert noticed is not None, "the gateway kept the upstream stream open after the client left"
    assert noticed - closed_at < 1.0


@pytest.mark.parametrize("upstream", ["idle", "streaming"])
def test_anthropic_stream_cancel_closes_the_upstream(llm: LLMStack, upstream: str) -> None:
    if upstream == "idle":
        llm.anthropic.stream_then_hang(4)  # message_start, ping, content_block_start, the first text delta
    else:
        llm.anthropic.reply_text = f"Hello {LONG_REPLY}"
        llm.anthropic.chunk_delay = 0.05
    client = llm.anthropic_client()
    with client.messages.stream(model="claude-haiku-4-5", max_tokens=64, messages=USER) as stream:
        events = iter(stream)
        assert next(events).type == "message_start"
        kinds = [next(events).type for _ in range(2)]
        assert kinds[-1] in ("content_block_delta", "text")
        closed_at = time.monotonic()

    record = llm.anthropic.last()
    noticed = llm.anthropic.wait_for_disconnect(record, timeout=3.0)
    assert noticed is not None, "the gateway kept the upstream stream open after the client left"
    assert noticed - closed_at < 1.0


def test_error_mid_stream_reaches_the_openai_client(llm: LLMStack) -> None:
    import openai

    llm.primary.error_mid_stream(2)  # role chunk, "Hello ", then an error event
    received: list[str] = []

    with pytest.raises(openai.APIError) as raised:
        for chunk in llm.openai_client().chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True):
            received.append(chunk.choices[0].delta.content or "")

    assert "".join(received) == "Hello "
    assert raised.value.message == "The server had an error while processing your request."
    assert sse_data(llm.primary.last().sent_events)[-1].startswith('{"error"')


def test_balanced_spreads_requests_by_weight(llm: LLMStack) -> None:
    client = llm.openai_client()
    total = 80

    for _ in range(total):
        client.chat.completions.create(model="balanced", messages=USER)

    primary, secondary = len(llm.primary.requests), len(llm.secondary.requests)
    assert primary + secondary == total
    # Weights 3:1 expect 60 and 20. The bounds leave room for a random choice: a fair 3:1 draw falls
    # outside them about once in 7,000 runs; an even split falls outside 5 runs in 6, all-on-one always.
    assert 7 <= secondary <= 35, (primary, secondary)
