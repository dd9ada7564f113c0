"""The official `openai` SDK against the gateway on samples/llm-gateway.yaml, OpenAI provider behind it:
Chat Completions (plain, tools, streaming), Responses, Embeddings and Models."""

from __future__ import annotations

import json
import time

import pytest

from conftest import LLMStack
from llm_support import OPENAI_TOOLS, SAMPLE_MODEL_IDS, TOOL_ARGUMENTS, TOOL_RESULT, sse_data, text_of

pytestmark = pytest.mark.llm

USER = [{"role": "user", "content": "Say hello to the gateway"}]


def assert_usage_equals(usage: object, expected: dict) -> None:
    assert usage is not None
    assert usage.prompt_tokens == expected["prompt_tokens"]
    assert usage.completion_tokens == expected["completion_tokens"]
    assert usage.total_tokens == expected["total_tokens"]


def test_chat_completion(llm: LLMStack) -> None:
    completion = llm.openai_client().chat.completions.create(model="gpt-4o-mini", messages=USER)

    assert completion.choices[0].message.content == "Hello from openai."
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].finish_reason == "stop"
    [record] = llm.primary.requests
    assert (record.method, record.path) == ("POST", "/v1/chat/completions")
    assert record.json["model"] == "gpt-4o-mini"
    assert record.json["messages"] == USER
    assert record.header("authorization") == f"Bearer {llm.fakes.openai_key}"
    assert_usage_equals(completion.usage, record.usage)
    assert completion.id == record.reply["id"]
    assert llm.secondary.requests == [] and llm.anthropic.requests == []


def test_chat_completion_with_tools_round_trip(llm: LLMStack) -> None:
    client = llm.openai_client()
    question = [{"role": "user", "content": "What is the weather in Oslo?"}]

    first = client.chat.completions.create(model="gpt-4o-mini", messages=question, tools=OPENAI_TOOLS)

    message = first.choices[0].message
    assert first.choices[0].finish_reason == "tool_calls"
    assert message.tool_calls is not None and len(message.tool_calls) == 1
    call = message.tool_calls[0]
    sent_call = llm.primary.last().reply["choices"][0]["message"]["tool_calls"][0]
    assert call.id == sent_call["id"]
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == TOOL_ARGUMENTS
    assert llm.primary.last().json["tools"] == OPENAI_TOOLS

    final = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            *question,
            message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": TOOL_RESULT},
        ],
        tools=OPENAI_TOOLS,
    )

    assert final.choices[0].message.content == f"The tool said: {TOOL_RESULT}"
    assert final.choices[0].finish_reason == "stop"
    sent = llm.primary.last().json["messages"]
    assert sent[1]["tool_calls"][0]["id"] == call.id
    assert sent[2] == {"role": "tool", "tool_call_id": call.id, "content": TOOL_RESULT}


def test_chat_stream_chunks_arrive_one_by_one(llm: LLMStack) -> None:
    llm.primary.chunk_delay = 0.4
    stream = llm.openai_client().chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)

    arrivals: list[tuple[float, str]] = []
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append((time.monotonic(), chunk.choices[0].delta.content))

    record = llm.primary.last()
    sent = record.sent_events
    pieces = [
        (index, json.loads(data)["choices"][0]["delta"].get("content"))
        for index, data in enumerate(sse_data(sent))
        if data != "[DONE]" and json.loads(data).get("choices")
    ]
    sent_pieces = [(index, text) for index, text in pieces if text]
    assert [text for _, text in arrivals] == [text for _, text in sent_pieces] == ["Hello ", "from ", "openai."]
    # Each piece reached the client before the fake had even written the next event: nothing was held back.
    for (arrived, text), (index, _) in zip(arrivals, sent_pieces):
        next_written = sent[index + 1][0]
        assert arrived < next_written, f"{text!r} arrived {arrived - next_written:.3f}s after the next event was sent"


def test_chat_stream_with_include_usage_ends_with_the_usage_chunk(llm: LLMStack) -> None:
    chunks = list(
        llm.openai_client().chat.completions.create(
            model="gpt-4o-mini", messages=USER, stream=True, stream_options={"include_usage": True}
        )
    )

    record = llm.primary.last()
    assert record.json["stream_options"]["include_usage"] is True
    *body, last = chunks
    assert last.choices == []
    assert_usage_equals(last.usage, record.usage)
    assert all(chunk.usage is None for chunk in body)
    assert "".join(c.choices[0].delta.content or "" for c in body if c.choices) == "Hello from openai."
    assert [c.choices[0].finish_reason for c in body if c.choices and c.choices[0].finish_reason] == ["stop"]


