"""A provider that refuses the gateway's own key: the client gets a 502 that quotes nothing of it."""

from __future__ import annotations

import pytest

from conftest import StartLLMGateway

USER = [{"role": "user", "content": "Say hello to the gateway"}]


@pytest.mark.llm
def test_provider_refusing_the_gateway_key_is_a_502_without_the_provider_message(
    start_llm_gateway: StartLLMGateway,
) -> None:
    import openai

    wrong_key = "sk-wrong-provider-key-0123456789"
    llm = start_llm_gateway(OPENAI_API_KEY=wrong_key)
    with pytest.raises(openai.InternalServerError) as raised:
        llm.openai_client().chat.completions.create(model="gpt-4o-mini", messages=USER)

    assert raised.value.status_code == 502
    body = raised.value.response.text
    assert "refused the gateway's credentials" in body
    assert "Incorrect API key" not in body  # the provider's own message stays inside the gateway
    assert wrong_key not in body and wrong_key not in llm.gateway.log_text
    assert len(llm.primary.requests) == 1  # not retried
