"""Values and small helpers shared by the test_llm_* files (fixtures live in conftest.py)."""

from __future__ import annotations

import re
from typing import Any

from fakes import RecordedRequest

# GET /v1/models of samples/llm-gateway.yaml.
SAMPLE_MODEL_IDS = {"gpt-4o-mini", "text-embedding-3-small", "claude-haiku-4-5", "resilient", "balanced"}

# The `prices` of samples/llm-gateway.yaml, USD per million tokens, keyed by the upstream model.
PRICES = {"gpt-4o-mini": {"input": 0.15, "output": 0.60}, "claude-haiku-4-5": {"input": 1.0, "output": 5.0}}

WEATHER_PARAMETERS = {
    "type": "object",
    "properties": {"city": {"type": "string", "description": "City name"}},
    "required": ["city"],
}
OPENAI_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city",
            "parameters": WEATHER_PARAMETERS,
        },
    }
]
ANTHROPIC_TOOLS = [
    {"name": "get_weather", "description": "Current weather in a city", "input_schema": WEATHER_PARAMETERS}
]
TOOL_ARGUMENTS = {"city": "Oslo"}
TOOL_RESULT = "18 degrees and sunny"


def cost_usd(upstream_model: str, input_tokens: int, output_tokens: int) -> float:
    price = PRICES[upstream_model]
    return input_tokens * price["input"] / 1e6 + output_tokens * price["output"] / 1e6


def text_of(content: Any) -> str:
    """Message content as text: a string, or the text parts of a list (OpenAI parts or Anthropic blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def billed(record: RecordedRequest) -> tuple[int, int]:
    """(input, output) tokens a fake billed for one request, Anthropic input counting cache writes and reads."""
    usage = record.usage
    assert usage is not None, f"the fake billed nothing for {record.method} {record.path}"
    if "prompt_tokens" in usage:
        return usage["prompt_tokens"], usage.get("completion_tokens", 0)
    total_input = (
        usage["input_tokens"] + usage.get("cache_creation_input_tokens", 0) + usage.get("cache_read_input_tokens", 0)
    )
    return total_input, usage["output_tokens"]


_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)(?:\s+\d+)?$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def metric_value(text: str, name: str, **labels: str) -> float | None:
    """The sum of the samples of `name` whose labels include `labels`; None when there is none."""
    values = []
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if not match or match["name"] != name:
            continue
        found = dict(_LABEL.findall(match["labels"] or ""))
        if all(found.get(key) == value for key, value in labels.items()):
            values.append(float(match["value"]))
    return sum(values) if values else None


def sse_data(events: list[tuple[float, str]]) -> list[str]:
    """The `data:` payloads of recorded SSE events, in order."""
    payloads = []
    for _, text in events:
        lines = [line[len("data:") :].lstrip(" ") for line in text.splitlines() if line.startswith("data:")]
        payloads.append("\n".join(lines))
    return payloads
