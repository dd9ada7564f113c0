"""The official `anthropic` SDK against the gateway (native to the Anthropic provider, and translated to the OpenAI
one), the `openai` SDK translated to the Anthropic provider, and tool calls both ways with a tool result round trip."""

from __future__ import annotations

import json

import httpx
import pytest

from conftest import LLMStack
from llm_support import (
    ANTHROPIC_TOOLS,
    OPENAI_TOOLS,
    TOOL_ARGUMENTS,
    TOOL_RESULT,
    WEATHER_PARAMETERS,
    sse_data,
    text_of,
)

pytestmark = pytest.mark.llm

QUESTION = [{"role": "user", "content": "What is the weather in Oslo?"}]
HELLO = [{"role": "user", "content": "Say hello to the gateway"}]
ANTHROPIC_SDK_VERSION = "2026-10-21"


def total_input(usage: dict) -> int:
    return usage["input_tokens"] + usage["cache_creation_input_tokens"] + usage["cache_read_input_tokens"]


def assert_anthropic_upstream(llm: LLMStack, record: object) -> None:
    assert record.header("x-api-key") == llm.fakes.anthropic_key
    assert record.header("anthropic-version")
    assert isinstance(record.json.get("max_tokens"), int)


# Anthropic SDK -> claude-haiku-4-5 (native)


def test_messages_native(llm: LLMStack) -> None:
    message = llm.anthropic_client().messages.create(model="claude-haiku-4-5", max_tokens=64, messages=HELLO)

    [record] = llm.anthropic.requests
    assert (record.method, record.path) == ("POST", "/v1/messages")
    assert_anthropic_upstream(llm, record)
    assert record.header("anthropic-version") == ANTHROPIC_SDK_VERSION  # forwarded from the client
    assert record.json["model"] == "claude-haiku-4-5"
    assert record.json["messages"] == HELLO
    assert record.json["max_tokens"] == 64
    assert message.type == "message"
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == "Hello from anthropic."
    assert message.stop_reason == "end_turn"
    assert message.id == record.reply["id"]
    assert message.usage.input_tokens == record.usage["input_tokens"]
    assert message.usage.cache_creation_input_tokens == record.usage["cache_creation_input_tokens"]
    assert message.usage.cache_read_input_tokens == record.usage["cache_read_input_tokens"]
    assert message.usage.output_tokens == record.usage["output_tokens"]


def test_messages_stream_native(llm: LLMStack) -> None:
    with llm.anthropic_client().messages.stream(model="claude-haiku-4-5", max_tokens=64, messages=HELLO) as stream:
        texts = list(stream.text_stream)
        final = stream.get_final_message()

    record = llm.anthropic.last()
    assert_anthropic_upstream(llm, record)
    assert record.json["stream"] is True
    assert texts == ["Hello ", "from ", "anthropic."]
    assert final.content[0].text == "Hello from anthropic."
    assert final.stop_reason == "end_turn"
    # message_delta usage is cumulative: the totals are the provider's, not a sum of the two events.
    assert final.usage.input_tokens == record.usage["input_tokens"]
    assert final.usage.cache_creation_input_tokens == record.usage["cache_creation_input_tokens"]
    assert final.usage.cache_read_input_tokens == record.usage["cache_read_input_tokens"]
    assert final.usage.output_tokens == record.usage["output_tokens"]


def test_messages_accepts_the_agent_key_as_x_api_key(llm: LLMStack) -> None:
    response = httpx.post(
        f"{llm.gateway.url}/v1/messages",
        headers={"x-api-key": llm.agent_key, "anthropic-version": "2023-06-01"},
        json={"model": "claude-haiku-4-5", "max_tokens": 32, "messages": HELLO},
        timeout=20.0,
        trust_env=False,
    )

    assert response.status_code == 200, response.text
    assert response.json()["content"] == [{"type": "text", "text": "Hello from anthropic."}]
    record = llm.anthropic.last()
    assert record.header("x-api-key") == llm.fakes.anthropic_key
    assert record.header("anthropic-version") == "2023-06-01"


