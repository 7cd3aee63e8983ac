"""A capture rated with another model than its hold's is refused (contract 1.1).

It was accepted: charged at the other model's price, then reported under the hold's model.
The check is the wallet's (``Wallet.capture_hold``), so every way in refuses it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.app.commands import CaptureHold, PlaceHold, PutPriceBook
from ledger.app.service import CreditLedger
from ledger.domain.errors import ValidationFailed
from tests.support.api import Api, assert_problem, running_api
from tests.support.builders import T0, make_ledger, new_wallet, open_funded_wallet
from tests.support.wallets import event_types, events, version

RATES = [
    {"model": "small", "input_per_million": 1_000_000, "output_per_million": 1_000_000},
    {"model": "large", "input_per_million": 10_000_000, "output_per_million": 10_000_000},
]


def _held(subject: dict[str, str]) -> CreditLedger:
    """acme with 1000 credits and hold h1 of 100 for ``subject``."""
    ledger = make_ledger()
    open_funded_wallet(ledger)
    ledger.put_price_book(PutPriceBook(price_book_id="default", rates=RATES))
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h1", amount=100, subject=subject))
    return ledger


def test_a_capture_with_another_model_is_refused_and_records_nothing() -> None:
    ledger = _held({"user_id": "u1", "model": "small"})
    before = version(ledger, "acme")

    with pytest.raises(ValidationFailed) as refused:
        ledger.capture_hold(
            CaptureHold(
                wallet_id="acme", hold_id="h1", usage={"model": "large", "output_tokens": 5}
            )
        )

    assert [e.field for e in refused.value.errors] == ["usage.model"]
    assert "'small'" in refused.value.detail
    assert version(ledger, "acme") == before
    assert ledger.hold("acme", "h1")["status"] == "open"


def test_a_capture_with_the_holds_model_is_captured() -> None:
    ledger = _held({"model": "small"})

    body = ledger.capture_hold(
        CaptureHold(wallet_id="acme", hold_id="h1", usage={"model": "small", "output_tokens": 5})
    ).body

    assert (body["captured"], body["released"]) == (5, 95)


def test_a_hold_naming_no_model_captures_usage_of_any_model() -> None:
    ledger = _held({"user_id": "u1"})

    body = ledger.capture_hold(
        CaptureHold(wallet_id="acme", hold_id="h1", usage={"model": "large", "output_tokens": 1})
    ).body

    assert body["captured"] == 10
    assert event_types(ledger, "acme")[-1] == "HoldCaptured"


def test_the_wallet_itself_refuses_the_capture() -> None:
    # Whatever the way in (single endpoint, a batch, a future one): the domain decides.
    wallet = new_wallet()
    wallet.grant(
        grant_id="g1",
        amount=1000,
        category="paid",
        priority=100,
        effective_at=T0,
        expires_at=None,
        cost_basis=None,
        metadata={},
        idempotency_key=None,
        at=T0,
    )
    wallet.place_hold(
        hold_id="h1",
        amount=100,
        subject={"model": "small"},
        expires_at=T0.replace(minute=10),
        metadata={},
        idempotency_key=None,
        at=T0,
    )
    rating = {
        "price_book_id": "default",
        "version": 1,
        "amount": 50,
        "usage": {
            "model": "large",
            "input_tokens": 0,
            "cached_input_tokens": 0,
            "output_tokens": 5,
        },
    }

    with pytest.raises(ValidationFailed):
        wallet.capture_hold(
            hold_id="h1", amount=50, allow_overage=False, idempotency_key=None, at=T0, rating=rating
        )


@pytest.fixture
def api() -> Iterator[Api]:
    with running_api() as api:
        api.funded_wallet("acme", 1000)
        api.put("/v1/price-books/default", {"rates": RATES})
        yield api


def test_the_api_answers_422_naming_usage_model(api: Api) -> None:
    api.post(
        "/v1/wallets/acme/holds", {"hold_id": "h1", "amount": 100, "subject": {"model": "small"}}
    )

    response = api.post(
        "/v1/wallets/acme/holds/h1/capture", {"usage": {"model": "large", "output_tokens": 5}}
    )

    body = assert_problem(response, 422, "validation_error")
    assert [e["field"] for e in body["errors"]] == ["usage.model"]
    usage = api.get(api.fresh("/v1/wallets/acme/usage?group_by=model")).json()["series"]
    assert usage == []  # nothing reported under the hold's model
    assert [e["type"] for e in events(api.ledger, "acme")][-1] == "HoldPlaced"
