"""`gatehouse serve` with no arguments: the documented defaults, then a clean exit on SIGINT."""

from __future__ import annotations

import errno
import pathlib
import signal
import socket
import time

import httpx
import pytest

from conftest import START_TIMEOUT, GatehouseProcess, clean_env, plain_request

DEFAULT_URL = "http://127.0.0.1:4000"


def port_4000_taken() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", 4000))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return "127.0.0.1:4000 is already in use on this machine"
            raise
    return None


def test_serve_without_arguments(tmp_path: pathlib.Path) -> None:
    reason = port_4000_taken()
    if reason:
        pytest.skip(reason)

    gateway = GatehouseProcess(["serve"], cwd=tmp_path, env=clean_env())
    try:
        with httpx.Client(base_url=DEFAULT_URL, trust_env=False, timeout=10.0) as client:
            deadline = time.monotonic() + START_TIMEOUT
            healthz = None
            while healthz is None:
                assert gateway.running, f"gatehouse exited with {gateway.proc.returncode}:\n{gateway.log_text}"
                assert time.monotonic() < deadline, f"nothing on {DEFAULT_URL} after {START_TIMEOUT}s:\n{gateway.log_text}"
                try:
                    healthz = client.get("/healthz")
                except httpx.TransportError:
                    time.sleep(0.05)

            assert healthz.status_code == 200
            assert healthz.json() == {"status": "ok"}
            assert DEFAULT_URL in gateway.log_text, "the startup log names the address it listens on"

            # No key is configured by default: an empty key must not authenticate.
            assert client.post("/v1/chat/completions", json={}).status_code == 401
            for value in ("Bearer ", "Bearer"):
                status, _, body = plain_request(
                    "127.0.0.1", 4000, "POST", "/v1/chat/completions", {"Authorization": value}, b"{}"
                )
                assert status == 401, body
            assert client.post("/v1/chat/completions", json={}, headers={"x-api-key": ""}).status_code == 401

        assert (tmp_path / ".gatehouse" / "gatehouse.db").is_file(), sorted(
            str(path.relative_to(tmp_path)) for path in tmp_path.rglob("*")
        )

        gateway.send_signal(signal.SIGINT)
        code = gateway.wait_exit(5.0)
        assert code == 0, f"exit code after SIGINT: {code} (None: still running after 5 s)\n{gateway.log_text}"
    finally:
        if gateway.running:
            gateway.proc.kill()
            gateway.wait_exit(5.0)
