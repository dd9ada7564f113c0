"""The HTTP side shared by the fake providers: a threaded HTTP/1.1 server on 127.0.0.1, request recording,
failure modes switched per instance, and detection of clients that close a connection before the reply ended.

Replies are written as the providers write them: JSON with a Content-Length, or `text/event-stream` in chunked
transfer encoding with one SSE event per chunk and `chunk_delay` seconds between events, so a client can see
the events arrive one by one. Every wait here is bounded (HANG_LIMIT at most).
"""

from __future__ import annotations

import json
import re
import select
import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# The longest a fake keeps a request hanging when nobody releases it and the client stays connected.
HANG_LIMIT = 60.0
_POLL = 0.01


@dataclass
class RecordedRequest:
    """One request a fake received, and what became of its reply. Times are time.monotonic() values."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    json: Any
    received_at: float
    status: int | None = None
    # The usage the fake billed for this reply (as a real provider bills it), whether or not it was sent.
    usage: dict[str, Any] | None = None
    # True when that usage reached the client in the reply (always for JSON, on request for chat streams).
    usage_reported: bool = False
    # (time written, event text) for every SSE event of a streamed reply, in order.
    sent_events: list[tuple[float, str]] = field(default_factory=list)
    # The JSON body of a JSON reply (a normal one or an error), as sent.
    reply: Any = None
    # When the fake noticed the client had closed the connection before the reply ended; None if it did not.
    disconnected_at: float | None = None
    finished_at: float | None = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def streamed(self) -> bool:
        return bool(self.sent_events)


@dataclass(frozen=True)
class AnswerStatus:
    """Answer with this status and body instead of the normal reply."""

    status: int
    body: Any
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Hang:
    """Read the request and never answer, until released, closed, the client leaves, or HANG_LIMIT."""


@dataclass(frozen=True)
class StreamThenHang:
    """Stream the first `events` events of the normal reply, then hang as `Hang` does."""

    events: int


@dataclass(frozen=True)
class ErrorMidStream:
    """Stream the first `events` events of the normal reply, then the provider's in-stream error event, then end."""

    events: int


FailureMode = AnswerStatus | Hang | StreamThenHang | ErrorMidStream


def count_words(value: Any) -> int:
    """Whitespace-separated words in every string inside `value`: the fakes' deterministic tokenizer."""
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, dict):
        return sum(count_words(item) for item in value.values())
    if isinstance(value, list):
        return sum(count_words(item) for item in value)
    return 0


def split_pieces(text: str) -> list[str]:
    """Splits a reply into the pieces a stream sends: each word with the spaces after it."""
    return re.findall(r"\S+\s*", text) or [text]


