"""Graceful shutdown on SIGTERM, and the JSON log format."""

from __future__ import annotations

import json
import re
import signal

from conftest import StartGateway

CONFIG = """
    store:
      path: gatehouse.db
    logging:
      level: debug
"""
LEVELS = {"trace", "debug", "info", "notice", "warning", "error", "critical"}


def test_sigterm_exits_zero_and_logs_shutdown(start_gateway: StartGateway) -> None:
    gateway = start_gateway(CONFIG)
    assert gateway.get("/healthz").status_code == 200

    gateway.send_signal(signal.SIGTERM)
    code = gateway.wait_exit(5.0)

    assert code == 0, f"exit code after SIGTERM: {code} (None: still running after 5 s)\n{gateway.log_text}"
    messages = [json.loads(line).get("message", "") for line in gateway.stderr_lines]
    assert any(re.search(r"shut(ting)?[ _-]?down", message, re.IGNORECASE) for message in messages), messages


def test_json_log_lines(start_gateway: StartGateway) -> None:
    gateway = start_gateway(CONFIG)
    assert gateway.get("/healthz").status_code == 200
    assert gateway.get("/no-such-path").status_code == 404
    assert gateway.stop() == 0

    lines = gateway.stderr_lines
    assert len(lines) >= 2, lines
    for line in lines:
        record = json.loads(line)
        assert isinstance(record, dict), line
        assert record.get("level") in LEVELS, line
        assert isinstance(record.get("message"), str), line
    listening = [json.loads(line) for line in lines if json.loads(line)["message"] == "listening"]
    assert len(listening) == 1, lines
    assert listening[0]["url"] == gateway.url
    assert listening[0]["level"] == "info"
