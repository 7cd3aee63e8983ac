"""``ledger serve``: a port in use is refused before it makes up a key or prints a banner, and the
banner says where the store is."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from api import workers
from api.cli.main import main


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "BOOTSTRAP_ADMIN_KEY", "HOST", "PORT", "WORKERS"):
        monkeypatch.setenv(f"LEDGER_{name}", "placeholder")  # registers the undo...
        monkeypatch.delenv(f"LEDGER_{name}")  # ...then starts from unset


@pytest.mark.parametrize("worker_count", [1, 2])
def test_a_port_in_use_is_reported_before_any_key_or_banner(
    worker_count: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    started: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda _app, **options: started.append(options))
    monkeypatch.setattr(workers, "serve_workers", lambda _app, **options: started.append(options))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        argv = ["serve", "--port", str(port), "--workers", str(worker_count)]
        status = main([*argv, "--database-url", "memory://"])

    out, err = capsys.readouterr()
    assert status == 1
    assert out == ""  # no banner, no made-up key to copy
    assert f"ledger serve: cannot listen on 127.0.0.1:{port}" in err
    assert "LEDGER_BOOTSTRAP_ADMIN_KEY" not in os.environ
    assert started == []


def test_the_banner_shows_where_a_relative_sqlite_store_is_and_the_docs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Started from another directory, the default store is not the repository's var/.
    monkeypatch.setattr(uvicorn, "run", lambda _app, **_options: None)
    monkeypatch.chdir(tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    assert main(["serve", "--port", str(port)]) == 0

    out = capsys.readouterr().out
    assert f"store: sqlite:///var/ledger.sqlite3 = {tmp_path / 'var' / 'ledger.sqlite3'}" in out
    assert f"API docs (work offline): http://127.0.0.1:{port}/schema (Redoc)" in out
