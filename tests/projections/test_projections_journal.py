"""The journal view: hand-computed rows, the same pages as the log scan, streaming CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest

from ledger.app import audit
from ledger.app.commands import CaptureHold, Debit, GrantCredits, OpenWallet, PlaceHold
from ledger.app.service import CreditLedger
from ledger.domain.errors import ValidationFailed
from projections import ProjectionRunner, queries
from projections.engine.store import ViewStore
from projections.export import CSV_COLUMNS
from tests.support.builders import T0, FakeClock


def _history(ledger: CreditLedger, clock: FakeClock) -> None:
    """grant 1000; debit 30; hold 50; capture 30 of it (20 released)."""
    ledger.open_wallet(OpenWallet(wallet_id="acme"))
    ledger.grant(GrantCredits(wallet_id="acme", amount=1000, category="paid", grant_id="g1"))
    clock.advance(hours=1)
    ledger.debit(
        Debit(wallet_id="acme", amount=30, subject={"model": "m1"}, idempotency_key="=cmd|x")
    )
    ledger.place_hold(PlaceHold(wallet_id="acme", amount=50, hold_id="h1"))
    clock.advance(minutes=5)
    ledger.capture_hold(CaptureHold(wallet_id="acme", hold_id="h1", amount=30))


def test_journal_rows_are_the_hand_computed_legs(
    ledger: CreditLedger, clock: FakeClock, views: ViewStore
) -> None:
    # Given a grant, a debit and a partly captured hold
    _history(ledger, clock)
    # When the views catch up
    ProjectionRunner(ledger, views).catch_up()
    entries = queries.journal(views, limit=100)["entries"]
    # Then each posting is two legs, debit first, grouped by event
    legs = [
        (e["event"]["type"], e["account"], e["debit"], e["credit"], e["occurred_at"])
        for e in entries
    ]
    later, capture_at = T0 + timedelta(hours=1), T0 + timedelta(hours=1, minutes=5)
    assert legs == [
        ("CreditsGranted", "platform:credits:issued:paid", 1000, 0, T0),
        ("CreditsGranted", "wallet:acme:grant:g1", 0, 1000, T0),
        ("CreditsDebited", "wallet:acme:grant:g1", 30, 0, later),
        ("CreditsDebited", "platform:credits:consumed", 0, 30, later),
        ("HoldPlaced", "wallet:acme:grant:g1", 50, 0, later),
        ("HoldPlaced", "wallet:acme:holds", 0, 50, later),
        ("HoldCaptured", "wallet:acme:holds", 30, 0, capture_at),
        ("HoldCaptured", "platform:credits:consumed", 0, 30, capture_at),
        ("HoldCaptured", "wallet:acme:holds", 20, 0, capture_at),
        ("HoldCaptured", "wallet:acme:grant:g1", 0, 20, capture_at),
    ]
    # and lineage: one transaction id and position per event, the command's key kept
    assert [e["transaction_id"] for e in entries[::2]] == [
        "acme/2",
        "acme/3",
        "acme/4",
        "acme/5",
        "acme/5",
    ]
    positions = [e["position"] for e in entries]
    assert positions == sorted(positions)
    assert entries[2]["idempotency_key"] == "=cmd|x"
    assert entries[2]["event"] == {"wallet_id": "acme", "version": 3, "type": "CreditsDebited"}
    assert all(e["unit"] == "credits" and e["wallet_id"] == "acme" for e in entries)


def test_pages_and_filters_equal_the_log_scan(
    ledger: CreditLedger, clock: FakeClock, views: ViewStore
) -> None:
    # Given a history in two wallets
    _history(ledger, clock)
    ledger.open_wallet(OpenWallet(wallet_id="beta", unit="tokens"))
    ledger.grant(GrantCredits(wallet_id="beta", amount=70, category="trial", grant_id="t"))
    ProjectionRunner(ledger, views, batch_size=2).catch_up()
    # Then every filter and page size answers as ledger.app.audit does
    cases: list[dict[str, Any]] = [
        {},
        {"wallet_id": "beta"},
        {"wallet_id": "nobody"},
        {"account": "wallet:acme:grant:g1"},
        {"from_": T0 + timedelta(hours=1)},
        {"to": T0 + timedelta(hours=1, minutes=5)},
        {"from_": T0 + timedelta(hours=1), "to": T0 + timedelta(hours=1, minutes=5)},
    ]
    for filters in cases:
        whole = audit.journal(ledger, limit=1000, **filters)["entries"]
        for limit in (1, 3, 4, 1000):
            after, leg, rows = 0, None, []
            while True:
                got = queries.journal(views, after=after, after_leg=leg, limit=limit, **filters)
                want = audit.journal(ledger, after=after, after_leg=leg, limit=limit, **filters)
                assert got == want
                if not got["entries"]:
                    break
                assert len(got["entries"]) <= limit  # exact (contract 1.1), never soft
                rows += got["entries"]
                after, leg = got["next_after"], got["next_after_leg"]
            assert rows == whole  # the cursor neither skips nor repeats a leg


def test_journal_refuses_a_limit_out_of_range(views: ViewStore, ledger: CreditLedger) -> None:
    ProjectionRunner(ledger, views).catch_up()
    with pytest.raises(ValidationFailed):
        queries.journal(views, limit=0)
    with pytest.raises(ValidationFailed):
        queries.journal(views, limit=1001)


def test_csv_streams_every_row_in_chunks(
    ledger: CreditLedger, clock: FakeClock, views: ViewStore
) -> None:
    # Given ten journal rows
    _history(ledger, clock)
    ProjectionRunner(ledger, views).catch_up()
    # When they are exported three rows per chunk
    chunks = list(queries.journal_csv(views, chunk_rows=3))
    # Then there is a header chunk and four row chunks holding the journal rows in order
    assert len(chunks) == 1 + 4
    rows = list(csv.DictReader(io.StringIO("".join(chunks))))
    assert list(rows[0]) == list(CSV_COLUMNS)
    entries = queries.journal(views, limit=100)["entries"]
    assert [
        (int(r["position"]), r["account"], int(r["debit"]), int(r["credit"])) for r in rows
    ] == [(e["position"], e["account"], e["debit"], e["credit"]) for e in entries]
    assert rows[2]["occurred_at"] == "2026-01-01T01:00:00Z"
    # and a key that a spreadsheet would run as a formula is defused
    assert rows[2]["idempotency_key"] == "'=cmd|x"


def test_csv_applies_filters_and_start(
    ledger: CreditLedger, clock: FakeClock, views: ViewStore
) -> None:
    _history(ledger, clock)
    ProjectionRunner(ledger, views).catch_up()
    first = queries.journal(views, limit=2)
    text = "".join(
        queries.journal_csv(views, account="wallet:acme:holds", after=first["next_after"])
    )
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["account"], r["debit"], r["credit"]) for r in rows] == [
        ("wallet:acme:holds", "0", "50"),
        ("wallet:acme:holds", "30", "0"),
        ("wallet:acme:holds", "20", "0"),
    ]
    assert "".join(queries.journal_csv(views, wallet_id="nobody")).count("\n") == 1
