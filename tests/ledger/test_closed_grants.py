"""Closed grants (expired or voided, nothing left or held) stay in the wallet and its views,
but decisions read only the open ones (``ledger.domain.state.Grants``): a daily allowance
adds a grant a day, and a year of them must not make each debit scan 365 grants."""

from __future__ import annotations

import copy
from datetime import timedelta

from ledger.app.commands import Debit, PlaceHold, ReleaseHold, SetAllowance, VoidGrant
from ledger.domain.state import Grants
from ledger.domain.wallet import Wallet
from tests.support.builders import T0, FakeClock, at
from tests.support.replay import RecordingLedger, live, recording_ledger, replayed, state
from tests.support.wallets import grant, open_wallet

W = "acme"


def _open_ids(wallet: Wallet) -> set[str]:
    return {g.grant_id for g in wallet.open_grants()}


def _not_closed(wallet: Wallet) -> set[str]:
    """The open grants by definition, from every grant the wallet has."""
    return {g.grant_id for g in wallet.grants.values() if not g.is_closed()}


def test_a_year_of_daily_periods_leaves_one_open_grant_for_decisions() -> None:
    # Given a daily allowance of 10 from 1 January, swept every day for 400 days and spent
    # on each, beside a paid grant that never expires
    clock = FakeClock(T0)
    ledger = recording_ledger(clock=clock)
    open_wallet(ledger, W)
    grant(ledger, W, "paid", 1000)
    ledger.set_allowance(
        SetAllowance(wallet_id=W, allowance_id="plan", amount=10, period="day", rollover=None)
    )
    for day in range(1, 401):
        clock.set(T0 + timedelta(days=day, hours=1))
        ledger.debit(Debit(wallet_id=W, amount=3))

    # When the wallet the commands drove is compared with one folded from its events
    driven, folded = live(ledger, W), replayed(ledger, W)

    # Then it keeps all 402 grants (its views list them) but decides on two: the paid
    # grant and today's period, the same as the definition says, however it was loaded
    today = f"plan:{(T0 + timedelta(days=400)).isoformat().replace('+00:00', 'Z')}"
    assert len(driven.grants) == 402
    assert _open_ids(driven) == _not_closed(driven) == {"paid", today}
    assert _open_ids(folded) == {"paid", today}
    assert state(driven) == state(folded)
    assert ledger.wallet(W)["balance"]["available"] == 1000 + 7


def test_a_grant_expired_under_a_hold_stays_open_until_the_hold_lets_go() -> None:
    # Given g1 of 100 expiring at 01:00, 40 of it held until the next day
    clock = FakeClock(T0)
    ledger = recording_ledger(clock=clock)
    open_wallet(ledger, W)
    grant(ledger, W, "g1", 100, expires_at=at("2026-01-01T01:00"))
    grant(ledger, W, "g2", 5)
    ledger.place_hold(
        PlaceHold(wallet_id=W, hold_id="h1", amount=40, expires_at=at("2026-01-02T00:00"))
    )

    # When g1 expires, and later the hold is released
    clock.set(at("2026-01-01T02:00"))
    ledger.sweep()
    expired = live(ledger, W)
    ledger.release_hold(ReleaseHold(wallet_id=W, hold_id="h1"))
    released = live(ledger, W)

    # Then g1 stays open while it holds 40 (a release must find it), and closes once the
    # 40 went to breakage
    assert (expired.grants["g1"].remaining, expired.grants["g1"].held) == (0, 40)
    assert _open_ids(expired) == {"g1", "g2"}
    assert released.grants["g1"].held == 0
    assert _open_ids(released) == _not_closed(released) == {"g2"}


def _g1_voided() -> RecordingLedger:
    """acme with g1 (100) voided and g2 (50) open."""
    ledger = recording_ledger(clock=FakeClock(T0))
    open_wallet(ledger, W)
    grant(ledger, W, "g1", 100)
    grant(ledger, W, "g2", 50)
    ledger.void_grant(VoidGrant(wallet_id=W, grant_id="g1", reason="mistake"))
    return ledger


def test_a_voided_grant_closes_and_is_still_listed() -> None:
    ledger = _g1_voided()

    assert _open_ids(live(ledger, W)) == {"g2"}
    statuses = {g["grant_id"]: g["status"] for g in ledger.wallet(W)["grants"]}
    assert statuses == {"g1": "voided", "g2": "active"}


class _Untouchable:
    """Stands in for a closed grant: any look at it fails the test."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"a decision read {name!r} of a closed grant")


def test_a_debit_never_looks_at_a_closed_grant() -> None:
    # Given a wallet whose g1 closed (voided), put in its place something no decision may
    # read (the grant stays listed, as views list it; its id is no longer open)
    wallet = live(_g1_voided(), W)
    wallet.open_grants()
    dict.__setitem__(wallet.grants, "g1", _Untouchable())  # type: ignore[misc]

    # When it debits
    body = wallet.debit(
        debit_id="d1", amount=20, subject={}, usage_at=T0, metadata={}, idempotency_key=None, at=T0
    )

    # Then every step ran on the open grant alone
    assert body["allocations"] == [{"grant_id": "g2", "amount": 20}]
    assert body["balance"] == {"available": 30, "held": 0, "debt": 0}


def test_copies_share_the_closed_grants_and_copy_the_open_ones() -> None:
    # Given a wallet whose g1 closed (voided) and g2 is open
    wallet = live(_g1_voided(), W)

    # When it is copied (a decision on trial, a read, a snapshot)
    copied = copy.deepcopy(wallet)

    # Then the closed grant is shared (nothing changes it again) and the open one is the
    # copy's own, as are its open ids; equality never sees them
    assert copied.grants["g1"] is wallet.grants["g1"]
    assert copied.grants["g2"] is not wallet.grants["g2"]
    assert copied.open_grants() == [copied.grants["g2"]]
    assert copied.open_grants()[0] is copied.grants["g2"]
    copied.grants["g2"].remaining -= 1
    assert wallet.grants["g2"].remaining == 50
    assert copied.grants == {**wallet.grants, "g2": copied.grants["g2"]}


def test_grants_restored_as_a_plain_dict_are_wrapped_on_first_use() -> None:
    # Given a wallet whose grants came back from a snapshot as a plain dict
    wallet = live(_g1_voided(), W)
    before = state(wallet)
    wallet.__dict__["grants"] = dict(wallet.grants)

    # When anything reads its grants (an event applied on fast-forward, say), then the
    # instance itself holds them wrapped again, with the same open grants, and its state
    # compares equal to what it was
    assert wallet.grants["g2"].remaining == 50
    assert type(wallet.__dict__["grants"]) is Grants
    assert [g.grant_id for g in wallet.open_grants()] == ["g2"]
    assert state(wallet) == before
