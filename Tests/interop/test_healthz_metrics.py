"""Health, readiness and Prometheus metrics endpoints of a running gateway."""

from __future__ import annotations

import re

from conftest import StartGateway

CONFIG = """
    store:
      path: gatehouse.db
"""

SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)(?:\s+\d+)?$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    found = []
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match and match["name"] == name:
            found.append((dict(LABEL.findall(match["labels"] or "")), float(match["value"])))
    return found


def test_healthz_answers_status_ok(start_gateway: StartGateway) -> None:
    gateway = start_gateway(CONFIG)
    response = gateway.get("/healthz")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"status": "ok"}


def test_readyz_answers_200(start_gateway: StartGateway) -> None:
    gateway = start_gateway(CONFIG)
    assert gateway.get("/readyz").status_code == 200


def test_metrics_count_requests_by_route(start_gateway: StartGateway) -> None:
    gateway = start_gateway(CONFIG)
    for _ in range(3):
        assert gateway.get("/healthz").status_code == 200

    response = gateway.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    healthz = [value for labels, value in samples(response.text, "gatehouse_http_requests_total")
               if labels.get("route") == "/healthz"]
    assert healthz, f'no gatehouse_http_requests_total sample with route="/healthz" in:\n{response.text}'
    assert sum(healthz) == 3
    assert samples(response.text, "gatehouse_http_request_duration_seconds_bucket"), response.text
