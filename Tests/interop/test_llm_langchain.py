"""LangChain's ChatOpenAI on the gateway: a tool-calling round trip (tool call -> ToolMessage -> final answer)."""

from __future__ import annotations

import pytest

from conftest import LLMStack
from llm_support import TOOL_ARGUMENTS, TOOL_RESULT

pytestmark = pytest.mark.llm


def test_chat_openai_tool_calling_round_trip(llm: LLMStack) -> None:
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI

    @tool
    def get_weather(city: str) -> str:
        """Current weather in a city."""
        return TOOL_RESULT

    model = ChatOpenAI(
        base_url=f"{llm.gateway.url}/v1", api_key=llm.agent_key, model="gpt-4o-mini", max_retries=0, timeout=20
    ).bind_tools([get_weather])
    history = [HumanMessage("What is the weather in Oslo?")]

    reply = model.invoke(history)

    assert isinstance(reply, AIMessage)
    assert len(reply.tool_calls) == 1
    call = reply.tool_calls[0]
    sent_call = llm.primary.last().reply["choices"][0]["message"]["tool_calls"][0]
    assert (call["name"], call["args"], call["id"]) == ("get_weather", TOOL_ARGUMENTS, sent_call["id"])
    upstream_tools = llm.primary.last().json["tools"]
    assert [entry["function"]["name"] for entry in upstream_tools] == ["get_weather"]

    history += [reply, ToolMessage(content=get_weather.invoke(call["args"]), tool_call_id=call["id"])]
    final = model.invoke(history)

    assert final.content == f"The tool said: {TOOL_RESULT}"
    assert final.tool_calls == []
    sent = llm.primary.last().json["messages"]
    assert [message["role"] for message in sent] == ["user", "assistant", "tool"]
    assert sent[2]["tool_call_id"] == call["id"]
    assert sent[2]["content"] == TOOL_RESULT
    assert final.usage_metadata is not None
    assert final.usage_metadata["input_tokens"] == llm.primary.last().usage["prompt_tokens"]
    assert final.usage_metadata["output_tokens"] == llm.primary.last().usage["completion_tokens"]
