"""Content guards on the LLM plane, end to end: the contract sample samples/policy-gateway.yaml, whose
policies/defaults.yaml blocks OpenAI keys and AWS access key ids in prompts (guard no-secrets-in-prompts) and the
pattern `p5.` in completions (guard banned-phrase), driven by the official openai and anthropic SDKs against the
fake providers.

A refused prompt never reaches a provider (the fakes record every request). A blocked completion reaches the
client in the dialect's own content-filter shape: chat `finish_reason: "content_filter"` with empty content,
Anthropic `stop_reason: "refusal"` with no content, Responses `status: "incomplete"` for `content_filter`; a stream
that reaches the pattern ends cleanly with those terminal events, without any of it.
"""

from __future__ import annotations

import json
import random
import sqlite3
import string
import time
from typing import Any

import anthropic
import openai
import pytest

from mcp_support import wait_until
from test_policy import PolicyStack, agent_tools, policy, start_policy_gateway  # noqa: F401 - fixtures

pytestmark = pytest.mark.mcp

PROMPT_GUARD = "no-secrets-in-prompts"
COMPLETION_GUARD = "banned-phrase"
# The stream splits the pattern across three events; a long tail keeps the provider busy after it.
BANNED_PIECES = ["Sure. The build uses p", "5", ". Keep it quiet. ", *["More words follow here. "] * 80]
BANNED_TEXT = "The build uses p5. for everything."


def openai_key() -> str:
    body = "".join(random.choice(string.ascii_letters) for _ in range(40))
    return f"sk-proj-{body}{random.randint(10, 99)}"


def aws_key_id() -> str:
    return "AKIA" + "".join(random.choice(string.ascii_uppercase + "234567") for _ in range(16))


def provider_calls(stack: PolicyStack) -> int:
    return len(stack.openai_fake.requests) + len(stack.anthropic_fake.requests)


def audit_rows(stack: PolicyStack, count: int) -> list[dict[str, Any]]:
    def rows() -> list[dict[str, Any]] | None:
        everything = stack.admin("/admin/audit?limit=1000").json()["decisions"]
        found = [row for row in everything if row["decision"] == "block"]
        return found if len(found) >= count else None

    return wait_until(rows, 10.0, f"{count} audited blocks")


def usage_statuses(stack: PolicyStack, count: int) -> list[tuple[Any, ...]]:
    """(model, provider, status, input_tokens, output_tokens) of the usage rows, once there are `count`."""
    path = stack.workdir / ".gatehouse" / "gatehouse.db"
    deadline = time.monotonic() + 10.0
    rows: list[tuple[Any, ...]] = []
    while time.monotonic() < deadline:
        if path.exists():
            connection = sqlite3.connect(str(path))
            try:
                rows = connection.execute(
                    "SELECT model, provider, status, input_tokens, output_tokens FROM llm_usage ORDER BY id"
                ).fetchall()
            except sqlite3.OperationalError:
                rows = []
            finally:
                connection.close()
            if len(rows) >= count:
                break
        time.sleep(0.05)
    return rows


def assert_secrets_kept(stack: PolicyStack, *secrets: str) -> None:
    everything = json.dumps(stack.admin("/admin/audit?limit=10000").json())
    for secret in secrets:
        assert secret not in everything
        assert secret not in stack.gateway.log_text


# --- Prompts ---------------------------------------------------------------------------------------------------------


