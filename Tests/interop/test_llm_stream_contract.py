"""A provider that answers a streaming request with plain JSON is a failed attempt, not an empty stream."""

from __future__ import annotations

import pytest

from conftest import LLMStack

USER = [{"role": "user", "content": "Say hello to the gateway"}]


@pytest.mark.llm
def test_a_json_answer_to_a_stream_fails_over_to_a_deployment_that_streams(llm: LLMStack) -> None:
    llm.secondary.answer_status(200, "this provider does not stream")  # 200 with a JSON body
    chunks = list(
        llm.openai_client().chat.completions.create(model="resilient", messages=USER, stream=True)
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == "Hello from openai."
    assert len(llm.secondary.requests) == 1 and len(llm.primary.requests) == 1


@pytest.mark.llm
def test_a_json_answer_to_a_stream_with_no_other_deployment_is_a_502(llm: LLMStack) -> None:
    import openai

    llm.primary.answer_status(200, "this provider does not stream")
    with pytest.raises(openai.APIStatusError) as raised:
        list(llm.openai_client().chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True))
    assert raised.value.status_code == 502
    assert "without an event stream" in raised.value.response.text
