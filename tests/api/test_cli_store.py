"""Only ``ledger serve`` creates a store; every other command refuses one that does not exist,
and every command takes ``--database-url``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from api.cli.main import main
from api.store_check import missing_store
from ledger.app.keys import verify_key
from tests.support.builders import make_ledger

NOT_SERVE = [
    ["keys", "create", "--scope", "admin"],
    ["sweep"],
    ["project"],
    ["projections", "status"],
    ["projections", "rebuild", "all"],
    ["reconcile"],
    ["reshard", "--to", "sqlite:///elsewhere.sqlite3", "--shards", "2"],
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No LEDGER_* settings leak in, and relative paths land in the test's directory."""
    for name in ("DATABASE_URL", "BOOTSTRAP_ADMIN_KEY", "SHARDS"):
        monkeypatch.setenv(f"LEDGER_{name}", "placeholder")  # registers the undo...
        monkeypatch.delenv(f"LEDGER_{name}")  # ...then starts from unset
    monkeypatch.chdir(tmp_path)


def existing_store(path: Path) -> str:
    """The URL of a store made at ``path`` (as ``ledger serve`` would have)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{path}"
    make_ledger(url).close()
    return url


@pytest.mark.parametrize("argv", NOT_SERVE, ids=lambda argv: " ".join(argv[:2]))
def test_commands_other_than_serve_refuse_a_store_that_does_not_exist(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Run from a directory without var/: the default URL names ./var/ledger.sqlite3
    assert main(argv) == 2

    err = capsys.readouterr().err
    assert "no ledger store at sqlite:///var/ledger.sqlite3" in err
    assert f"the file {tmp_path / 'var' / 'ledger.sqlite3'} does not exist" in err
    assert "--database-url" in err
    assert list(tmp_path.iterdir()) == []  # nothing was created


def test_database_url_names_the_store_instead_of_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = existing_store(tmp_path / "srv" / "ledger.sqlite3")
    monkeypatch.setenv("LEDGER_DATABASE_URL", f"sqlite:///{tmp_path / 'nothing-here.sqlite3'}")

    assert main(["keys", "create", "--scope", "admin", "--database-url", url]) == 0

    ledger = make_ledger(url)
    try:
        assert verify_key(ledger, capsys.readouterr().out.strip()) is not None
    finally:
        ledger.close()


def test_a_store_that_exists_is_used(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    existing_store(tmp_path / "var" / "ledger.sqlite3")  # the default URL, from this directory

    assert main(["sweep"]) == 0
    assert capsys.readouterr().out == "recorded 0 expiry events\n"


def test_an_unusable_store_url_is_refused_with_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", "--database-url", "mysql://db/ledger"]) == 2
    assert "unsupported store URL scheme 'mysql'" in capsys.readouterr().err


def test_serve_may_create_the_store_it_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda _app, **options: served.append(options))
    url = f"sqlite:///{tmp_path / 'new' / 'ledger.sqlite3'}"

    assert main(["serve", "--port", "8123", "--database-url", url]) == 0
    assert len(served) == 1
    assert os.environ["LEDGER_DATABASE_URL"] == url  # what the app (in every worker) reads


def test_a_database_that_does_not_answer_is_not_called_missing() -> None:
    # The command's own connection reports it, and `ledger project` retries it.
    assert missing_store("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1") is None
