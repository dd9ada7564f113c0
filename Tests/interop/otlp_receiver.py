"""Trace receivers for the tracing tests: an OTLP/HTTP collector and a Langfuse-shaped OTel endpoint.

`TraceReceiver` is a threaded HTTP/1.1 server on 127.0.0.1 (a free port) that records every POST as it
arrived (path, headers, raw body, time, and the status it answered) and decodes the accepted ones:

- mode "otlp": `POST /v1/traces`, as an OpenTelemetry collector serves it; answers 200 with an
  `ExportTraceServiceResponse` in the request's encoding (protobuf or JSON).
- mode "langfuse": `POST /api/public/otel/v1/traces`, as Langfuse serves it: `Authorization: Basic
  base64(public:secret)` with the keys it was given, else 401; answers 200 `{}` as JSON whatever the
  request's encoding.

Bodies are `application/x-protobuf` (`ExportTraceServiceRequest`, decoded with the `opentelemetry-proto`
classes) or `application/json` (OTLP/JSON: hex ids, lowerCamelCase keys, 64-bit integers as strings),
optionally gzip-encoded. Spans come out as plain dicts (see `span_dict`). `fail_next` scripts failures
(the next N requests answered with a status and an optional Retry-After); a failed request's body is
recorded but its spans are not counted as received. Every wait is bounded.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

OTLP_PATH = "/v1/traces"
LANGFUSE_PATH = "/api/public/otel/v1/traces"
PROTOBUF = "application/x-protobuf"
JSON = "application/json"

# Span kinds and status codes as OTLP numbers them.
KIND_INTERNAL = trace_pb2.Span.SPAN_KIND_INTERNAL  # 1
KIND_SERVER = trace_pb2.Span.SPAN_KIND_SERVER  # 2
KIND_CLIENT = trace_pb2.Span.SPAN_KIND_CLIENT  # 3
STATUS_UNSET, STATUS_OK, STATUS_ERROR = 0, 1, 2


@dataclass
class ReceivedRequest:
    """One POST the receiver got. `received_at` is time.monotonic(); `status` is what it answered."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float
    status: int = 0
    # The spans of the body, decoded (empty when the body was not a trace export); None if undecodable.
    spans: list[dict[str, Any]] | None = field(default=None, repr=False)
    decode_error: str | None = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300

    @property
    def span_ids(self) -> list[str]:
        return [span["span_id"] for span in self.spans or []]


@dataclass
class _Failure:
    status: int
    retry_after: str | None
    body: bytes
    content_type: str


