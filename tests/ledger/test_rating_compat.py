"""What was stored before rating existed still reads, replays and replays its keys."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from eventsourcing.persistence import StoredEvent

from ledger.app.commands import CaptureHold, Debit, PlaceHold, PutPriceBook
from ledger.app.service import CreditLedger
from ledger.domain.events import CreditsDebited
from ledger.domain.ids import wallet_uuid
from tests.support.builders import T0, make_ledger, new_wallet, open_funded_wallet

_RATED_TOPICS = {
    "ledger:Wallet.CreditsDebited",
    "ledger:Wallet.HoldPlaced",
    "ledger:Wallet.HoldCaptured",
}


def _time(text: str) -> dict[str, str]:
    return {"_type_": "datetime_iso", "_data_": text}


# A CreditsDebited exactly as the store held it before ``rating`` was added (written by hand).
OLD_DEBIT_STATE = json.dumps(
    {
        "timestamp": _time("2026-01-01T00:00:00+00:00"),
        "occurred_at": _time("2026-01-01T00:00:00+00:00"),
        "postings": [
            {"debit": "wallet:acme:grant:g1", "credit": "platform:credits:consumed", "amount": 30}
        ],
        "debit_id": "d-old",
        "amount": 30,
        "allocations": [{"grant_id": "g1", "amount": 30}],
        "policy_version": 1,
        "subject": {"user_id": "u1"},
        "budget_charges": [],
        "usage_at": _time("2026-01-01T00:00:00+00:00"),
        "metadata": {},
        "idempotency_key": "k-old",
    }
).encode()


def test_an_event_stored_without_rating_decodes_with_none_and_applies() -> None:
    # Given a wallet at version 2 (opened, g1 granted 100)
    ledger = make_ledger()
    wallet = new_wallet()
    wallet.grant(
        grant_id="g1",
        amount=100,
        category="paid",
        priority=100,
        effective_at=T0,
        expires_at=None,
        cost_basis=None,
        metadata={},
        idempotency_key=None,
        at=T0,
    )

    # When the hand-written old debit (version 3) is decoded through the ledger's mapper
    stored = StoredEvent(
        originator_id=wallet_uuid("acme"),
        originator_version=3,
        topic="ledger:Wallet.CreditsDebited",
        state=OLD_DEBIT_STATE,
    )
    event = ledger.mapper.to_domain_event(stored)

    # Then it is a CreditsDebited without a rating, and it applies as it always did
    assert isinstance(event, CreditsDebited)
    assert (event.rating, event.amount, event.debit_id) == (None, 30, "d-old")
    assert event.occurred_at == T0
    event.mutate(wallet)
    assert (wallet.version, wallet.grants["g1"].remaining) == (3, 70)


def _without_rating(stored: Any) -> StoredEvent:
    state = stored.state
    if stored.topic in _RATED_TOPICS:
        decoded = json.loads(state)
        decoded.pop("rating")
        state = json.dumps(decoded).encode()
    return StoredEvent(stored.originator_id, stored.originator_version, stored.topic, state)


def _history(ledger: CreditLedger) -> None:
    open_funded_wallet(ledger)
    ledger.debit(Debit(wallet_id="acme", amount=30, idempotency_key="d"))
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h1", amount=50))
    ledger.capture_hold(CaptureHold(wallet_id="acme", hold_id="h1", amount=20))
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h2", amount=5))


def test_a_store_of_events_from_before_rating_replays_and_takes_rated_commands() -> None:
    # Given a history copied into a new store as it was stored before ``rating`` existed
    original = make_ledger()
    _history(original)
    copy = make_ledger()
    log = original.recorder.select_notifications(start=1, limit=1000)
    # (each new store records its own shard map first: that one is not copied)
    history = [n for n in log if not n.topic.startswith("ledger:ShardMap.")]
    copy.recorder.insert_events([_without_rating(n) for n in history])

    # When the copy loads the wallet and reads its events
    view = copy.wallet("acme")
    rows = copy.wallet_events("acme")["events"]

    # Then the state is the original's, old events show no rating, and keys still replay
    assert (
        view["balance"]
        == original.wallet("acme")["balance"]
        == {
            "available": 1000 - 30 - 20 - 5,
            "held": 5,
            "debt": 0,
        }
    )
    assert all("rating" not in row["data"] for row in rows)
    assert copy.debit(Debit(wallet_id="acme", amount=30, idempotency_key="d")).replayed
    # and the wallet goes on with rated commands (capturing an old hold with usage too)
    copy.put_price_book(
        PutPriceBook(
            price_book_id="default",
            rates=[{"model": "m", "input_per_million": 1_000_000, "output_per_million": 0}],
        )
    )
    capture = copy.capture_hold(
        CaptureHold(wallet_id="acme", hold_id="h2", usage={"model": "m", "input_tokens": 4})
    )
    assert (capture.body["captured"], capture.body["rating"]["amount"]) == (4, 4)


def _old_fingerprint(name: str, body: dict[str, Any]) -> str:
    """A fingerprint as computed before ``usage`` was a field of any command."""
    text = json.dumps([name, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def test_fingerprints_of_requests_without_usage_are_unchanged() -> None:
    # Given requests that receipts recorded before ``usage`` existed
    debit = Debit(wallet_id="acme", amount=30, subject={"user_id": "u"})
    hold = PlaceHold(wallet_id="acme", amount=50, hold_id="h1")
    capture = CaptureHold(wallet_id="acme", hold_id="h1")

    # Then their fingerprints are still the ones stored then
    assert debit.fingerprint() == _old_fingerprint(
        "Debit",
        {
            "wallet_id": "acme",
            "amount": 30,
            "subject": {"user_id": "u"},
            "occurred_at": None,
            "metadata": {},
        },
    )
    assert hold.fingerprint() == _old_fingerprint(
        "PlaceHold",
        {
            "wallet_id": "acme",
            "amount": 50,
            "hold_id": "h1",
            "subject": {},
            "expires_at": None,
            "metadata": {},
        },
    )
    assert capture.fingerprint() == _old_fingerprint(
        "CaptureHold",
        {"wallet_id": "acme", "hold_id": "h1", "amount": None, "allow_overage": False},
    )
    # while usage, when given, is part of the request
    usage = {"model": "m", "input_tokens": 1}
    assert (
        Debit(wallet_id="acme", usage=usage).fingerprint()
        != Debit(wallet_id="acme", usage={**usage, "input_tokens": 2}).fingerprint()
    )
