"""A fake OpenAI API: Chat Completions, Responses, Embeddings and Models, as the official `openai` SDK parses them.

Base URL `http://127.0.0.1:PORT/v1`. It answers 401 unless `Authorization: Bearer <api_key>`. Replies are
deterministic: a text reply is "Hello from <name>." (or "The tool said: <result>" after a tool result); a request
with tools gets one call of its first tool with `tool_arguments`. Token counts:

- chat: prompt_tokens = 3 per message + words in the messages + 10 per tool; completion_tokens =
  `completion_tokens` (text) or `tool_completion_tokens` (tool call);
- responses: input_tokens = 5 + words in `input` and `instructions` + 10 per tool; output_tokens as for chat;
- embeddings: prompt_tokens = words in each string input (token arrays count their length).

Chat replies can be scripted further: `cached_tokens` and `reasoning_tokens` go into the usage details (parts of
prompt_tokens and completion_tokens, capped by them), `response_model` replaces the request's model in the reply
(as OpenAI answers with a dated snapshot), and `tool_result_text` replaces the text answered after a tool result.
"""

from __future__ import annotations

import base64
import struct
import time
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

CREATED = 1_700_000_000
_ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error",
                429: "requests", 500: "server_error", 503: "server_error"}
_CHAT_ROLES = {"developer", "system", "user", "assistant", "tool", "function"}


class BadRequest(Exception):
    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