def test_a_secret_in_a_chat_prompt_is_refused_before_the_provider_sees_it(policy: PolicyStack) -> None:
    client = policy.openai("researcher")
    key = openai_key()
    with pytest.raises(openai.PermissionDeniedError) as refused:
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": f"Deploy with {key} please"}]
        )
    assert refused.value.status_code == 403
    assert refused.value.code == "content_blocked"
    message = refused.value.body["message"]
    assert PROMPT_GUARD in message and "openai_key" in message and key not in message
    # In the assistant's history too (tool-call arguments), and in a tool result; streaming or not.
    aws = aws_key_id()

    def history(arguments: dict[str, str], result: str) -> list[dict[str, Any]]:
        call = {"id": "call_1", "type": "function", "function": {"name": "read", "arguments": json.dumps(arguments)}}
        return [
            {"role": "user", "content": "Read the config"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": result},
        ]

    with pytest.raises(openai.PermissionDeniedError) as refused_history:
        client.chat.completions.create(model="gpt-4o-mini", messages=history({"id": aws}, "done"), stream=True)
    assert "aws_access_key" in refused_history.value.body["message"]
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(model="gpt-4o", messages=history({}, f"id={aws}"))
    # Through the Responses API as well.
    with pytest.raises(openai.PermissionDeniedError):
        client.responses.create(model="gpt-4o-mini", input="hi", instructions=f"Use {key}")
    assert provider_calls(policy) == 0
    # A clean prompt still goes through.
    answer = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello"}])
    assert answer.choices[0].message.content == "Hello from openai."
    assert provider_calls(policy) == 1
    # Every refusal left its usage row, with the status the client got and no provider.
    rows = usage_statuses(policy, 5)
    assert rows[:4] == [("gpt-4o-mini", "", 403, 0, 0), ("gpt-4o-mini", "", 403, 0, 0), ("gpt-4o", "", 403, 0, 0),
                        ("gpt-4o-mini", "", 403, 0, 0)], rows
    assert rows[4][:3] == ("gpt-4o-mini", "openai", 200), rows
    assert_secrets_kept(policy, key, aws)


def test_a_secret_in_an_anthropic_prompt_is_refused_before_the_provider_sees_it(policy: PolicyStack) -> None:
    client = policy.anthropic("researcher")
    aws = aws_key_id()
    key = openai_key()
    with pytest.raises(anthropic.PermissionDeniedError) as refused:
        client.messages.create(
            model="claude-haiku-4-5", max_tokens=32, system=f"Credentials: {aws}",
            messages=[{"role": "user", "content": "Hello"}],
        )
    assert refused.value.status_code == 403
    error = refused.value.body["error"]
    assert error["type"] == "permission_error"
    assert PROMPT_GUARD in error["message"] and "aws_access_key" in error["message"] and aws not in error["message"]
    turns = [
        {"role": "user", "content": "Look it up"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": f"key: {key}"}]},
    ]
    with pytest.raises(anthropic.PermissionDeniedError):
        client.messages.create(model="claude-haiku-4-5", max_tokens=32, messages=turns)
    input_turns = [
        turns[0],
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"key": key}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}]},
    ]
    with pytest.raises(anthropic.PermissionDeniedError):
        with client.messages.stream(model="claude-haiku-4-5", max_tokens=32, messages=input_turns) as stream:
            list(stream.text_stream)
    # An Anthropic client of an OpenAI-compatible model: refused before translation and before the provider.
    with pytest.raises(anthropic.PermissionDeniedError):
        client.messages.create(model="gpt-4o-mini", max_tokens=32,
                               messages=[{"role": "user", "content": f"my key is {key}"}])
    assert provider_calls(policy) == 0
    blocks = audit_rows(policy, 4)
    for row in blocks:
        assert row["rule"].endswith(PROMPT_GUARD) and row["action"] == "guard_prompt" and row["plane"] == "llm", row
        assert row["agent"] == "researcher" and row["request_id"], row
    assert {row["target"] for row in blocks} == {"claude-haiku-4-5", "gpt-4o-mini"}
    assert any("aws_access_key" in row["reason"] for row in blocks)
    assert any("openai_key" in row["reason"] for row in blocks)
    assert_secrets_kept(policy, key, aws)


# --- Completions, not streamed ---------------------------------------------------------------------------------------


def test_a_completion_with_the_banned_phrase_is_filtered_in_both_dialects(policy: PolicyStack) -> None:
    policy.openai_fake.reply_text = BANNED_TEXT
    policy.anthropic_fake.reply_text = BANNED_TEXT
    chat = policy.openai("researcher").chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Which build?"}]
    )
    assert chat.choices[0].finish_reason == "content_filter"
    assert chat.choices[0].message.content == ""
    assert chat.usage is not None and chat.usage.completion_tokens == policy.openai_fake.last().usage["completion_tokens"]
    client = policy.anthropic("researcher")
    message = client.messages.create(
        model="claude-haiku-4-5", max_tokens=32, messages=[{"role": "user", "content": "Which build?"}]
    )
    assert message.stop_reason == "refusal" and message.content == []
    assert message.usage.output_tokens == policy.anthropic_fake.last().usage["output_tokens"]
    # Translated (Anthropic client, OpenAI provider): the client's own dialect still.
    translated = client.messages.create(
        model="gpt-4o-mini", max_tokens=32, messages=[{"role": "user", "content": "Which build?"}]
    )
    assert translated.stop_reason == "refusal" and translated.content == []
    responses = policy.openai("researcher").responses.create(model="gpt-4o-mini", input="Which build?")
    assert responses.status == "incomplete" and responses.incomplete_details.reason == "content_filter"
    assert responses.output == [] and responses.usage is not None
    # Each call was made and paid for: usage rows with the real tokens, status 200.
    rows = usage_statuses(policy, 4)
    assert [row[2] for row in rows] == [200, 200, 200, 200], rows
    assert all(row[3] > 0 and row[4] > 0 for row in rows), rows
    blocks = audit_rows(policy, 4)
    assert {row["action"] for row in blocks} == {"guard_completion"}
    assert all(row["rule"].endswith(COMPLETION_GUARD) for row in blocks)
    assert all("p5." not in row["reason"] for row in blocks)
    # Without the phrase, the same calls are untouched.
    policy.openai_fake.reply_text = "The build uses p5 and p6."
    clean = policy.openai("researcher").chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Which build?"}]
    )
    assert clean.choices[0].finish_reason == "stop" and clean.choices[0].message.content == "The build uses p5 and p6."