def test_chat_stream_without_include_usage_hides_the_usage_chunk(llm: LLMStack) -> None:
    chunks = list(llm.openai_client().chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True))

    assert chunks, "no chunk reached the client"
    assert all(chunk.choices for chunk in chunks), "a chunk without choices (the usage chunk) reached the client"
    assert all(chunk.usage is None for chunk in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hello from openai."
    # The gateway asked the provider for usage anyway (it needs it for accounting) and got it.
    record = llm.primary.last()
    assert record.json.get("stream_options", {}).get("include_usage") is True, record.json
    assert record.usage_reported


def test_chat_stream_tool_call_fragments(llm: LLMStack) -> None:
    client = llm.openai_client()
    with client.chat.completions.stream(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "What is the weather in Oslo?"}],
        tools=OPENAI_TOOLS,
        stream_options={"include_usage": True},
    ) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()

    record = llm.primary.last()
    message = final.choices[0].message
    assert message.role == "assistant"
    assert final.choices[0].finish_reason == "tool_calls"
    assert message.tool_calls is not None and len(message.tool_calls) == 1
    call = message.tool_calls[0]
    sent_id = json.loads(sse_data(record.sent_events)[1])["choices"][0]["delta"]["tool_calls"][0]["id"]
    assert call.id == sent_id
    assert call.function.name == "get_weather"
    assert call.function.arguments == json.dumps(TOOL_ARGUMENTS, separators=(",", ":"))
    assert_usage_equals(final.usage, record.usage)


def test_responses_create(llm: LLMStack) -> None:
    response = llm.openai_client().responses.create(model="gpt-4o-mini", input="Say hello to the gateway")

    record = llm.primary.last()
    assert (record.method, record.path) == ("POST", "/v1/responses")
    assert record.json["model"] == "gpt-4o-mini"
    assert record.json["input"] == "Say hello to the gateway"
    assert response.output_text == "Hello from openai."
    assert response.status == "completed"
    assert response.usage is not None
    assert response.usage.input_tokens == record.usage["input_tokens"]
    assert response.usage.output_tokens == record.usage["output_tokens"]
    assert response.usage.total_tokens == record.usage["total_tokens"]


def test_responses_stream(llm: LLMStack) -> None:
    client = llm.openai_client()
    with client.responses.stream(model="gpt-4o-mini", input="Say hello to the gateway") as stream:
        events = list(stream)
        final = stream.get_final_response()

    record = llm.primary.last()
    assert record.json["stream"] is True
    sent = [json.loads(data) for data in sse_data(record.sent_events)]
    assert [event.type for event in events] == [event["type"] for event in sent]
    assert [event.sequence_number for event in events] == list(range(len(sent)))
    assert events[-1].type == "response.completed"
    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    assert deltas == ["Hello ", "from ", "openai."]
    assert final.output_text == "Hello from openai."
    assert final.usage is not None
    assert final.usage.input_tokens == record.usage["input_tokens"]
    assert final.usage.output_tokens == record.usage["output_tokens"]


def test_embeddings_base64_by_default(llm: LLMStack) -> None:
    result = llm.openai_client().embeddings.create(model="text-embedding-3-small", input=["one two three", "four"])

    record = llm.primary.last()
    assert (record.method, record.path) == ("POST", "/v1/embeddings")
    assert record.json["encoding_format"] == "base64"  # what the SDK asks for when the caller does not
    assert record.json["input"] == ["one two three", "four"]
    assert [item.index for item in result.data] == [0, 1]
    assert result.data[0].embedding == llm.primary.expected_embedding(0, 4)
    assert result.data[1].embedding == llm.primary.expected_embedding(1, 4)
    assert result.usage.prompt_tokens == 4
    assert result.usage.total_tokens == 4
    assert result.model == "text-embedding-3-small"


def test_embeddings_float(llm: LLMStack) -> None:
    result = llm.openai_client().embeddings.create(
        model="text-embedding-3-small", input="one two", encoding_format="float", dimensions=3
    )

    record = llm.primary.last()
    assert record.json["encoding_format"] == "float"
    assert record.json["dimensions"] == 3
    assert [item.embedding for item in result.data] == [llm.primary.expected_embedding(0, 3)]
    assert result.usage.prompt_tokens == 2
    assert result.usage.total_tokens == 2


def test_models_list(llm: LLMStack) -> None:
    models = list(llm.openai_client().models.list())

    assert {model.id for model in models} == SAMPLE_MODEL_IDS
    assert len(models) == len(SAMPLE_MODEL_IDS)
    assert all(model.object == "model" for model in models)


def test_messages_content_is_forwarded_untouched(llm: LLMStack) -> None:
    """Fields the gateway does not need pass through to the provider unchanged, content parts included."""
    messages = [
        {"role": "developer", "content": "Answer briefly."},
        {"role": "user", "content": [{"type": "text", "text": "Say hello"}]},
    ]
    completion = llm.openai_client().chat.completions.create(
        model="gpt-4o-mini", messages=messages, temperature=0.25, seed=7, metadata={"run": "interop"}
    )

    record = llm.primary.last()
    assert record.json["messages"] == messages
    assert (record.json["temperature"], record.json["seed"], record.json["metadata"]) == (0.25, 7, {"run": "interop"})
    assert text_of(completion.choices[0].message.content) == "Hello from openai."