class TraceReceiver:
    """An OTLP/HTTP trace receiver on 127.0.0.1:0; mode "otlp" or "langfuse" (see the module doc)."""

    def __init__(self, mode: str = "otlp", *, public_key: str = "", secret_key: str = "") -> None:
        assert mode in ("otlp", "langfuse"), mode
        if mode == "langfuse":
            assert public_key and secret_key, "a Langfuse receiver needs its keys"
        self.mode = mode
        self.public_key = public_key
        self.secret_key = secret_key
        self._condition = threading.Condition()
        self._requests: list[ReceivedRequest] = []
        self._failures: list[_Failure] = []
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.receiver = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"receiver-{mode}", daemon=True
        )

    # Lifecycle

    def start(self) -> TraceReceiver:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5.0)

    def __enter__(self) -> TraceReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """The base URL: OTEL_EXPORTER_OTLP_ENDPOINT for an OTLP receiver, LANGFUSE_HOST for a Langfuse one."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def path(self) -> str:
        return OTLP_PATH if self.mode == "otlp" else LANGFUSE_PATH

    @property
    def expected_authorization(self) -> str:
        token = base64.b64encode(f"{self.public_key}:{self.secret_key}".encode()).decode()
        return f"Basic {token}"

    # Scripting

    def fail_next(
        self,
        times: int,
        status: int,
        *,
        retry_after: str | None = None,
        body: bytes = b"",
        content_type: str = "text/plain",
    ) -> None:
        """Answers the next `times` trace exports with `status` (and `Retry-After` when given)."""
        with self._condition:
            self._failures.extend(_Failure(status, retry_after, body, content_type) for _ in range(times))

    def clear(self) -> None:
        """Forgets what was received and any scripted failure."""
        with self._condition:
            self._requests.clear()
            self._failures.clear()

    # What arrived

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Every request, in arrival order, whatever it was answered."""
        with self._condition:
            return list(self._requests)

    def exports(self) -> list[ReceivedRequest]:
        """The requests to the trace path, in arrival order."""
        return [request for request in self.requests if request.method == "POST" and request.path == self.path]

    def accepted(self) -> list[ReceivedRequest]:
        """The trace exports answered 2xx, in arrival order."""
        return [request for request in self.exports() if request.accepted]

    def spans(self) -> list[dict[str, Any]]:
        """Every span of every accepted export, in arrival order (a span sent twice is listed twice)."""
        return [span for request in self.accepted() for span in request.spans or []]

    def trace(self, trace_id: str) -> list[dict[str, Any]]:
        return [span for span in self.spans() if span["trace_id"] == trace_id]

    def raw_bytes(self) -> list[bytes]:
        """The raw body of every request received (any path, any answer), as it came on the wire."""
        return [request.body for request in self.requests]

    def wait_for(self, predicate: Callable[[TraceReceiver], Any], timeout: float, interval: float = 0.05) -> Any:
        """Polls predicate(self) until it returns something truthy (returned), or None after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate(self)
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            with self._condition:
                self._condition.wait(min(remaining, interval))

    def wait_for_spans(
        self, predicate: Callable[[list[dict[str, Any]]], Any], timeout: float, interval: float = 0.05
    ) -> Any:
        """wait_for on the accepted spans: predicate(spans)'s first truthy value, or None after `timeout`."""
        return self.wait_for(lambda receiver: predicate(receiver.spans()), timeout, interval)

    # Serving (called by the handler)

    def _answer(self, handler: _Handler, request: ReceivedRequest) -> tuple[int, list[tuple[str, str]], bytes]:
        if request.method != "POST" or request.path != self.path:
            return 404, [("Content-Type", JSON)], b'{"message":"not found"}'
        if self.mode == "langfuse" and request.header("authorization") != self.expected_authorization:
            return 401, [("Content-Type", JSON), ("WWW-Authenticate", 'Basic realm="langfuse"')], (
                b'{"message":"Invalid authorization header"}'
            )
        with self._condition:
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            headers = [("Content-Type", failure.content_type)]
            if failure.retry_after is not None:
                headers.append(("Retry-After", failure.retry_after))
            return failure.status, headers, failure.body
        content_type = (request.header("content-type") or "").lower()
        if PROTOBUF not in content_type and JSON not in content_type:
            return 400, [("Content-Type", JSON)], b'{"message":"unsupported content type"}'
        if request.decode_error is not None:
            return 400, [("Content-Type", JSON)], json.dumps({"message": request.decode_error}).encode()
        if self.mode == "langfuse":
            return 200, [("Content-Type", JSON)], b"{}"
        if JSON in content_type:
            return 200, [("Content-Type", JSON)], b"{}"
        return 200, [("Content-Type", PROTOBUF)], trace_service_pb2.ExportTraceServiceResponse().SerializeToString()

    def _record(self, request: ReceivedRequest) -> None:
        with self._condition:
            self._requests.append(request)
            self._condition.notify_all()

    def _notify(self) -> None:
        with self._condition:
            self._condition.notify_all()


# ---------------------------------------------------------------------------------------------------
# Decoding


def decode_export(body: bytes, content_type: str, content_encoding: str = "") -> list[dict[str, Any]]:
    """The spans of an ExportTraceServiceRequest body (protobuf or OTLP/JSON); raises ValueError if it is not one."""
    if "gzip" in content_encoding.lower():
        body = gzip.decompress(body)
    if JSON in content_type.lower():
        return _spans_from_json(json.loads(body))
    message = trace_service_pb2.ExportTraceServiceRequest()
    try:
        message.ParseFromString(body)
    except DecodeError as error:
        raise ValueError(f"not an ExportTraceServiceRequest: {error}") from error
    return spans_of(message)