class FakeOpenAI(FakeProvider):
    def __init__(
        self,
        *,
        name: str = "openai",
        api_key: str,
        chunk_delay: float = 0.02,
        models: tuple[str, ...] = ("gpt-4o-mini", "text-embedding-3-small"),
        tool_arguments: dict[str, Any] | None = None,
        completion_tokens: int = 9,
        tool_completion_tokens: int = 17,
        embedding_dimensions: int = 4,
        cached_tokens: int = 0,
        reasoning_tokens: int = 0,
        response_model: str | None = None,
    ) -> None:
        super().__init__(name=name, api_key=api_key, chunk_delay=chunk_delay)
        self.models = models
        self.tool_arguments = tool_arguments if tool_arguments is not None else {"city": "Oslo"}
        self.completion_tokens = completion_tokens
        self.tool_completion_tokens = tool_completion_tokens
        self.embedding_dimensions = embedding_dimensions
        self.cached_tokens = cached_tokens
        self.reasoning_tokens = reasoning_tokens
        self.response_model = response_model
        # The chat answer after a tool result, instead of "The tool said: <result>".
        self.tool_result_text: str | None = None

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    def text_reply(self) -> str:
        return self.scripted_text() or f"Hello from {self.name}."

    @staticmethod
    def expected_embedding(index: int, dimensions: int) -> list[float]:
        """The vector the fake returns for input `index`: values exact in float32."""
        return [float(index + 1) + (position + 1) / 8 for position in range(dimensions)]

    # Dialect

    def error_body(self, status: int, message: str, error_type: str | None = None) -> Any:
        code = {429: "rate_limit_exceeded", 401: "invalid_api_key"}.get(status)
        return {"error": {"message": message, "type": error_type or _ERROR_TYPES.get(status, "server_error"),
                          "param": None, "code": code}}

    def stream_error_event(self) -> str:
        error = {"message": "The server had an error while processing your request.", "type": "server_error",
                 "param": None, "code": None}
        return f"data: {compact_json({'error': error})}\n\n"

    def response_headers(self, record: RecordedRequest) -> list[tuple[str, str]]:
        return [("x-request-id", f"req_{self.name}_{id(record):x}"), ("openai-processing-ms", "1")]

    def authorize(self, exchange: Exchange) -> bool:
        if exchange.record.header("authorization") == f"Bearer {self.api_key}":
            return True
        exchange.send_json(401, self.error_body(401, "Incorrect API key provided."))
        return False

    def route(self, exchange: Exchange, failure: FailureMode | None) -> None:
        record = exchange.record
        if record.method == "GET" and record.path == "/v1/models":
            if not self.answer_failure(exchange, failure):
                exchange.send_json(200, {"object": "list", "data": [self._model(name) for name in self.models]})
            return
        if record.method == "GET" and record.path.startswith("/v1/models/"):
            name = record.path.removeprefix("/v1/models/")
            if self.answer_failure(exchange, failure):
                return
            if name in self.models:
                exchange.send_json(200, self._model(name))
            else:
                exchange.send_json(404, self.error_body(404, f"The model '{name}' does not exist"))
            return
        handlers = {
            "/v1/chat/completions": self._chat,
            "/v1/responses": self._responses,
            "/v1/embeddings": self._embeddings,
        }
        handler = handlers.get(record.path)
        if record.method != "POST" or handler is None:
            exchange.send_json(404, self.error_body(404, f"Invalid URL ({record.method} {record.path})"))
            return
        body = record.json
        if not isinstance(body, dict):
            exchange.send_json(400, self.error_body(400, "We could not parse the JSON body of your request."))
            return
        if self.answer_failure(exchange, failure):
            return
        try:
            handler(exchange, body, failure)
        except BadRequest as error:
            payload = self.error_body(400, error.message)
            payload["error"]["param"] = error.param
            exchange.send_json(400, payload)

    @staticmethod
    def _model(name: str) -> dict[str, Any]:
        return {"id": name, "object": "model", "created": CREATED, "owned_by": "fake"}

    # Chat Completions

    def _chat(self, exchange: Exchange, body: dict[str, Any], failure: FailureMode | None) -> None:
        messages = self._validate_chat(body)
        tools = body.get("tools") or []
        model = body["model"]
        stream = body.get("stream") is True
        include_usage = stream and (body.get("stream_options") or {}).get("include_usage") is True
        last = messages[-1]
        tool_call = None
        if tools and last.get("role") != "tool" and body.get("tool_choice") != "none":
            number = self.next_id()
            tool_call = {"id": f"call_{self.name}_{number}", "type": "function",
                         "function": {"name": tools[0]["function"]["name"],
                                      "arguments": compact_json(self.tool_arguments)}}
            text = None
        elif last.get("role") == "tool":
            text = self.tool_result_text or f"The tool said: {text_of(last.get('content'))}"
        else:
            text = self.text_reply()
        prompt_tokens = 3 * len(messages) + count_words(messages) + 10 * len(tools)
        completion_tokens = self.tool_completion_tokens if tool_call else self.completion_tokens
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": min(self.cached_tokens, prompt_tokens), "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": min(self.reasoning_tokens, completion_tokens),
                                          "audio_tokens": 0, "accepted_prediction_tokens": 0,
                                          "rejected_prediction_tokens": 0},
        }
        exchange.record.usage = usage
        model = self.response_model or model
        completion_id = f"chatcmpl-{self.name}-{self.next_id()}"
        finish_reason = "tool_calls" if tool_call else "stop"
        if not stream:
            if isinstance(failure, (StreamThenHang, ErrorMidStream)):
                exchange.hang()
                return
            message = {"role": "assistant", "content": text, "refusal": None, "annotations": []}
            if tool_call:
                message["tool_calls"] = [tool_call]
            exchange.record.usage_reported = True
            exchange.send_json(200, {
                "id": completion_id, "object": "chat.completion", "created": CREATED, "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}],
                "usage": usage, "service_tier": "default",
            })
            return

        base = {"id": completion_id, "object": "chat.completion.chunk", "created": CREATED, "model": model,
                "system_fingerprint": "fp_fake", "service_tier": "default"}

        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            value = {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
            if include_usage:
                value["usage"] = None
            return f"data: {compact_json(value)}\n\n"

        events = [chunk({"role": "assistant", "content": None if tool_call else "", "refusal": None})]
        if tool_call:
            function = tool_call["function"]
            events.append(chunk({"tool_calls": [{"index": 0, "id": tool_call["id"], "type": "function",
                                                 "function": {"name": function["name"], "arguments": ""}}]}))
            for fragment in split_arguments(function["arguments"]):
                events.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": fragment}}]}))
        else:
            events.extend(chunk({"content": piece}) for piece in self.pieces(text or ""))
        events.append(chunk({}, finish_reason))
        if include_usage:
            events.append(f"data: {compact_json({**base, 'choices': [], 'usage': usage})}\n\n")
        events.append("data: [DONE]\n\n")
        self.stream(exchange, events, failure)
        if include_usage and exchange.record.disconnected_at is None:
            exchange.record.usage_reported = not isinstance(failure, (StreamThenHang, ErrorMidStream))

    def _validate_chat(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        if not isinstance(body.get("model"), str) or not body["model"]:
            raise BadRequest("you must provide a model parameter", "model")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise BadRequest("[] is too short - 'messages'", "messages")
        if "stream_options" in body and body.get("stream") is not True:
            raise BadRequest("The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                             "stream_options")
        for tool in body.get("tools") or []:
            function = tool.get("function") if isinstance(tool, dict) else None
            if tool.get("type") != "function" or not isinstance(function, dict) or not function.get("name"):
                raise BadRequest("Missing required parameter: 'tools[0].function'.", "tools")
        open_calls: set[str] = set()
        for index, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") not in _CHAT_ROLES:
                raise BadRequest(f"Invalid value for 'messages[{index}].role'.", f"messages[{index}].role")
            if message["role"] == "assistant":
                open_calls = set()
                for call in message.get("tool_calls") or []:
                    function = call.get("function") or {}
                    if not isinstance(function.get("arguments"), str) or not isinstance(function.get("name"), str):
                        raise BadRequest(
                            f"Invalid type for 'messages[{index}].tool_calls[0].function.arguments': "
                            "expected a string.",
                            f"messages[{index}].tool_calls",
                        )
                    open_calls.add(call.get("id"))
            elif message["role"] == "tool":
                if message.get("tool_call_id") not in open_calls:
                    raise BadRequest(
                        "Invalid parameter: messages with role 'tool' must be a response to a preceeding message "
                        "with 'tool_calls'.",
                        f"messages.[{index}].role",
                    )
        return messages

    # Responses

    def _responses(self, exchange: Exchange, body: dict[str, Any], failure: FailureMode | None) -> None:
        if not isinstance(body.get("model"), str) or not body["model"]:
            raise BadRequest("Missing required parameter: 'model'.", "model")
        items = body.get("input")
        if not isinstance(items, (str, list)):
            raise BadRequest("Missing required parameter: 'input'.", "input")
        tools = body.get("tools") or []
        for tool in tools:
            if tool.get("type") == "function" and not tool.get("name"):
                raise BadRequest("Missing required parameter: 'tools[0].name'.", "tools")
        last = items[-1] if isinstance(items, list) and items else None
        result_item = last if isinstance(last, dict) and last.get("type") == "function_call_output" else None
        function_tools = [tool for tool in tools if tool.get("type") == "function"]
        response_id = f"resp_{self.name}_{self.next_id()}"
        if function_tools and result_item is None:
            number = self.next_id()
            item: dict[str, Any] = {"type": "function_call", "id": f"fc_{self.name}_{number}",
                                    "call_id": f"call_{self.name}_{number}", "name": function_tools[0]["name"],
                                    "arguments": compact_json(self.tool_arguments), "status": "completed"}
            output_tokens = self.tool_completion_tokens
            text = None
        else:
            text = (f"The tool said: {text_of(result_item.get('output'))}" if result_item else self.text_reply())
            item = {"type": "message", "id": f"msg_{self.name}_{self.next_id()}", "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]}
            output_tokens = self.completion_tokens
        input_tokens = 5 + count_words(items) + count_words(body.get("instructions")) + 10 * len(tools)
        usage = {"input_tokens": input_tokens, "input_tokens_details": {"cached_tokens": 0},
                 "output_tokens": output_tokens, "output_tokens_details": {"reasoning_tokens": 0},
                 "total_tokens": input_tokens + output_tokens}
        exchange.record.usage = usage
        created_at = int(time.time())

        def response(status: str, output: list[Any], with_usage: bool) -> dict[str, Any]:
            return {
                "id": response_id, "object": "response", "created_at": created_at, "status": status,
                "background": False, "error": None, "incomplete_details": None,
                "instructions": body.get("instructions"), "max_output_tokens": body.get("max_output_tokens"),
                "model": body["model"], "output": output, "parallel_tool_calls": True,
                "previous_response_id": None, "reasoning": {"effort": None, "summary": None},
                "service_tier": "default", "store": body.get("store", True), "temperature": 1.0,
                "text": {"format": {"type": "text"}, "verbosity": "medium"},
                "tool_choice": body.get("tool_choice", "auto"),
                "tools": tools, "top_p": 1.0, "truncation": "disabled",
                "usage": usage if with_usage else None, "user": None, "metadata": body.get("metadata") or {},
            }

        if body.get("stream") is not True:
            if isinstance(failure, (StreamThenHang, ErrorMidStream)):
                exchange.hang()
                return
            exchange.record.usage_reported = True
            exchange.send_json(200, response("completed", [item], True))
            return

        sequence = 0
        events: list[str] = []

        def event(kind: str, **fields: Any) -> None:
            nonlocal sequence
            payload = compact_json({"type": kind, "sequence_number": sequence, **fields})
            events.append(f"event: {kind}\ndata: {payload}\n\n")
            sequence += 1

        event("response.created", response=response("in_progress", [], False))
        event("response.in_progress", response=response("in_progress", [], False))
        if text is None:
            event("response.output_item.added", output_index=0,
                  item={**item, "arguments": "", "status": "in_progress"})
            for fragment in split_arguments(item["arguments"]):
                event("response.function_call_arguments.delta", item_id=item["id"], output_index=0, delta=fragment)
            event("response.function_call_arguments.done", item_id=item["id"], output_index=0,
                  name=item["name"], arguments=item["arguments"])
        else:
            event("response.output_item.added", output_index=0,
                  item={**item, "status": "in_progress", "content": []})
            event("response.content_part.added", item_id=item["id"], output_index=0, content_index=0,
                  part={"type": "output_text", "text": "", "annotations": [], "logprobs": []})
            for piece in self.pieces(text):
                event("response.output_text.delta", item_id=item["id"], output_index=0, content_index=0,
                      delta=piece, logprobs=[])
            event("response.output_text.done", item_id=item["id"], output_index=0, content_index=0,
                  text=text, logprobs=[])
            event("response.content_part.done", item_id=item["id"], output_index=0, content_index=0,
                  part=item["content"][0])
        event("response.output_item.done", output_index=0, item=item)
        event("response.completed", response=response("completed", [item], True))
        self.stream(exchange, events, failure)
        if exchange.record.disconnected_at is None and not isinstance(failure, (StreamThenHang, ErrorMidStream)):
            exchange.record.usage_reported = True

    # Embeddings

    def _embeddings(self, exchange: Exchange, body: dict[str, Any], failure: FailureMode | None) -> None:
        if not isinstance(body.get("model"), str) or not body["model"]:
            raise BadRequest("you must provide a model parameter", "model")
        raw = body.get("input")
        if isinstance(raw, str) or (isinstance(raw, list) and raw and all(isinstance(x, int) for x in raw)):
            inputs: list[Any] = [raw]
        elif isinstance(raw, list) and raw:
            inputs = raw
        else:
            raise BadRequest("'input' : input must be a string, an array of strings, or an array of tokens", "input")
        encoding = body.get("encoding_format", "float")
        if encoding not in ("float", "base64"):
            raise BadRequest(f"Invalid value for 'encoding_format': '{encoding}'.", "encoding_format")
        dimensions = body.get("dimensions") or self.embedding_dimensions
        data = []
        prompt_tokens = 0
        for index, value in enumerate(inputs):
            prompt_tokens += count_words(value) if isinstance(value, str) else len(value)
            vector = self.expected_embedding(index, dimensions)
            embedding: Any = vector
            if encoding == "base64":
                embedding = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        usage = {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}
        exchange.record.usage = usage
        exchange.record.usage_reported = True
        exchange.send_json(200, {"object": "list", "data": data, "model": body["model"], "usage": usage})

