"""``ledger serve`` on a port in use: refused before it makes up a key or prints a banner."""

from __future__ import annotations

import os
import socket
from typing import Any

import pytest
import uvicorn

from api import workers
from api.cli import main


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