def spans_of(message: trace_service_pb2.ExportTraceServiceRequest) -> list[dict[str, Any]]:
    spans = []
    for resource_spans in message.resource_spans:
        resource = attributes_dict(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            scope = {"name": scope_spans.scope.name, "version": scope_spans.scope.version}
            for span in scope_spans.spans:
                spans.append(span_dict(span, resource, scope))
    return spans


def span_dict(span: trace_pb2.Span, resource: dict[str, Any], scope: dict[str, str]) -> dict[str, Any]:
    """One span as plain values: ids in lowercase hex ("" for none), times in ns, attributes as a dict."""
    return {
        "trace_id": span.trace_id.hex(),
        "span_id": span.span_id.hex(),
        "parent_span_id": span.parent_span_id.hex(),
        "name": span.name,
        "kind": int(span.kind),
        "start": int(span.start_time_unix_nano),
        "end": int(span.end_time_unix_nano),
        "attributes": attributes_dict(span.attributes),
        "events": [
            {"name": event.name, "time": int(event.time_unix_nano), "attributes": attributes_dict(event.attributes)}
            for event in span.events
        ],
        "links": [
            {"trace_id": link.trace_id.hex(), "span_id": link.span_id.hex(), "attributes": attributes_dict(link.attributes)}
            for link in span.links
        ],
        "status": {"code": int(span.status.code), "message": span.status.message},
        "resource": resource,
        "scope": scope,
    }


def attributes_dict(attributes: Iterable[common_pb2.KeyValue]) -> dict[str, Any]:
    return {attribute.key: any_value(attribute.value) for attribute in attributes}


def any_value(value: common_pb2.AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return attributes_dict(value.kvlist_value.values)
    return getattr(value, kind)


def _hex_id(value: Any) -> str:
    """An id of OTLP/JSON (hex, any case) as lowercase hex; "" for none."""
    if not value:
        return ""
    text = str(value).lower()
    binascii.unhexlify(text)  # raises on anything but hex
    return text


def _json_value(value: dict[str, Any]) -> Any:
    if "stringValue" in value:
        return value["stringValue"]
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "arrayValue" in value:
        return [_json_value(item) for item in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return _json_attributes(value["kvlistValue"].get("values", []))
    if "bytesValue" in value:
        return base64.b64decode(value["bytesValue"])
    return None


def _json_attributes(attributes: list[dict[str, Any]]) -> dict[str, Any]:
    return {attribute["key"]: _json_value(attribute.get("value") or {}) for attribute in attributes}


def _spans_from_json(message: dict[str, Any]) -> list[dict[str, Any]]:
    spans = []
    for resource_spans in message.get("resourceSpans", []):
        resource = _json_attributes((resource_spans.get("resource") or {}).get("attributes", []))
        for scope_spans in resource_spans.get("scopeSpans", []):
            raw_scope = scope_spans.get("scope") or {}
            scope = {"name": raw_scope.get("name", ""), "version": raw_scope.get("version", "")}
            for span in scope_spans.get("spans", []):
                status = span.get("status") or {}
                spans.append(
                    {
                        "trace_id": _hex_id(span.get("traceId")),
                        "span_id": _hex_id(span.get("spanId")),
                        "parent_span_id": _hex_id(span.get("parentSpanId")),
                        "name": span.get("name", ""),
                        "kind": int(span.get("kind", 0)),
                        "start": int(span.get("startTimeUnixNano", 0)),
                        "end": int(span.get("endTimeUnixNano", 0)),
                        "attributes": _json_attributes(span.get("attributes", [])),
                        "events": [
                            {
                                "name": event.get("name", ""),
                                "time": int(event.get("timeUnixNano", 0)),
                                "attributes": _json_attributes(event.get("attributes", [])),
                            }
                            for event in span.get("events", [])
                        ],
                        "links": [
                            {
                                "trace_id": _hex_id(link.get("traceId")),
                                "span_id": _hex_id(link.get("spanId")),
                                "attributes": _json_attributes(link.get("attributes", [])),
                            }
                            for link in span.get("links", [])
                        ],
                        "status": {"code": int(status.get("code", 0)), "message": status.get("message", "")},
                        "resource": resource,
                        "scope": scope,
                    }
                )
    return spans


# ---------------------------------------------------------------------------------------------------
# The HTTP side


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "trace-receiver"
    sys_version = ""
    server: _Server

    def setup(self) -> None:
        super().setup()
        # The answer's head and body go out as two writes: no Nagle delay between them.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def do_POST(self) -> None:
        self._dispatch()

    def do_GET(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        receiver = self.server.receiver
        body = self._read_body()
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        request = ReceivedRequest(
            method=self.command,
            path=self.path.split("?", 1)[0],
            headers=headers,
            body=body,
            received_at=time.monotonic(),
        )
        if request.method == "POST" and request.path == receiver.path:
            try:
                request.spans = decode_export(body, headers.get("content-type", ""), headers.get("content-encoding", ""))
            except (ValueError, OSError, KeyError, TypeError) as error:
                request.decode_error = f"{type(error).__name__}: {error}"
        status, reply_headers, payload = receiver._answer(self, request)
        request.status = status
        # Recorded before the answer leaves, so that a client that saw the answer finds the record.
        receiver._record(request)
        try:
            self.send_response(status)
            for name, value in reply_headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
        except OSError:
            self.close_connection = True
        receiver._notify()

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts = []
            while True:
                size_line = self.rfile.readline(1 << 16)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1 << 16) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline(1 << 16)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    receiver: TraceReceiver

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that drops an idle keep-alive connection is normal; anything else is printed."""
        import sys

        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)
