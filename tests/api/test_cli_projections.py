"""``ledger project``, ``ledger projections rebuild|status`` and ``ledger reconcile`` on an
SQLite file store (``project`` as a real process, stopped by a signal)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.cli.main import main
from ledger.app.commands import Debit
from ledger.app.service import CreditLedger
from ledger.store.env import store_env
from projections import PROJECTIONS, open_views
from projections.engine.store import ViewStore
from projections.positions import wait_for_position
from tests.support.builders import FakeClock, make_ledger, open_funded_wallet

STOP_TIMEOUT_S = 20.0


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No LEDGER_* settings leak in; whatever a command sets is undone after the test."""
    for name in ("DATABASE_URL", "BOOTSTRAP_ADMIN_KEY"):
        monkeypatch.setenv(f"LEDGER_{name}", "placeholder")
        monkeypatch.delenv(f"LEDGER_{name}")


@pytest.fixture
def sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    monkeypatch.setenv("LEDGER_DATABASE_URL", url)
    return url


@pytest.fixture
def ledger(sqlite_url: str) -> Iterator[CreditLedger]:
    """A ledger on the file store with a funded wallet and two debits."""
    app = make_ledger(sqlite_url, clock=FakeClock())
    open_funded_wallet(app)
    app.debit(Debit(wallet_id="acme", amount=30, subject={"model": "m1"}))
    app.debit(Debit(wallet_id="acme", amount=12))
    yield app
    app.close()


@pytest.fixture
def views(sqlite_url: str) -> Iterator[ViewStore]:
    store = open_views(store_env(sqlite_url))
    yield store
    store.close()


def head(ledger: CreditLedger) -> int:
    return int(ledger.recorder.max_notification_id() or 0)


@pytest.mark.parametrize(
    "argv",
    [["project"], ["projections", "status"], ["projections", "rebuild", "all"], ["reconcile"]],
)
def test_a_memory_store_is_refused(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEDGER_DATABASE_URL", "memory://")

    assert main(argv) == 2
    assert "private to one process" in capsys.readouterr().err


def test_status_before_any_worker_shows_every_projection_stopped(
    ledger: CreditLedger, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["projections", "status"]) == 0

    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split() == [
        "name",
        "generation",
        "position",
        "head",
        "lag",
        "lag_seconds",
        "status",
        "worker",
    ]
    assert [row.split()[0] for row in rows] == list(PROJECTIONS)
    assert {tuple(row.split()[2:5]) for row in rows} == {
        ("0", str(head(ledger)), str(head(ledger)))
    }
    assert {row.split()[6] for row in rows} == {"stopped"}


def test_rebuild_then_status_and_reconcile(
    ledger: CreditLedger, views: ViewStore, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["projections", "rebuild", "all", "--drop-grace", "0"]) == 0
    out = capsys.readouterr().out
    assert "rebuilt journal: generation 1 -> 2" in out
    assert "rebuilt budget_status: generation 1 -> 2" in out

    assert main(["projections", "status", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert {(e["name"], e["generation"], e["position"], e["lag"]) for e in entries} == {
        (name, 2, head(ledger), 0) for name in PROJECTIONS
    }

    assert main(["reconcile"]) == 0
    clean = capsys.readouterr()
    assert clean.out == ""
    assert "match the log" in clean.err

    assert main(["projections", "rebuild", "usage", "--drop-grace", "0"]) == 0
    assert capsys.readouterr().out == "rebuilt usage: generation 2 -> 3\n"


@pytest.mark.parametrize(
    ("tampering", "found"),
    [
        ("UPDATE journal_g2 SET credit = credit + 1 WHERE credit > 0", "journal"),
        ("UPDATE balances_g2 SET debit_total = debit_total + 5", "balances"),
        ("DELETE FROM usage_g2", "usage"),
    ],
)
def test_reconcile_exits_1_and_prints_the_differences_of_a_tampered_view(
    ledger: CreditLedger,
    views: ViewStore,
    capsys: pytest.CaptureFixture[str],
    tampering: str,
    found: str,
) -> None:
    assert main(["projections", "rebuild", "all", "--drop-grace", "0"]) == 0
    with views.write() as tx:
        assert tx.execute(tampering) >= 1
    capsys.readouterr()

    assert main(["reconcile"]) == 1

    printed = capsys.readouterr()
    differences = printed.out.splitlines()
    assert differences
    assert any(line.startswith(found) for line in differences), differences
    assert "differ from the log" in printed.err


def test_reconcile_before_any_worker_reports_the_views_missing(
    ledger: CreditLedger, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["reconcile"]) == 1
    assert "journal: not installed" in capsys.readouterr().out


@pytest.mark.parametrize("stop_with", [signal.SIGTERM, signal.SIGINT])
def test_project_runs_until_a_signal_stops_it(
    ledger: CreditLedger, views: ViewStore, sqlite_url: str, tmp_path: Path, stop_with: int
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env["LEDGER_DATABASE_URL"] = sqlite_url
    out_path = tmp_path / "project.out"
    with out_path.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "project"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        # The worker catches up with what is there, then follows new writes.
        assert wait_for_position(views, head(ledger), timeout=30), out_path.read_text()
        written = ledger.debit(Debit(wallet_id="acme", amount=1)).position
        assert written is not None
        assert wait_for_position(views, written, timeout=30), out_path.read_text()

        process.send_signal(stop_with)
        assert process.wait(STOP_TIMEOUT_S) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(STOP_TIMEOUT_S)
    printed = out_path.read_text()
    assert f"ledger project: {', '.join(PROJECTIONS)} from sqlite:///" in printed
    assert printed.rstrip().endswith("ledger project: stopped")