def test_messages_native_tools_round_trip(llm: LLMStack) -> None:
    client = llm.anthropic_client()

    first = client.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=QUESTION, tools=ANTHROPIC_TOOLS)

    assert first.stop_reason == "tool_use"
    assert [block.type for block in first.content] == ["text", "tool_use"]
    tool_use = first.content[1]
    assert tool_use.id == llm.anthropic.last().reply["content"][1]["id"]
    assert (tool_use.name, tool_use.input) == ("get_weather", TOOL_ARGUMENTS)

    final = client.messages.create(
        model="claude-haiku-4-5",
        max_tokens=64,
        tools=ANTHROPIC_TOOLS,
        messages=[
            *QUESTION,
            {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": TOOL_RESULT}]},
        ],
    )

    assert final.content[0].text == f"The tool said: {TOOL_RESULT}"
    assert final.stop_reason == "end_turn"


# Anthropic SDK -> gpt-4o-mini (translated to Chat Completions)


def test_messages_translated_to_openai(llm: LLMStack) -> None:
    message = llm.anthropic_client().messages.create(
        model="gpt-4o-mini", max_tokens=64, system="Answer briefly.", messages=HELLO
    )

    [record] = llm.primary.requests
    assert (record.method, record.path) == ("POST", "/v1/chat/completions")
    assert record.header("authorization") == f"Bearer {llm.fakes.openai_key}"
    assert record.json["model"] == "gpt-4o-mini"
    sent = record.json["messages"]
    assert [message["role"] for message in sent] == ["system", "user"]
    assert [text_of(message["content"]) for message in sent] == ["Answer briefly.", "Say hello to the gateway"]
    assert record.json.get("max_completion_tokens", record.json.get("max_tokens")) == 64
    assert message.role == "assistant"
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == "Hello from openai."
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == record.usage["prompt_tokens"]
    assert message.usage.output_tokens == record.usage["completion_tokens"]
    assert llm.anthropic.requests == []


def test_messages_stream_translated_to_openai(llm: LLMStack) -> None:
    with llm.anthropic_client().messages.stream(model="gpt-4o-mini", max_tokens=64, messages=HELLO) as stream:
        texts = list(stream.text_stream)
        final = stream.get_final_message()

    record = llm.primary.last()
    assert record.json["stream"] is True
    assert record.json["stream_options"]["include_usage"] is True
    assert "".join(texts) == "Hello from openai."
    assert final.content[0].text == "Hello from openai."
    assert final.stop_reason == "end_turn"
    assert final.usage.input_tokens == record.usage["prompt_tokens"]
    assert final.usage.output_tokens == record.usage["completion_tokens"]


def test_anthropic_sdk_tools_on_openai_round_trip(llm: LLMStack) -> None:
    client = llm.anthropic_client()

    first = client.messages.create(model="gpt-4o-mini", max_tokens=64, messages=QUESTION, tools=ANTHROPIC_TOOLS)

    upstream = llm.primary.last()
    assert upstream.json["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather in a city",
                "parameters": WEATHER_PARAMETERS,
            },
        }
    ]
    sent_call = upstream.reply["choices"][0]["message"]["tool_calls"][0]
    assert first.stop_reason == "tool_use"
    tool_uses = [block for block in first.content if block.type == "tool_use"]
    assert len(tool_uses) == 1
    tool_use = tool_uses[0]
    assert tool_use.id == sent_call["id"]
    assert (tool_use.name, tool_use.input) == ("get_weather", TOOL_ARGUMENTS)
    assert first.usage.output_tokens == upstream.usage["completion_tokens"]

    final = client.messages.create(
        model="gpt-4o-mini",
        max_tokens=64,
        tools=ANTHROPIC_TOOLS,
        messages=[
            *QUESTION,
            {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": TOOL_RESULT}]},
        ],
    )

    assert final.content[-1].text == f"The tool said: {TOOL_RESULT}"
    assert final.stop_reason == "end_turn"
    sent = llm.primary.last().json["messages"]
    assert [message["role"] for message in sent] == ["user", "assistant", "tool"]
    [call] = sent[1]["tool_calls"]
    assert call["id"] == tool_use.id
    assert call["type"] == "function"
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == TOOL_ARGUMENTS
    assert sent[2]["tool_call_id"] == tool_use.id
    assert text_of(sent[2]["content"]) == TOOL_RESULT


def test_anthropic_sdk_stream_tools_on_openai(llm: LLMStack) -> None:
    with llm.anthropic_client().messages.stream(
        model="gpt-4o-mini", max_tokens=64, messages=QUESTION, tools=ANTHROPIC_TOOLS
    ) as stream:
        events = list(stream)
        final = stream.get_final_message()

    record = llm.primary.last()
    first_call = json.loads(sse_data(record.sent_events)[1])["choices"][0]["delta"]["tool_calls"][0]
    assert events[0].type == "message_start"
    assert events[-1].type == "message_stop"
    assert final.stop_reason == "tool_use"
    tool_uses = [block for block in final.content if block.type == "tool_use"]
    assert len(tool_uses) == 1
    assert tool_uses[0].id == first_call["id"]
    assert (tool_uses[0].name, tool_uses[0].input) == ("get_weather", TOOL_ARGUMENTS)
    assert final.usage.input_tokens == record.usage["prompt_tokens"]
    assert final.usage.output_tokens == record.usage["completion_tokens"]


# OpenAI SDK -> claude-haiku-4-5 (translated to Messages)


def test_openai_sdk_on_claude(llm: LLMStack) -> None:
    completion = llm.openai_client().chat.completions.create(
        model="claude-haiku-4-5",
        messages=[{"role": "system", "content": "Answer briefly."}, *HELLO],
    )

    [record] = llm.anthropic.requests
    assert (record.method, record.path) == ("POST", "/v1/messages")
    assert_anthropic_upstream(llm, record)
    assert record.json["model"] == "claude-haiku-4-5"
    assert text_of(record.json["system"]) == "Answer briefly."
    assert [message["role"] for message in record.json["messages"]] == ["user"]
    assert text_of(record.json["messages"][0]["content"]) == "Say hello to the gateway"
    assert completion.choices[0].message.content == "Hello from anthropic."
    assert completion.choices[0].finish_reason == "stop"
    usage = record.usage
    assert completion.usage.prompt_tokens == total_input(usage)
    assert completion.usage.completion_tokens == usage["output_tokens"]
    assert completion.usage.total_tokens == total_input(usage) + usage["output_tokens"]
    assert completion.usage.prompt_tokens_details.cached_tokens == usage["cache_read_input_tokens"]
    assert llm.primary.requests == []


def test_openai_sdk_stream_on_claude(llm: LLMStack) -> None:
    chunks = list(
        llm.openai_client().chat.completions.create(
            model="claude-haiku-4-5", messages=HELLO, stream=True, stream_options={"include_usage": True}
        )
    )

    record = llm.anthropic.last()
    assert record.json["stream"] is True
    *body, last = chunks
    assert len({chunk.id for chunk in chunks}) == 1
    roles = [c.choices[0].delta.role for c in body if c.choices and c.choices[0].delta.role]
    assert roles == ["assistant"]
    assert "".join(c.choices[0].delta.content or "" for c in body if c.choices) == "Hello from anthropic."
    assert [c.choices[0].finish_reason for c in body if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert all(chunk.usage is None for chunk in body)
    assert last.choices == []
    assert last.usage.prompt_tokens == total_input(record.usage)
    assert last.usage.completion_tokens == record.usage["output_tokens"]
    assert last.usage.total_tokens == total_input(record.usage) + record.usage["output_tokens"]


def test_openai_sdk_tools_on_claude_round_trip(llm: LLMStack) -> None:
    client = llm.openai_client()

    first = client.chat.completions.create(model="claude-haiku-4-5", messages=QUESTION, tools=OPENAI_TOOLS)

    upstream = llm.anthropic.last()
    assert upstream.json["tools"] == ANTHROPIC_TOOLS
    tool_use = upstream.reply["content"][1]
    message = first.choices[0].message
    assert first.choices[0].finish_reason == "tool_calls"
    assert message.content == "Let me check."
    assert message.tool_calls is not None and len(message.tool_calls) == 1
    call = message.tool_calls[0]
    assert call.id == tool_use["id"]
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == TOOL_ARGUMENTS

    final = client.chat.completions.create(
        model="claude-haiku-4-5",
        tools=OPENAI_TOOLS,
        messages=[
            *QUESTION,
            message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": TOOL_RESULT},
        ],
    )

    assert final.choices[0].message.content == f"The tool said: {TOOL_RESULT}"
    assert final.choices[0].finish_reason == "stop"
    sent = llm.anthropic.last().json["messages"]
    assert [turn["role"] for turn in sent] == ["user", "assistant", "user"]
    uses = [block for block in sent[1]["content"] if block["type"] == "tool_use"]
    assert uses == [{"type": "tool_use", "id": call.id, "name": "get_weather", "input": TOOL_ARGUMENTS}]
    results = [block for block in sent[2]["content"] if block["type"] == "tool_result"]
    assert len(results) == 1
    assert results[0]["tool_use_id"] == call.id
    assert text_of(results[0]["content"]) == TOOL_RESULT


def test_openai_sdk_stream_tools_on_claude(llm: LLMStack) -> None:
    client = llm.openai_client()
    chunks = list(
        client.chat.completions.create(model="claude-haiku-4-5", messages=QUESTION, tools=OPENAI_TOOLS, stream=True)
    )

    tool_use = next(
        json.loads(data)["content_block"]
        for data in sse_data(llm.anthropic.last().sent_events)
        if json.loads(data)["type"] == "content_block_start" and json.loads(data)["content_block"]["type"] == "tool_use"
    )
    deltas = [call for c in chunks if c.choices for call in (c.choices[0].delta.tool_calls or [])]
    # The Anthropic block index of the tool_use is 1 (after the text block); OpenAI counts tool calls from 0.
    assert {delta.index for delta in deltas} == {0}
    assert [delta.id for delta in deltas if delta.id] == [tool_use["id"]]
    assert [delta.function.name for delta in deltas if delta.function and delta.function.name] == ["get_weather"]
    arguments = "".join(delta.function.arguments or "" for delta in deltas if delta.function)
    assert json.loads(arguments) == TOOL_ARGUMENTS
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Let me check."
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]
