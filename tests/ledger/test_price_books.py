"""Price books: every change a new version, earlier versions kept, PUTs idempotent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ledger.app.commands import Debit, PutPriceBook
from ledger.app.service import CreditLedger
from ledger.domain.errors import IdempotencyConflict, PriceBookNotFound, ValidationFailed
from ledger.domain.ids import price_book_uuid
from tests.support.builders import T0, FakeClock, make_ledger, open_funded_wallet

GPT = {"model": "gpt-4.1", "input_per_million": 2, "output_per_million": 8}
GPT_STORED = {
    "model": "gpt-4.1",
    "input_per_million": 2,
    "cached_input_per_million": 2,
    "output_per_million": 8,
}
MINI = {
    "model": "gpt-4.1-mini",
    "input_per_million": 1,
    "cached_input_per_million": 0,
    "output_per_million": 4,
}


def _put(
    ledger: CreditLedger,
    rates: list[dict[str, Any]],
    *,
    book: str = "default",
    unit: str = "credits",
    key: str | None = None,
) -> dict[str, Any]:
    outcome = ledger.put_price_book(
        PutPriceBook(price_book_id=book, unit=unit, rates=rates, idempotency_key=key)
    )
    return outcome.body


def _stored_versions(ledger: CreditLedger, book: str = "default") -> int:
    return len(list(ledger.events.get(price_book_uuid(book))))


def test_the_first_put_creates_version_1() -> None:
    # Given an empty ledger
    ledger = make_ledger()

    # When a price book is put
    body = _put(ledger, [GPT])

    # Then it is version 1, created, with every price spelled out
    assert body == {
        "price_book_id": "default",
        "unit": "credits",
        "version": 1,
        "rates": [GPT_STORED],
        "created_at": T0,
        "latest_version": 1,
        "created": True,
    }
    assert ledger.price_book("default") == {k: v for k, v in body.items() if k != "created"}


def test_each_change_is_a_new_version_and_earlier_ones_still_answer() -> None:
    # Given version 1 with one rate
    clock = FakeClock()
    ledger = make_ledger(clock=clock)
    _put(ledger, [GPT])

    # When the rates change an hour later
    clock.advance(hours=1)
    body = _put(ledger, [GPT, MINI])

    # Then that is version 2 (not created), current, and version 1 is unchanged
    assert (body["version"], body["created"], body["rates"]) == (2, False, [GPT_STORED, MINI])
    assert ledger.price_book("default")["version"] == 2
    first = ledger.price_book("default", version=1)
    assert (first["version"], first["rates"], first["created_at"]) == (1, [GPT_STORED], T0)
    assert first["latest_version"] == 2
    assert ledger.price_book("default", version=2)["created_at"] == clock.now


def test_a_unit_change_is_a_new_version() -> None:
    ledger = make_ledger()
    _put(ledger, [GPT])

    body = _put(ledger, [GPT], unit="micro_usd")

    assert (body["version"], body["unit"]) == (2, "micro_usd")


def test_a_put_equal_to_the_current_version_records_nothing() -> None:
    # Given version 1 with two rates
    ledger = make_ledger()
    _put(ledger, [GPT, MINI])

    # When the same rates are put again, in another order and with the cached price implied
    body = _put(ledger, [MINI, GPT])

    # Then no version is recorded: the answer is version 1, not created
    assert (body["version"], body["created"], body["latest_version"]) == (1, False, 1)
    assert _stored_versions(ledger) == 1


def test_a_repeated_key_replays_and_records_nothing() -> None:
    # Given a put with key k
    ledger = make_ledger()
    first = ledger.put_price_book(
        PutPriceBook(price_book_id="default", rates=[GPT], idempotency_key="k")
    )

    # When the same request is sent again with k
    again = ledger.put_price_book(
        PutPriceBook(price_book_id="default", rates=[GPT], idempotency_key="k")
    )

    # Then the first answer comes back as a replay, and there is still one version
    assert (again.replayed, again.body) == (True, first.body)
    assert _stored_versions(ledger) == 1


def test_a_key_reused_for_other_rates_or_another_book_conflicts() -> None:
    ledger = make_ledger()
    _put(ledger, [GPT], key="k")

    with pytest.raises(IdempotencyConflict):
        _put(ledger, [MINI], key="k")
    with pytest.raises(IdempotencyConflict):
        _put(ledger, [GPT], book="other", key="k")  # keys are server-wide for price books
    assert _stored_versions(ledger) == 1


def test_the_key_of_an_unchanged_put_keeps_its_answer() -> None:
    # Given version 1, then a put of the same rates with key k (no new version)
    ledger = make_ledger()
    _put(ledger, [GPT])
    unchanged = _put(ledger, [GPT], key="k")

    # When someone else records version 2, and the k request is retried
    _put(ledger, [MINI])
    retried = ledger.put_price_book(
        PutPriceBook(price_book_id="default", rates=[GPT], idempotency_key="k")
    )

    # Then the retry answers what k answered (version 1) and does not revert the book
    assert (retried.replayed, retried.body) == (True, unchanged)
    assert ledger.price_book("default")["version"] == 2
    assert _stored_versions(ledger) == 2


def test_price_book_keys_never_meet_wallet_keys() -> None:
    # Given a wallet named like the price books' key scope, and a debit on it with key k
    ledger = make_ledger()
    open_funded_wallet(ledger, "price-books")
    ledger.debit(Debit(wallet_id="price-books", amount=1, idempotency_key="k"))

    # When a price book is put with the same key / Then it is its own request
    assert _put(ledger, [GPT], key="k")["created"] is True


def test_unknown_price_books_and_versions_are_not_found() -> None:
    ledger = make_ledger()
    _put(ledger, [GPT])

    with pytest.raises(PriceBookNotFound) as unknown:
        ledger.price_book("nope")
    with pytest.raises(PriceBookNotFound) as later:
        ledger.price_book("default", version=2)

    assert unknown.value.code == "price_book_not_found"
    assert later.value.detail == "price book 'default' has no version 2"


@pytest.mark.parametrize("version", [0, -1, True, 1.0])
def test_a_version_must_be_a_positive_integer(version: Any) -> None:
    ledger = make_ledger()
    _put(ledger, [GPT])

    with pytest.raises(ValidationFailed) as refused:
        ledger.price_book("default", version=version)

    assert [e.field for e in refused.value.errors] == ["version"]


@pytest.mark.parametrize(
    ("command", "field"),
    [
        (PutPriceBook(price_book_id="bad id", rates=[GPT]), "price_book_id"),
        (PutPriceBook(price_book_id="p", unit="", rates=[GPT]), "unit"),
        (PutPriceBook(price_book_id="p", rates=[]), "rates"),
        (PutPriceBook(price_book_id="p", rates=[{**GPT, "output_per_million": -8}]), None),
    ],
)
def test_a_malformed_put_records_nothing(command: PutPriceBook, field: str | None) -> None:
    ledger = make_ledger()

    with pytest.raises(ValidationFailed) as refused:
        ledger.put_price_book(command)

    assert [e.field for e in refused.value.errors] == [field or "rates[0].output_per_million"]
    with pytest.raises(PriceBookNotFound):
        ledger.price_book(command.price_book_id if field != "price_book_id" else "p")


def test_price_books_survive_a_restart(tmp_path: Path) -> None:
    # Given two versions in an SQLite store
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    ledger = make_ledger(url)
    _put(ledger, [GPT])
    _put(ledger, [MINI])
    ledger.close()

    # When a new process opens the store / Then both versions answer
    reopened = make_ledger(url)
    try:
        assert reopened.price_book("default")["rates"] == [MINI]
        assert reopened.price_book("default", version=1)["rates"] == [GPT_STORED]
    finally:
        reopened.close()
