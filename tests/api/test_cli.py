"""The ``ledger`` command line: its table of subcommands, keys, sweep and what serve prints.

``serve`` is tested here without a server (uvicorn.run is replaced); the real process is
started in tests/integration/test_server_process.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from pydantic import SecretStr

from api import workers
from api.cli.main import COMMANDS, build_parser, main
from api.corking import CorkedHttpToolsProtocol
from api.serve import local_admin_key, public_url, redacted
from api.settings import Settings
from ledger.app.commands import PlaceHold
from ledger.app.keys import verify_key
from tests.support.builders import FakeClock, make_ledger, open_funded_wallet

KEY_ENV = "LEDGER_BOOTSTRAP_ADMIN_KEY"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No LEDGER_* settings leak in; whatever a command sets is undone after the test."""
    for name in ("DATABASE_URL", "HOST", "PORT", "WORKERS", "BOOTSTRAP_ADMIN_KEY"):
        monkeypatch.setenv(f"LEDGER_{name}", "placeholder")  # registers the undo...
        monkeypatch.delenv(f"LEDGER_{name}")  # ...then starts from unset


@pytest.fixture
def sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'var' / 'ledger.sqlite3'}"
    monkeypatch.setenv("LEDGER_DATABASE_URL", url)
    return url


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def run(app: str, **options: Any) -> None:
        calls.append({"app": app, **options})

    def serve_workers(app: str, **options: Any) -> int:
        calls.append({"app": app, "factory": True, "supervisor": "reuseport", **options})
        return 0

    monkeypatch.setattr(uvicorn, "run", run)  # api.serve calls uvicorn.run for one worker
    monkeypatch.setattr(workers, "serve_workers", serve_workers)  # and this for several
    return calls


def test_every_subcommand_is_in_the_table() -> None:
    assert [command.words for command in COMMANDS] == [
        ("serve",),
        ("keys", "create"),
        ("sweep",),
        ("project",),
        ("projections", "rebuild"),
        ("projections", "status"),
        ("reconcile",),
        ("reshard",),
    ]
    assert all(command.help for command in COMMANDS)
    parsed = build_parser().parse_args(["keys", "create", "--scope", "admin"])
    assert parsed.run is COMMANDS[1].run


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["keys"],
        ["keys", "create"],
        ["keys", "create", "--scope", "root"],
        ["nope"],
        ["projections"],
        ["projections", "rebuild"],
        ["projections", "rebuild", "ledger"],
    ],
)
def test_bad_command_lines_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)

    assert exited.value.code == 2
    assert "usage: ledger" in capsys.readouterr().err


def test_keys_create_prints_only_the_key_on_stdout(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "var").mkdir()
    make_ledger(sqlite_url).close()  # the store `ledger serve` made

    status = main(["keys", "create", "--scope", "service", "--scope", "customer:acme"])

    out, err = capsys.readouterr()
    assert status == 0
    ledger = make_ledger(sqlite_url)
    try:
        key = verify_key(ledger, out.strip())
    finally:
        ledger.close()
    assert key is not None
    assert sorted(key.scopes) == ["customer:acme", "service"]
    assert f"issued API key {key.key_id} (service, customer:acme)" in err


def test_keys_create_refuses_a_memory_store(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEDGER_DATABASE_URL", "memory://")

    assert main(["keys", "create", "--scope", "admin"]) == 2
    assert "forgets" in capsys.readouterr().err


def test_sweep_records_due_expiries(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "var").mkdir()
    ledger = make_ledger(sqlite_url, clock=FakeClock(datetime.now(UTC) - timedelta(days=1)))
    try:
        open_funded_wallet(ledger)
        ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h1", amount=10))
    finally:
        ledger.close()

    assert main(["sweep"]) == 0
    assert capsys.readouterr().out == "recorded 1 expiry event\n"
    assert main(["sweep"]) == 0
    assert capsys.readouterr().out == "recorded 0 expiry events\n"


def test_an_invalid_setting_is_reported_without_its_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(KEY_ENV, "hunter2")

    assert main(["sweep"]) == 2
    err = capsys.readouterr().err
    assert "invalid LEDGER_* setting" in err
    assert "hunter2" not in err


def test_serve_on_sqlite_without_a_key_makes_one_up_and_prints_it(
    sqlite_url: str, uvicorn_calls: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--port", "8123", "--workers", "2"]) == 0

    out = capsys.readouterr().out
    key = Settings().bootstrap_admin_key  # exported for the app (and every worker) to read
    assert key is not None
    assert f"export LEDGER_KEY={key.get_secret_value()}" in out
    assert "local use only" in out
    assert "Credit ledger API on http://127.0.0.1:8123" in out
    assert "curl -sS -X POST http://127.0.0.1:8123/v1/wallets" in out
    assert uvicorn_calls == [
        {
            "app": "api.app:create_app",
            "factory": True,
            "supervisor": "reuseport",  # several workers: a listening socket each
            "host": "127.0.0.1",
            "port": 8123,
            "workers": 2,
            "access_log": False,  # off unless LEDGER_ACCESS_LOG: it costs throughput
            "http": CorkedHttpToolsProtocol,  # one socket write per response
        }
    ]


def test_serve_with_a_key_prints_no_key(
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    uvicorn_calls: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    secret = "operator-chosen-admin-key-0123456789"  # noqa: S105 - a test value
    monkeypatch.setenv(KEY_ENV, secret)
    monkeypatch.setenv("LEDGER_PORT", "9000")

    assert main(["serve"]) == 0

    out = capsys.readouterr().out
    assert secret not in out
    assert "export LEDGER_KEY" not in out
    assert uvicorn_calls[0]["port"] == 9000
    assert uvicorn_calls[0]["http"] is CorkedHttpToolsProtocol


def test_serve_can_leave_uvicorns_own_protocol(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, uvicorn_calls: list[dict[str, Any]]
) -> None:
    monkeypatch.setenv("LEDGER_CORK_RESPONSES", "false")

    assert main(["serve"]) == 0

    assert uvicorn_calls[0]["http"] == "auto"


def test_postgres_never_gets_a_made_up_key() -> None:
    settings = Settings(database_url="postgresql://ledger:pw@db.internal:5432/ledger")

    assert local_admin_key(settings) is None
    assert Settings().bootstrap_admin_key is None


def test_local_stores_get_a_long_enough_key() -> None:
    key = local_admin_key(Settings(database_url="memory://"))

    assert key is not None
    assert Settings(bootstrap_admin_key=SecretStr(key)).bootstrap_admin_key is not None


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://ledger:s3cret@db:5432/ledger", "postgresql://ledger:***@db:5432/ledger"),
        ("postgresql://ledger@db/ledger?schema=x", "postgresql://ledger@db/ledger?schema=x"),
        ("sqlite:///var/ledger.sqlite3", "sqlite:///var/ledger.sqlite3"),
    ],
)
def test_store_urls_are_shown_without_passwords(url: str, shown: str) -> None:
    assert redacted(url) == shown


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8000"),
        ("0.0.0.0", "http://127.0.0.1:8000"),  # noqa: S104 - the address bound, not a URL
        ("::", "http://[::1]:8000"),
        ("::1", "http://[::1]:8000"),
        ("ledger.local", "http://ledger.local:8000"),
    ],
)
def test_the_printed_url_is_callable_from_this_machine(host: str, url: str) -> None:
    assert public_url(host, 8000) == url