# --- Completions, streamed -------------------------------------------------------------------------------------------


def test_a_chat_stream_that_reaches_the_banned_phrase_ends_with_content_filter(policy: PolicyStack) -> None:
    policy.openai_fake.reply_pieces = BANNED_PIECES
    stream = policy.openai("researcher").chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Which build?"}], stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert "p5" not in text and "Keep it quiet" not in text
    assert text == "Sure. The build uses "
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "content_filter"
    assert [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices].count("content_filter") == 1
    # The gateway stopped reading: the provider saw its request cancelled long before the reply's end.
    record = policy.openai_fake.last()
    assert policy.openai_fake.wait_for_disconnect(record, timeout=5.0) is not None
    assert len(record.sent_events) < len(BANNED_PIECES)
    # The usage seen is still booked (a cut OpenAI stream reports none: a row with status 200 and no tokens).
    rows = usage_statuses(policy, 1)
    assert rows[0][:3] == ("gpt-4o-mini", "openai", 200), rows
    block = audit_rows(policy, 1)[0]
    assert block["rule"].endswith(COMPLETION_GUARD) and block["action"] == "guard_completion" and block["target"] == "gpt-4o-mini"
    assert "p5." not in json.dumps(block)


def test_an_anthropic_stream_that_reaches_the_banned_phrase_ends_with_refusal(policy: PolicyStack) -> None:
    policy.anthropic_fake.reply_pieces = BANNED_PIECES
    client = policy.anthropic("researcher")
    with client.messages.stream(
        model="claude-haiku-4-5", max_tokens=256, messages=[{"role": "user", "content": "Which build?"}]
    ) as stream:
        texts = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(texts) == "Sure. The build uses "
    assert final.stop_reason == "refusal"
    assert [block.type for block in final.content] == ["text"]
    assert final.usage.input_tokens == policy.anthropic_fake.last().usage["input_tokens"]
    record = policy.anthropic_fake.last()
    assert policy.anthropic_fake.wait_for_disconnect(record, timeout=5.0) is not None
    # Anthropic reports the input tokens at the start: the row keeps them.
    rows = usage_statuses(policy, 1)
    assert rows[0][:3] == ("claude-haiku-4-5", "anthropic", 200) and rows[0][3] > 0, rows
    # Raw events: content_block_stop, message_delta (refusal), message_stop, and nothing after.
    policy.anthropic_fake.reply_pieces = ["p5", ". right away"]
    events = list(client.messages.create(
        model="claude-haiku-4-5", max_tokens=64, messages=[{"role": "user", "content": "Again"}], stream=True
    ))
    assert [event.type for event in events][-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert events[-2].delta.stop_reason == "refusal"
    assert all(getattr(getattr(event, "delta", None), "text", "") == "" for event in events)
    # An OpenAI client of the Anthropic model: translated, then guarded in the chat dialect.
    policy.anthropic_fake.reply_pieces = BANNED_PIECES
    chunks = list(policy.openai("researcher").chat.completions.create(
        model="claude-haiku-4-5", messages=[{"role": "user", "content": "Which build?"}], stream=True
    ))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Sure. The build uses "
    assert chunks[-1].choices[0].finish_reason == "content_filter"


def test_a_responses_stream_that_reaches_the_banned_phrase_ends_incomplete(policy: PolicyStack) -> None:
    policy.openai_fake.reply_pieces = BANNED_PIECES
    events = list(policy.openai("researcher").responses.create(model="gpt-4o-mini", input="Which build?", stream=True))
    text = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    assert text == "Sure. The build uses "
    assert events[-1].type == "response.incomplete"
    assert events[-1].response.incomplete_details.reason == "content_filter"
    assert not any(event.type in ("response.output_text.done", "response.completed") for event in events)


def test_clean_streams_are_untouched(policy: PolicyStack) -> None:
    # A reply with near misses, split in many small pieces: the client gets exactly the provider's text.
    pieces = ["The ", "p", "5 ", "and p", "6. ", "builds ", "are ", "fine", "."]
    policy.openai_fake.reply_pieces = pieces
    policy.anthropic_fake.reply_pieces = pieces
    chunks = list(policy.openai("researcher").chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Builds?"}], stream=True,
        stream_options={"include_usage": True},
    ))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "".join(pieces)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == policy.openai_fake.last().usage["completion_tokens"]
    with policy.anthropic("researcher").messages.stream(
        model="claude-haiku-4-5", max_tokens=64, messages=[{"role": "user", "content": "Builds?"}]
    ) as stream:
        texts = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(texts) == "".join(pieces)
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == policy.anthropic_fake.last().usage["output_tokens"]
    decisions = policy.admin("/admin/audit?limit=1000").json()["decisions"]
    assert [row for row in decisions if row["decision"] == "block"] == []