def split_arguments(arguments: str, parts: int = 3) -> list[str]:
    """Splits a JSON string into `parts` fragments, the way providers stream tool arguments."""
    size = max(1, -(-len(arguments) // parts))
    return [arguments[index : index + size] for index in range(0, len(arguments), size)] or [""]


def text_of(content: Any) -> str:
    """The text of a message content: a string, or the text parts of a list of blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class ClientGone(Exception):
    """The client closed the connection before the reply ended."""


class Exchange:
    """One request being answered: the recorded request plus the ways to write the reply."""

    def __init__(self, handler: _Handler, provider: FakeProvider, record: RecordedRequest) -> None:
        self._handler = handler
        self.provider = provider
        self.record = record

    def send_json(self, status: int, value: Any, headers: Iterable[tuple[str, str]] = ()) -> None:
        payload = json.dumps(value).encode()
        handler = self._handler
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        for name, header_value in (*self.provider.response_headers(self.record), *headers):
            handler.send_header(name, header_value)
        handler.end_headers()
        self.record.status = status
        self.record.reply = value
        try:
            handler.wfile.write(payload)
            handler.wfile.flush()
        except OSError:
            self._mark_disconnected()
        self.record.finished_at = time.monotonic()

    def start_stream(self) -> None:
        handler = self._handler
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream; charset=utf-8")
        handler.send_header("Cache-Control", "no-cache")
        handler.send_header("Transfer-Encoding", "chunked")
        for name, value in self.provider.response_headers(self.record):
            handler.send_header(name, value)
        handler.end_headers()
        self.record.status = 200
        self._write(b"")

    def send_event(self, text: str) -> None:
        """Writes one SSE event as one chunk, `chunk_delay` after the previous one. Raises ClientGone."""
        if self.record.sent_events:
            self.pause(self.provider.chunk_delay)
        if self.provider.closing:
            raise ClientGone
        data = text.encode()
        self._write(b"%x\r\n%s\r\n" % (len(data), data))
        self.record.sent_events.append((time.monotonic(), text))

    def end_stream(self) -> None:
        self._write(b"0\r\n\r\n")
        self.record.finished_at = time.monotonic()

    def pause(self, seconds: float) -> None:
        """Waits `seconds`, watching the connection; raises ClientGone as soon as the client closed it."""
        deadline = time.monotonic() + seconds
        while True:
            if self._peer_closed():
                self._mark_disconnected()
                raise ClientGone
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            time.sleep(min(remaining, _POLL))

    def hang(self) -> None:
        """Answers nothing until released, closed, the client leaves, or HANG_LIMIT; then drops the connection."""
        deadline = time.monotonic() + HANG_LIMIT
        self._handler.close_connection = True
        try:
            while time.monotonic() < deadline and not self.provider.released(self.record):
                self.pause(_POLL * 5)
        except ClientGone:
            pass
        self.record.finished_at = time.monotonic()

    def _write(self, data: bytes) -> None:
        try:
            if data:
                self._handler.wfile.write(data)
            self._handler.wfile.flush()
        except OSError as error:
            self._mark_disconnected()
            raise ClientGone from error

    def _peer_closed(self) -> bool:
        connection = self._handler.connection
        try:
            readable, _, _ = select.select([connection], [], [], 0)
            if not readable:
                return False
            return connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except (OSError, ValueError):
            return True

    def _mark_disconnected(self) -> None:
        self._handler.close_connection = True
        if self.record.disconnected_at is None:
            self.record.disconnected_at = time.monotonic()
        self.provider.notify()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-provider"
    sys_version = ""
    server: _Server

    def setup(self) -> None:
        super().setup()
        # A reply is written as its head then its body: without this, Nagle's algorithm holds the body
        # until the client's delayed ACK of the head, 40 ms on Linux, on every JSON reply.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.provider.connection_opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.provider.connection_closed(self.connection)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        body = self._read_body()
        split = urllib.parse.urlsplit(self.path)
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        record = RecordedRequest(
            method=self.command,
            path=split.path,
            query=urllib.parse.parse_qs(split.query),
            headers=headers,
            body=body,
            json=parsed,
            received_at=time.monotonic(),
        )
        provider = self.server.provider
        provider.add_record(record)
        exchange = Exchange(self, provider, record)
        try:
            provider.handle(exchange)
        except ClientGone:
            self.close_connection = True
            record.finished_at = record.finished_at or time.monotonic()
        finally:
            provider.notify()

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
    provider: FakeProvider

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that drops an idle keep-alive connection is normal; anything else is printed."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class FakeProvider:
    """Base of the fakes: lifecycle, recording and failure modes. Subclasses implement `route` and the dialect."""

    def __init__(self, *, name: str, api_key: str, chunk_delay: float = 0.02) -> None:
        self.name = name
        self.api_key = api_key
        self.chunk_delay = chunk_delay
        # Replaces the text of text replies when set (a long one makes a long stream).
        self.reply_text: str | None = None
        # When set, the text reply is these pieces joined, and a stream sends exactly these pieces (to split a
        # pattern across events); reply_text and the word-by-word split are then not used.
        self.reply_pieces: list[str] | None = None
        self._condition = threading.Condition()
        self._records: list[RecordedRequest] = []
        self._failure: FailureMode | None = None
        self._failure_times: int | None = None
        self._release_generation = 0
        self._released_before: dict[int, int] = {}
        self._connections: set[socket.socket] = set()
        self._closing = threading.Event()
        self._counter = 0
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.provider = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"fake-{name}", daemon=True
        )

    # Lifecycle

    def start(self) -> FakeProvider:
        self._thread.start()
        return self

    def close(self) -> None:
        """Stops serving: releases hanging requests and drops every open connection."""
        self._closing.set()
        self.notify()
        self._server.shutdown()
        self._server.server_close()
        with self._condition:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5.0)

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def closing(self) -> bool:
        return self._closing.is_set()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What the gateway's provider `base_url` points at."""
        return self.origin

    # Recording

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._condition:
            return list(self._records)

    def last(self) -> RecordedRequest:
        records = self.requests
        assert records, f"fake {self.name} received no request"
        return records[-1]

    def wait_for(self, predicate: Callable[[list[RecordedRequest]], bool], timeout: float) -> bool:
        """Waits until predicate(requests) is true; False when `timeout` seconds passed first."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while not predicate(list(self._records)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(min(remaining, 0.05))
            return True

    def wait_for_disconnect(self, record: RecordedRequest, timeout: float) -> float | None:
        """The time the fake noticed `record`'s client leave, waiting at most `timeout` seconds for it."""
        self.wait_for(lambda _: record.disconnected_at is not None, timeout)
        return record.disconnected_at

    def add_record(self, record: RecordedRequest) -> None:
        with self._condition:
            self._records.append(record)
            self._released_before[id(record)] = self._release_generation
            self._condition.notify_all()

    def notify(self) -> None:
        with self._condition:
            self._condition.notify_all()

    def next_id(self) -> int:
        with self._condition:
            self._counter += 1
            return self._counter

    def connection_opened(self, connection: socket.socket) -> None:
        with self._condition:
            self._connections.add(connection)

    def connection_closed(self, connection: socket.socket) -> None:
        with self._condition:
            self._connections.discard(connection)

    # Failure modes: each applies to the next `times` requests (None: until heal()).

    def fail(self, mode: FailureMode, times: int | None = None) -> None:
        with self._condition:
            self._failure = mode
            self._failure_times = times

    def heal(self) -> None:
        """Back to normal replies."""
        with self._condition:
            self._failure = None
            self._failure_times = None

    def answer_status(
        self,
        status: int,
        message: str,
        *,
        error_type: str | None = None,
        retry_after: str | None = None,
        times: int | None = None,
    ) -> None:
        headers = (("Retry-After", retry_after),) if retry_after is not None else ()
        self.fail(AnswerStatus(status, self.error_body(status, message, error_type), headers), times)

    def answer_400(self, message: str, *, times: int | None = None) -> None:
        self.answer_status(400, message, times=times)

    def answer_429(self, *, retry_after: str | None = None, times: int | None = None) -> None:
        self.answer_status(429, "Rate limit reached for requests", retry_after=retry_after, times=times)

    def answer_503(self, *, retry_after: str | None = None, times: int | None = None) -> None:
        message = "The engine is currently overloaded, please try again later"
        self.answer_status(503, message, retry_after=retry_after, times=times)

    def hang(self, *, times: int | None = None) -> None:
        self.fail(Hang(), times)

    def stream_then_hang(self, events: int, *, times: int | None = None) -> None:
        self.fail(StreamThenHang(events), times)

    def error_mid_stream(self, events: int, *, times: int | None = None) -> None:
        self.fail(ErrorMidStream(events), times)

    def release(self) -> None:
        """Lets every request hanging now end (its connection is dropped without an answer)."""
        with self._condition:
            self._release_generation += 1
            self._condition.notify_all()

    def released(self, record: RecordedRequest) -> bool:
        with self._condition:
            return self._closing.is_set() or self._release_generation > self._released_before.get(id(record), 0)

    def take_failure(self) -> FailureMode | None:
        with self._condition:
            mode = self._failure
            if mode is not None and self._failure_times is not None:
                self._failure_times -= 1
                if self._failure_times <= 0:
                    self._failure = None
                    self._failure_times = None
            return mode

    def scripted_text(self) -> str | None:
        """The text reply the test scripted (reply_pieces, then reply_text); None for the fake's own."""
        if self.reply_pieces is not None:
            return "".join(self.reply_pieces)
        return self.reply_text

    def pieces(self, text: str) -> list[str]:
        """How a stream splits `text`: the scripted pieces when they spell it, else word by word."""
        if self.reply_pieces is not None and "".join(self.reply_pieces) == text:
            return list(self.reply_pieces)
        return split_pieces(text)

    # Handling

    def handle(self, exchange: Exchange) -> None:
        if not self.authorize(exchange):
            return
        self.route(exchange, self.take_failure())

    def stream(self, exchange: Exchange, events: list[str], failure: FailureMode | None) -> None:
        """Writes `events` as an SSE stream, applying a StreamThenHang or ErrorMidStream failure."""
        exchange.start_stream()
        limit = len(events)
        if isinstance(failure, (StreamThenHang, ErrorMidStream)):
            limit = min(limit, failure.events)
        for event in events[:limit]:
            exchange.send_event(event)
        if isinstance(failure, StreamThenHang):
            exchange.hang()
            return
        if isinstance(failure, ErrorMidStream):
            exchange.send_event(self.stream_error_event())
        exchange.end_stream()

    def answer_failure(self, exchange: Exchange, failure: FailureMode | None) -> bool:
        """Answers the failures that replace the whole reply; True when it did."""
        if isinstance(failure, AnswerStatus):
            exchange.send_json(failure.status, failure.body, failure.headers)
            return True
        if isinstance(failure, Hang):
            exchange.hang()
            return True
        return False

    # Dialect hooks

    def authorize(self, exchange: Exchange) -> bool:
        raise NotImplementedError

    def route(self, exchange: Exchange, failure: FailureMode | None) -> None:
        raise NotImplementedError

    def error_body(self, status: int, message: str, error_type: str | None = None) -> Any:
        raise NotImplementedError

    def stream_error_event(self) -> str:
        raise NotImplementedError

    def response_headers(self, record: RecordedRequest) -> list[tuple[str, str]]:
        return []
