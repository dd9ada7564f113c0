"""`gatehouse validate`: every config error named by file, line, column and key path; no secret echoed."""

from __future__ import annotations

import pathlib
import re

import pytest

from conftest import fresh_secret, run_gatehouse, yaml

ERROR_LINE = re.compile(
    r"^(?P<file>.+?):(?P<line>\d+):(?P<column>\d+): error: (?P<path>[A-Za-z0-9_.\[\]]+): (?P<message>.+)$"
)

VALID = """
    server:
      listen: "127.0.0.1:0"
      max_body_size: 4MiB
      max_header_size: 32KiB
      idle_timeout: 60s
      request_head_timeout: 500ms
      request_body_timeout: 30s
      shutdown_grace_period: 3s
    store:
      path: .gatehouse/gatehouse.db
      write_queue_capacity: 1024
    logging:
      level: info
      format: json
    admin:
      token: ${GATEHOUSE_ADMIN_TOKEN}
    agents:
      - name: demo
        api_keys:
          - ${GATEHOUSE_API_KEY}
          - ${GATEHOUSE_SECOND_KEY:-fallback-key-value}
"""

# Line numbers below count from the first line of the dedented text.
THREE_ERRORS = """
    server:
      listen: "127.0.0.1:0"
      listn: x
    store:
      write_queue_capacity: "many"
    admin:
      token: ${GATEHOUSE_TEST_UNSET_VAR}
"""


def validate(tmp_path: pathlib.Path, config: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    (tmp_path / "gatehouse.yaml").write_text(yaml(config))
    result = run_gatehouse(["validate", "--config", "gatehouse.yaml"], cwd=tmp_path, env=env)
    return result.returncode, result.stdout + result.stderr


def errors_in(output: str) -> list[re.Match[str]]:
    return [match for line in output.splitlines() if (match := ERROR_LINE.match(line.strip()))]


def test_valid_config_exits_zero(tmp_path: pathlib.Path) -> None:
    secrets = {"GATEHOUSE_ADMIN_TOKEN": fresh_secret(), "GATEHOUSE_API_KEY": fresh_secret()}
    code, output = validate(tmp_path, VALID, secrets)
    assert code == 0, output
    assert errors_in(output) == []
    for value in secrets.values():
        assert value not in output


def test_each_error_names_file_line_and_key_path(tmp_path: pathlib.Path) -> None:
    code, output = validate(tmp_path, THREE_ERRORS)

    assert code != 0, output
    errors = errors_in(output)
    assert len(errors) == 3, output
    assert {(int(e["line"]), e["path"]) for e in errors} == {
        (3, "server.listn"),
        (5, "store.write_queue_capacity"),
        (7, "admin.token"),
    }, output
    for error in errors:
        assert error["file"] in ("gatehouse.yaml", str(tmp_path / "gatehouse.yaml")), error.string
    unknown = next(e for e in errors if e["path"] == "server.listn")
    assert int(unknown["column"]) == 3, unknown.string
    missing = next(e for e in errors if e["path"] == "admin.token")
    assert "GATEHOUSE_TEST_UNSET_VAR" in missing["message"], missing.string


def test_missing_config_file_is_an_error(tmp_path: pathlib.Path) -> None:
    result = run_gatehouse(["validate", "--config", "absent.yaml"], cwd=tmp_path)
    assert result.returncode != 0
    assert "absent.yaml" in result.stdout + result.stderr


@pytest.mark.parametrize(
    "config",
    [
        pytest.param(
            """
            admin:
              token: ${GATEHOUSE_ADMIN_TOKEN}
            agents:
              - name: demo
                api_keys:
                  - ${GATEHOUSE_API_KEY}
            server:
              listn: x
            """,
            id="secrets-valid-config-broken-elsewhere",
        ),
        pytest.param(
            """
            admin:
              token:
                - ${GATEHOUSE_ADMIN_TOKEN}
            """,
            id="admin-token-wrong-type",
        ),
        pytest.param(
            """
            agents:
              - name: demo
                api_keys:
                  - value: ${GATEHOUSE_API_KEY}
            """,
            id="api-key-wrong-type",
        ),
        pytest.param(
            """
            admin:
              token: ${GATEHOUSE_ADMIN_TOKEN}
              tokn: ${GATEHOUSE_API_KEY}
            """,
            id="secret-under-unknown-key",
        ),
    ],
)
def test_secrets_never_printed(tmp_path: pathlib.Path, config: str) -> None:
    secrets = {"GATEHOUSE_ADMIN_TOKEN": fresh_secret("gh-admin-"), "GATEHOUSE_API_KEY": fresh_secret("gh-key-")}
    code, output = validate(tmp_path, config, secrets)
    assert code != 0, output
    assert len(errors_in(output)) >= 1, output
    for name, value in secrets.items():
        assert value not in output, f"{name}'s value printed:\n{output}"
