"""`serve` refuses to start on a store it cannot open, naming the path."""

from __future__ import annotations

import pathlib

from conftest import run_gatehouse, yaml


def serve(tmp_path: pathlib.Path, store_path: str) -> tuple[int, str]:
    (tmp_path / "gatehouse.yaml").write_text(
        yaml(
            f"""
            server:
              listen: "127.0.0.1:0"
            store:
              path: {store_path}
            """
        )
    )
    result = run_gatehouse(["serve", "--config", "gatehouse.yaml"], cwd=tmp_path, timeout=15)
    return result.returncode, result.stdout + result.stderr


def test_store_path_under_a_regular_file(tmp_path: pathlib.Path) -> None:
    (tmp_path / "file.txt").write_text("a regular file, not a directory\n")

    code, output = serve(tmp_path, "file.txt/x.db")

    assert code != 0, output
    assert "file.txt/x.db" in output, output
    assert (tmp_path / "file.txt").read_text() == "a regular file, not a directory\n"


def test_corrupt_store_file(tmp_path: pathlib.Path) -> None:
    garbage = bytes(range(256)) * 16
    assert len(garbage) == 4096
    (tmp_path / "state.db").write_bytes(garbage)

    code, output = serve(tmp_path, "state.db")

    assert code != 0, output
    assert "state.db" in output, output
    assert "not a valid SQLite database" in output, output
    assert (tmp_path / "state.db").read_bytes() == garbage, "the corrupt file was changed"
