"""Request size and time limits: oversized bodies and headers, slow clients."""

from __future__ import annotations

import http.client
import json
import select
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from conftest import Gateway, StartGateway, fresh_secret

TEN_MIB = 10 * 1024 * 1024
CONFIG = """
    server:
      max_body_size: 4MiB
      max_header_size: 32KiB
      request_head_timeout: 1s
    store:
      path: gatehouse.db
    agents:
      - name: demo
        api_keys:
          - ${GATEHOUSE_API_KEY}
"""


@pytest.fixture
def api_key() -> str:
    return fresh_secret()


@pytest.fixture
def gateway(start_gateway: StartGateway, api_key: str) -> Gateway:
    return start_gateway(CONFIG, env={"GATEHOUSE_API_KEY": api_key})


def chat_body(size: int) -> bytes:
    """A well-formed chat request of exactly `size` bytes, so only its size can be refused."""
    prefix = b'{"model":"m","messages":[{"role":"user","content":"'
    suffix = b'"}]}'
    return prefix + b"a" * (size - len(prefix) - len(suffix)) + suffix


def assert_error_body(raw: bytes) -> None:
    body = json.loads(raw)
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), raw[:500]
    assert isinstance(body["error"].get("message"), str), raw[:500]


def test_body_over_limit_with_content_length_keeps_connection(gateway: Gateway, api_key: str) -> None:
    body = chat_body(TEN_MIB)
    assert len(body) == TEN_MIB
    connection = http.client.HTTPConnection(gateway.host, gateway.port, timeout=30)
    try:
        try:
            connection.request(
                "POST",
                "/v1/chat/completions",
                body=body,
                headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
            )
        except (BrokenPipeError, ConnectionResetError) as error:
            pytest.fail(f"gateway closed the connection while the declared body was being sent: {error!r}")
        first_socket = connection.sock
        response = connection.getresponse()
        raw = response.read()
        assert response.status == 413, raw[:500]
        assert response.getheader("content-type", "").startswith("application/json")
        assert_error_body(raw)
        assert not response.will_close, "the 413 response closes the connection"

        connection.request("GET", "/healthz")
        assert connection.sock is first_socket, "a new connection was opened for the second request"
        healthz = connection.getresponse()
        assert healthz.status == 200
        assert json.loads(healthz.read()) == {"status": "ok"}
    finally:
        connection.close()


def chunked(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        yield b"%x\r\n" % piece + b"a" * piece + b"\r\n"
        sent += piece
    yield b"0\r\n\r\n"


def exchange_while_sending(gateway: Gateway, head: bytes, body: Iterator[bytes]) -> tuple[int, bytes]:
    """Sends head and body from a thread while reading the response, as a server may answer early."""
    sock = socket.create_connection((gateway.host, gateway.port), timeout=30)
    send_errors: list[OSError] = []

    def send() -> None:
        try:
            sock.sendall(head)
            for piece in body:
                sock.sendall(piece)
        except OSError as error:
            send_errors.append(error)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        response = http.client.HTTPResponse(sock, method="POST")
        response.begin()
        return response.status, response.read()
    finally:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()
        sender.join(timeout=10)
        assert not sender.is_alive(), "sender thread still blocked"


def test_chunked_body_over_limit(gateway: Gateway, api_key: str) -> None:
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\n"
        f"Host: {gateway.host}:{gateway.port}\r\n"
        f"Authorization: Bearer {api_key}\r\n"
        "Content-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    status, raw = exchange_while_sending(gateway, head, chunked(TEN_MIB))
    assert status == 413, raw[:500]
    assert_error_body(raw)
    assert gateway.get("/healthz").status_code == 200


def test_slow_request_head_is_cut_off(gateway: Gateway) -> None:
    sock = socket.create_connection((gateway.host, gateway.port), timeout=5)
    try:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        closed_after = None
        received = b""
        header = b"X-Slow: " + b"a" * 200
        for byte in header:
            if time.monotonic() - started > 8:
                break
            try:
                sock.sendall(bytes([byte]))
                readable, _, _ = select.select([sock], [], [], 0.3)
                data = sock.recv(65536) if readable else None
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - started
                break
            if data == b"":
                closed_after = time.monotonic() - started
                break
            if data:
                received += data
        assert closed_after is not None, f"connection still open after 8 s of one header byte per 0.3 s; got {received!r}"
        assert closed_after < 4.0, f"closed only after {closed_after:.1f} s with request_head_timeout 1s"
        assert not received.startswith(b"HTTP/1.1 2"), received[:200]
    finally:
        sock.close()
    assert gateway.get("/healthz").status_code == 200


def test_header_over_limit(gateway: Gateway) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (100 * 1024) + b"\r\n\r\n"
    sock = socket.create_connection((gateway.host, gateway.port), timeout=10)
    received = b""
    try:
        try:
            sock.sendall(request)
            while b"\r\n\r\n" not in received:
                data = sock.recv(65536)
                if not data:
                    break
                received += data
        except (BrokenPipeError, ConnectionResetError):
            pass
    finally:
        sock.close()
    if received:
        status_line = received.split(b"\r\n", 1)[0]
        assert status_line.split(b" ")[1] in (b"400", b"431"), status_line
    assert gateway.get("/healthz").status_code == 200
