"""A fake Anthropic Messages API (`POST /v1/messages`), as the official `anthropic` SDK parses it.

Base URL `http://127.0.0.1:PORT` (no `/v1`). It answers 401 unless `x-api-key` equals `api_key` and an
`anthropic-version` header is present, and 400 (`invalid_request_error`) for requests the real API refuses:
no `max_tokens`, roles other than user/assistant/system, tools without `input_schema`, `tool_use.input` that is
not an object, a `tool_result` that answers no `tool_use` of the previous assistant turn, and `temperature`,
`top_p` or `top_k` under `anthropic-version: 2026-10-21`.

Replies are deterministic: "Hello from <name>." (or "The tool said: <result>" after a tool result); a request
with tools gets a text block "Let me check." and then a `tool_use` of its first tool with `tool_arguments`.
Usage: input_tokens = 3 per message + words in messages and system + 10 per tool; cache_creation_input_tokens
and cache_read_input_tokens as configured; output_tokens = `output_tokens` (text) or `tool_output_tokens`.
Streams send message_start, ping, the blocks, a cumulative message_delta (repeating the input and cache
counts, which a client must overwrite, never add) and message_stop, each with its `event:` line.
"""

from __future__ import annotations

from typing import Any

from fakes.server import (
    ErrorMidStream,
    Exchange,
    FailureMode,
    FakeProvider,
    RecordedRequest,
    StreamThenHang,
    compact_json,
    count_words,
    split_arguments,
    text_of,
)

_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
                403: "permission_error", 404: "not_found_error", 409: "conflict_error", 413: "request_too_large",
                429: "rate_limit_error", 500: "api_error", 504: "timeout_error", 529: "overloaded_error"}
_REMOVED_IN_2026 = ("temperature", "top_p", "top_k")


class InvalidRequest(Exception):
    pass


