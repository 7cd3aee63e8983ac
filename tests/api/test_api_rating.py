"""HTTP: price books (PUT, GET, versions) and ``usage`` rated into debits, holds and captures.

The rates below make rounding visible: 1201 input, 333 cached and 77 output tokens cost
1201 x 2500 + 333 x 1000 + 77 x 10000 = 4,105,500 per million, which rounds up once to 5
(rounding each kind on its own would give 4 + 1 + 1 = 6).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.api import Api, assert_problem, error_fields, running_api

GPT = {
    "model": "gpt-4.1",
    "input_per_million": 2500,
    "cached_input_per_million": 1000,
    "output_per_million": 10000,
}
MINI = {"model": "gpt-4.1-mini", "input_per_million": 400, "output_per_million": 1600}
USAGE = {"model": "gpt-4.1", "input_tokens": 1201, "cached_input_tokens": 333, "output_tokens": 77}
RATED = 5  # see the module docstring
BOOK = "/v1/price-books/default"


@pytest.fixture
def api() -> Iterator[Api]:
    with running_api() as api:
        api.funded_wallet("acme", 1000)
        yield api


def put_book(api: Api, *rates: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    response = api.put(BOOK, {"rates": list(rates or [GPT])}, **kwargs)
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


def test_putting_a_new_price_book_answers_201_with_version_1(api: Api) -> None:
    response = api.put(BOOK, {"unit": "credits", "rates": [MINI, GPT]})

    assert response.status_code == 201
    assert "Ledger-Position" in response.headers
    assert response.json() == {
        "price_book_id": "default",
        "unit": "credits",
        "version": 1,
        "rates": [GPT, {**MINI, "cached_input_per_million": 400}],  # by model; cached = input
        "created_at": "2026-01-01T00:00:00Z",
        "latest_version": 1,
    }


def test_each_change_is_a_new_version_and_earlier_ones_still_answer(api: Api) -> None:
    put_book(api)
    api.clock.advance(minutes=5)
    cheaper = {**GPT, "output_per_million": 8000}

    changed = api.put(BOOK, {"rates": [cheaper]})
    unchanged = api.put(BOOK, {"rates": [cheaper]})

    assert (changed.status_code, changed.json()["version"]) == (200, 2)
    assert (unchanged.status_code, unchanged.json()["version"]) == (200, 2)  # nothing new
    current = api.get(BOOK).json()
    assert (current["version"], current["rates"], current["latest_version"]) == (2, [cheaper], 2)
    assert current["created_at"] == "2026-01-01T00:05:00Z"
    first = api.get(f"{BOOK}?version=1").json()
    assert (first["version"], first["rates"], first["latest_version"]) == (1, [GPT], 2)


def test_an_unknown_book_or_version_is_not_found(api: Api) -> None:
    assert_problem(api.get(BOOK), 404, "price_book_not_found")
    put_book(api)
    assert_problem(api.get(f"{BOOK}?version=2"), 404, "price_book_not_found")
    assert error_fields(api.get(f"{BOOK}?version=0")) == ["version"]


@pytest.mark.parametrize(
    ("rate", "field"),
    [
        ({**GPT, "input_per_million": 2.5}, "rates[0].input_per_million"),
        ({**GPT, "output_per_million": "10000"}, "rates[0].output_per_million"),
        ({**GPT, "cached_input_per_million": -1}, "rates[0].cached_input_per_million"),
        ({**GPT, "input_per_million": 2**53}, "rates[0].input_per_million"),
        ({**GPT, "model": ""}, "rates[0].model"),
        ({**GPT, "per_token": 1}, "rates[0].per_token"),
        ({"model": "gpt-4.1", "input_per_million": 1}, "rates[0].output_per_million"),
    ],
)
def test_malformed_rates_are_refused(api: Api, rate: dict[str, Any], field: str) -> None:
    assert error_fields(api.put(BOOK, {"rates": [rate]})) == [field]
    assert_problem(api.get(BOOK), 404, "price_book_not_found")  # nothing was recorded


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "rates"),
        ({"rates": []}, "rates"),
        ({"rates": [GPT, GPT]}, "rates[1].model"),
        ({"rates": [GPT], "unit": "no spaces"}, "unit"),
        ({"rates": [GPT], "currency": "USD"}, "currency"),
    ],
)
def test_malformed_price_books_are_refused(api: Api, body: dict[str, Any], field: str) -> None:
    assert error_fields(api.put(BOOK, body)) == [field]


def test_a_put_replays_with_its_idempotency_key(api: Api) -> None:
    first = api.put(BOOK, {"rates": [GPT]}, idempotency_key="pb-1")
    put_book(api, MINI)  # someone changes the book in between

    again = api.put(BOOK, {"rates": [GPT]}, idempotency_key="pb-1")
    other = api.put(BOOK, {"rates": [MINI]}, idempotency_key="pb-1")

    assert (again.status_code, again.content) == (201, first.content)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert_problem(other, 409, "idempotency_conflict")
    assert api.get(BOOK).json()["version"] == 2


def test_a_debit_with_usage_is_rated_once_rounding_up(api: Api) -> None:
    put_book(api)

    response = api.post("/v1/wallets/acme/debits", {"usage": USAGE}, idempotency_key="d-1")
    again = api.post("/v1/wallets/acme/debits", {"usage": USAGE}, idempotency_key="d-1")

    assert response.status_code == 201
    body = response.json()
    assert body["amount"] == RATED
    assert body["rating"] == {"price_book_id": "default", "version": 1, "amount": RATED}
    assert body["balance"]["available"] == 1000 - RATED
    assert again.content == response.content  # the replay keeps the rating
    events = api.get("/v1/wallets/acme/events?after_version=2").json()["events"]
    assert [e["type"] for e in events] == ["CreditsDebited"]
    assert events[0]["data"]["rating"] == {**body["rating"], "usage": USAGE}
    assert events[0]["data"]["subject"] == {"model": "gpt-4.1"}


def test_a_later_price_change_does_not_touch_what_was_charged(api: Api) -> None:
    put_book(api)
    first = api.post("/v1/wallets/acme/debits", {"usage": USAGE}).json()
    put_book(api, {**GPT, "input_per_million": 25_000})

    second = api.post("/v1/wallets/acme/debits", {"usage": USAGE}).json()

    assert (first["rating"]["version"], first["amount"]) == (1, RATED)
    # 1201 x 25000 + 333 x 1000 + 77 x 10000 = 31,128,000 per million: 32 after rounding up.
    assert (second["rating"]["version"], second["amount"]) == (2, 32)


def test_holds_and_captures_are_rated_too(api: Api) -> None:
    put_book(api)
    expected = {**USAGE, "output_tokens": 2000}  # 1201 x 2500 + 333000 + 20,000,000 -> 24

    placed = api.post("/v1/wallets/acme/holds", {"hold_id": "h1", "usage": expected})
    captured = api.post("/v1/wallets/acme/holds/h1/capture", {"usage": USAGE})

    assert placed.status_code == 201
    assert placed.json()["amount"] == 24
    assert placed.json()["rating"] == {"price_book_id": "default", "version": 1, "amount": 24}
    assert captured.status_code == 200
    body = captured.json()
    assert (body["captured"], body["released"]) == (RATED, 24 - RATED)
    assert body["rating"] == {"price_book_id": "default", "version": 1, "amount": RATED}
    assert body["balance"] == {"available": 1000 - RATED, "held": 0, "debt": 0}


def test_answers_without_usage_carry_no_rating(api: Api) -> None:
    put_book(api)

    debit = api.post("/v1/wallets/acme/debits", {"amount": 3}).json()
    placed = api.post("/v1/wallets/acme/holds", {"hold_id": "h1", "amount": 9}).json()
    captured = api.post("/v1/wallets/acme/holds/h1/capture").json()

    assert "rating" not in debit
    assert "rating" not in placed
    assert "rating" not in captured


def test_a_model_without_a_rate_is_unknown(api: Api) -> None:
    put_book(api)
    api.open_wallet("globex", price_book_id="enterprise")
    api.grant("globex", 100)

    response = api.post("/v1/wallets/acme/debits", {"usage": {**USAGE, "model": "o3"}})
    no_book = api.post("/v1/wallets/globex/holds", {"usage": USAGE})

    body = assert_problem(response, 422, "unknown_model")
    assert (body["model"], body["price_book_id"]) == ("o3", "default")
    body = assert_problem(no_book, 422, "unknown_model")
    assert (body["model"], body["price_book_id"]) == ("gpt-4.1", "enterprise")
    assert api.get("/v1/wallets/acme").json()["version"] == 2  # nothing was recorded


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/wallets/acme/debits", {"amount": 5, "usage": USAGE}),
        ("/v1/wallets/acme/holds", {"amount": 5, "usage": USAGE}),
        ("/v1/wallets/acme/holds", {"hold_id": "h2"}),
        ("/v1/wallets/acme/holds/h1/capture", {"amount": 5, "usage": USAGE}),
    ],
)
def test_exactly_one_of_amount_and_usage(api: Api, path: str, body: dict[str, Any]) -> None:
    put_book(api)
    api.post("/v1/wallets/acme/holds", {"hold_id": "h1", "amount": 10})

    assert error_fields(api.post(path, body)) == ["amount", "usage"]


@pytest.mark.parametrize(
    ("usage", "field"),
    [
        ({**USAGE, "input_tokens": -1}, "usage.input_tokens"),
        ({**USAGE, "output_tokens": 1.0}, "usage.output_tokens"),
        ({**USAGE, "output_tokens": 2**53}, "usage.output_tokens"),
        ({**USAGE, "model": "m" * 129}, "usage.model"),
        ({**USAGE, "reasoning_tokens": 5}, "usage.reasoning_tokens"),
        ({"input_tokens": 5}, "usage.model"),
        ({"model": "gpt-4.1"}, "usage"),  # no tokens at all: nothing to rate
    ],
)
def test_malformed_usage_is_refused(api: Api, usage: dict[str, Any], field: str) -> None:
    put_book(api)

    assert error_fields(api.post("/v1/wallets/acme/debits", {"usage": usage})) == [field]


def test_who_may_read_and_change_price_books(api: Api) -> None:
    service = api.issue_key("service")
    auditor = api.issue_key("auditor")
    customer = api.issue_key("customer:acme")
    put_book(api)

    assert_problem(api.put(BOOK, {"rates": [MINI]}, key=service), 403, "forbidden")
    assert_problem(api.put(BOOK, {"rates": [MINI]}, key=auditor), 403, "forbidden")
    assert_problem(api.put(BOOK, {"rates": [MINI]}, key=None), 401, "unauthenticated")
    assert api.get(BOOK, key=service).status_code == 200
    assert api.get(BOOK, key=auditor).status_code == 200
    assert_problem(api.get(BOOK, key=customer), 403, "forbidden")
    debit = api.post("/v1/wallets/acme/debits", {"usage": USAGE}, key=service)
    assert (debit.status_code, debit.json()["amount"]) == (201, RATED)
    assert api.get(BOOK).json()["version"] == 1
