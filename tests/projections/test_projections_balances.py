"""Balances view: trial balance and account balances as of any time, expiry boundaries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ledger.app import audit
from ledger.app.commands import Debit, GrantCredits, OpenWallet
from ledger.app.service import CreditLedger
from projections import ProjectionRunner, queries
from projections.catalog import BALANCES, JOURNAL
from projections.engine.store import ViewStore
from tests.support.builders import T0, FakeClock

EXPIRES = T0 + timedelta(days=1)
MICRO = timedelta(microseconds=1)
GRANT = "wallet:acme:grant:g1"
EXPIRED = "platform:credits:expired"


def _expiring_grant(ledger: CreditLedger, clock: FakeClock) -> None:
    """1000 granted at T0, expiring at T0+1d; 300 debited at T0+1h; expiry swept later."""
    ledger.open_wallet(OpenWallet(wallet_id="acme"))
    ledger.grant(
        GrantCredits(
            wallet_id="acme", amount=1000, category="paid", grant_id="g1", expires_at=EXPIRES
        )
    )
    clock.advance(hours=1)
    ledger.debit(Debit(wallet_id="acme", amount=300))
    clock.set(EXPIRES + timedelta(hours=3))
    assert ledger.sweep() == 1


def _totals(trial: dict[str, Any], account: str) -> tuple[int, int] | None:
    for row in trial["accounts"]:
        if row["account"] == account:
            return row["debit_total"], row["credit_total"]
    return None


def test_trial_balance_at_the_exact_expiry_boundary(
    ledger: CreditLedger, clock: FakeClock, views: ViewStore
) -> None:
    # Given a grant that expired at EXPIRES (the expiry is dated then, recorded later)
    _expiring_grant(ledger, clock)
    ProjectionRunner(ledger, views).catch_up()
    # Then just before the boundary the remaining 700 still sits in the grant
    before = queries.trial_balance(views, as_of=EXPIRES - MICRO)
    assert _totals(before, GRANT) == (300, 1000)
    assert _totals(before, EXPIRED) is None
    # and at the boundary (expiry is exclusive: the grant has ended at EXPIRES) it has expired
    at = queries.trial_balance(views, as_of=EXPIRES)
    assert _totals(at, GRANT) == (1000, 1000)
    assert _totals(at, EXPIRED) == (0, 700)
    # and every answer is balanced and equals the log scan
    for as_of in (T0 - MICRO, T0, EXPIRES - MICRO, EXPIRES, EXPIRES + MICRO, clock.now):
        expected = audit.trial_balance(ledger, as_of=as_of)
        assert queries.trial_balance(views, as_of=as_of) == expected
        assert expected["balanced"]


def test_account_balance_now_and_as_of(
    ledger: CreditLedger, clock: FakeClock, views: ViewStore
) -> None:
    _expiring_grant(ledger, clock)
    ProjectionRunner(ledger, views).catch_up()
    now = queries.account_balance(views, GRANT)
    assert (now["unit"], now["debit_total"], now["credit_total"], now["balance"]) == (
        "credits",
        1000,
        1000,
        0,
    )
    before = queries.account_balance(views, GRANT, EXPIRES - MICRO)
    assert (before["debit_total"], before["credit_total"], before["balance"]) == (300, 1000, -700)
    nothing_yet = queries.account_balance(views, GRANT, T0 - MICRO)
    assert (nothing_yet["debit_total"], nothing_yet["credit_total"]) == (0, 0)
    unknown = queries.account_balance(views, "wallet:nobody:debt")
    assert (unknown["unit"], unknown["balance"]) == (None, 0)


def test_trial_balance_filters_by_unit(
    ledger: CreditLedger, clock: FakeClock, views: ViewStore
) -> None:
    _expiring_grant(ledger, clock)
    ledger.open_wallet(OpenWallet(wallet_id="tok", unit="tokens"))
    ledger.grant(GrantCredits(wallet_id="tok", amount=5, category="trial", grant_id="t1"))
    ProjectionRunner(ledger, views).catch_up()
    for unit in ("tokens", "credits", "nothing"):
        for as_of in (EXPIRES - MICRO, clock.now):
            expected = audit.trial_balance(ledger, as_of=as_of, unit=unit)
            assert queries.trial_balance(views, as_of=as_of, unit=unit) == expected
    tokens = queries.trial_balance(views, as_of=clock.now, unit="tokens")
    assert [a["account"] for a in tokens["accounts"]] == [
        "platform:tokens:issued:trial",
        "wallet:tok:grant:t1",
    ]


def test_as_of_answers_agree_whichever_view_is_ahead(
    ledger: CreditLedger, clock: FakeClock, views: ViewStore
) -> None:
    # Given history up to the expiry, projected by both views
    _expiring_grant(ledger, clock)
    ProjectionRunner(ledger, views).catch_up()
    expected = {
        as_of: audit.trial_balance(ledger, as_of=as_of) for as_of in (T0, EXPIRES - MICRO, EXPIRES)
    }
    # When later postings reach the balances but not yet the journal
    ledger.grant(GrantCredits(wallet_id="acme", amount=50, category="paid", grant_id="g2"))
    ProjectionRunner(ledger, views, [BALANCES]).catch_up()
    # Then as-of answers before those postings still match (the journal alone answers)
    for as_of, want in expected.items():
        assert queries.trial_balance(views, as_of=as_of) == want
    # and once the journal catches up too (the split path: days + one day of legs)
    ProjectionRunner(ledger, views, [JOURNAL]).catch_up()
    for as_of, want in expected.items():
        assert queries.trial_balance(views, as_of=as_of) == want
    assert queries.trial_balance(views, as_of=clock.now) == audit.trial_balance(
        ledger, as_of=clock.now
    )


def test_wallet_ids_and_units_with_colons_project_like_any_other(
    ledger: CreditLedger, views: ViewStore
) -> None:
    # ':' is allowed in ids and escaped inside account names; the read side's double-entry
    # check must build the wallet's account prefix the same way, or projecting stops here.
    ledger.open_wallet(OpenWallet(wallet_id="org:acme", unit="tokens:v2"))
    ledger.grant(GrantCredits(wallet_id="org:acme", amount=5, category="trial", grant_id="t:1"))
    ledger.debit(Debit(wallet_id="org:acme", amount=2))

    ProjectionRunner(ledger, views).catch_up()

    trial = queries.trial_balance(views, as_of=ledger.now(), unit="tokens:v2")
    assert _totals(trial, "wallet:org%3Aacme:grant:t%3A1") == (2, 5)
    assert trial["balanced"] is True