class FakeAnthropic(FakeProvider):
    def __init__(
        self,
        *,
        name: str = "anthropic",
        api_key: str,
        chunk_delay: float = 0.02,
        tool_arguments: dict[str, Any] | None = None,
        output_tokens: int = 11,
        tool_output_tokens: int = 23,
        cache_creation_input_tokens: int = 4,
        cache_read_input_tokens: int = 30,
    ) -> None:
        super().__init__(name=name, api_key=api_key, chunk_delay=chunk_delay)
        self.tool_arguments = tool_arguments if tool_arguments is not None else {"city": "Oslo"}
        self.output_tokens = output_tokens
        self.tool_output_tokens = tool_output_tokens
        self.cache_creation_input_tokens = cache_creation_input_tokens
        self.cache_read_input_tokens = cache_read_input_tokens

    def text_reply(self) -> str:
        return self.scripted_text() or f"Hello from {self.name}."

    @staticmethod
    def total_input(usage: dict[str, Any]) -> int:
        """Total input tokens of an Anthropic usage: uncached + cache writes + cache reads."""
        return (usage["input_tokens"] + usage.get("cache_creation_input_tokens", 0)
                + usage.get("cache_read_input_tokens", 0))

    # Dialect

    def error_body(self, status: int, message: str, error_type: str | None = None) -> Any:
        kind = error_type or _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return {"type": "error", "error": {"type": kind, "message": message}, "request_id": f"req_fake_{status}"}

    def stream_error_event(self) -> str:
        error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        return f"event: error\ndata: {compact_json(error)}\n\n"

    def response_headers(self, record: RecordedRequest) -> list[tuple[str, str]]:
        return [("request-id", f"req_{self.name}_{id(record):x}")]

    def authorize(self, exchange: Exchange) -> bool:
        record = exchange.record
        if record.header("x-api-key") != self.api_key:
            exchange.send_json(401, self.error_body(401, "invalid x-api-key"))
            return False
        if not record.header("anthropic-version"):
            exchange.send_json(401, self.error_body(401, "anthropic-version: header is required"))
            return False
        return True

    def route(self, exchange: Exchange, failure: FailureMode | None) -> None:
        record = exchange.record
        if record.method != "POST" or record.path != "/v1/messages":
            exchange.send_json(404, self.error_body(404, f"Not found: {record.method} {record.path}"))
            return
        body = record.json
        if not isinstance(body, dict):
            exchange.send_json(400, self.error_body(400, "There was an error parsing the body of your request."))
            return
        if self.answer_failure(exchange, failure):
            return
        try:
            messages = self._validate(body, record.header("anthropic-version") or "")
        except InvalidRequest as error:
            exchange.send_json(400, self.error_body(400, str(error)))
            return
        self._messages(exchange, body, messages, failure)

    def _validate(self, body: dict[str, Any], version: str) -> list[dict[str, Any]]:
        if not isinstance(body.get("model"), str) or not body["model"]:
            raise InvalidRequest("model: Field required")
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise InvalidRequest("max_tokens: Field required")
        if version >= "2026-10-21":
            for name in _REMOVED_IN_2026:
                if name in body:
                    raise InvalidRequest(f"{name}: Extra inputs are not permitted")
        system = body.get("system")
        if system is not None and not isinstance(system, (str, list)):
            raise InvalidRequest("system: Input should be a valid string or list")
        for index, tool in enumerate(body.get("tools") or []):
            if not isinstance(tool, dict) or not tool.get("name"):
                raise InvalidRequest(f"tools.{index}.name: Field required")
            if "type" not in tool or tool.get("type") == "custom":
                schema = tool.get("input_schema")
                if not isinstance(schema, dict) or schema.get("type") != "object":
                    raise InvalidRequest(f"tools.{index}.custom.input_schema: Field required")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise InvalidRequest("messages: at least one message is required")
        previous_tool_uses: set[str] = set()
        for index, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") not in ("user", "assistant", "system"):
                raise InvalidRequest(f"messages.{index}.role: Input should be 'user' or 'assistant'")
            content = message.get("content")
            if isinstance(content, str):
                blocks: list[Any] = []
            elif isinstance(content, list):
                blocks = content
            else:
                raise InvalidRequest(f"messages.{index}.content: Input should be a valid list")
            tool_uses: set[str] = set()
            for position, block in enumerate(blocks):
                if not isinstance(block, dict) or not isinstance(block.get("type"), str):
                    raise InvalidRequest(f"messages.{index}.content.{position}.type: Field required")
                if block["type"] == "tool_use":
                    if message["role"] != "assistant":
                        raise InvalidRequest(f"messages.{index}: tool_use blocks may only be in assistant turns")
                    if not isinstance(block.get("input"), dict):
                        raise InvalidRequest(f"messages.{index}.content.{position}.tool_use.input: "
                                             "Input should be a valid dictionary")
                    tool_uses.add(block.get("id"))
                elif block["type"] == "tool_result":
                    if message["role"] != "user" or block.get("tool_use_id") not in previous_tool_uses:
                        raise InvalidRequest(
                            f"messages.{index}.content.{position}: unexpected `tool_use_id` found in `tool_result` "
                            "blocks. Each `tool_result` block must have a corresponding `tool_use` block in the "
                            "previous message."
                        )
            if message["role"] == "assistant":
                previous_tool_uses = tool_uses
            elif message["role"] == "user":
                previous_tool_uses = set()
        return messages

    def _messages(
        self, exchange: Exchange, body: dict[str, Any], messages: list[dict[str, Any]], failure: FailureMode | None
    ) -> None:
        tools = body.get("tools") or []
        last = messages[-1]
        last_blocks = last.get("content") if isinstance(last.get("content"), list) else []
        results = [block for block in last_blocks if block.get("type") == "tool_result"]
        tool_choice = body.get("tool_choice") or {}
        content: list[dict[str, Any]]
        if tools and not results and tool_choice.get("type") != "none":
            number = self.next_id()
            content = [{"type": "text", "text": "Let me check."},
                       {"type": "tool_use", "id": f"toolu_{self.name}_{number}", "name": tools[0]["name"],
                        "input": dict(self.tool_arguments)}]
            stop_reason = "tool_use"
            output_tokens = self.tool_output_tokens
        else:
            text = f"The tool said: {text_of(results[0].get('content'))}" if results else self.text_reply()
            content = [{"type": "text", "text": text}]
            stop_reason = "end_turn"
            output_tokens = self.output_tokens
        input_tokens = 3 * len(messages) + count_words(messages) + count_words(body.get("system")) + 10 * len(tools)
        usage = {"input_tokens": input_tokens,
                 "cache_creation_input_tokens": self.cache_creation_input_tokens,
                 "cache_read_input_tokens": self.cache_read_input_tokens,
                 "output_tokens": output_tokens}
        exchange.record.usage = usage
        message_id = f"msg_{self.name}_{self.next_id()}"
        message = {"id": message_id, "type": "message", "role": "assistant", "model": body["model"],
                   "content": content, "stop_reason": stop_reason, "stop_sequence": None,
                   "usage": {**usage, "cache_creation": {"ephemeral_5m_input_tokens": self.cache_creation_input_tokens,
                                                         "ephemeral_1h_input_tokens": 0},
                             "service_tier": "standard"}}
        if body.get("stream") is not True:
            if isinstance(failure, (StreamThenHang, ErrorMidStream)):
                exchange.hang()
                return
            exchange.record.usage_reported = True
            exchange.send_json(200, message)
            return

        events: list[str] = []

        def event(kind: str, **fields: Any) -> None:
            events.append(f"event: {kind}\ndata: {compact_json({'type': kind, **fields})}\n\n")

        start_usage = {**usage, "output_tokens": 1}
        event("message_start", message={**message, "content": [], "stop_reason": None, "stop_sequence": None,
                                        "usage": start_usage})
        event("ping")
        for index, block in enumerate(content):
            if block["type"] == "text":
                event("content_block_start", index=index, content_block={"type": "text", "text": ""})
                for piece in self.pieces(block["text"]):
                    event("content_block_delta", index=index, delta={"type": "text_delta", "text": piece})
            else:
                event("content_block_start", index=index,
                      content_block={"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}})
                for fragment in split_arguments(compact_json(block["input"])):
                    event("content_block_delta", index=index,
                          delta={"type": "input_json_delta", "partial_json": fragment})
            event("content_block_stop", index=index)
        event("message_delta", delta={"stop_reason": stop_reason, "stop_sequence": None}, usage=usage)
        event("message_stop")
        self.stream(exchange, events, failure)
        if exchange.record.disconnected_at is None and not isinstance(failure, (StreamThenHang, ErrorMidStream)):
            exchange.record.usage_reported = True
