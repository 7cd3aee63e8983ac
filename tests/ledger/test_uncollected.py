"""Uncollected usage is visible: in the ingest answer, the wallet view and the usage report.

Billed usage beyond a wallet's overdraft is recorded but never charged. It used to live only
inside event data, so nobody saw it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ledger.app import audit
from ledger.app.commands import OpenWallet, PutPriceBook
from projections import ProjectionRunner, open_views, queries, reconcile_views
from tests.support.api import Api, running_api
from tests.support.builders import make_ledger
from tests.support.shards import wallets_per_shard

PER_TOKEN = {"model": "m", "input_per_million": 1_000_000, "output_per_million": 1_000_000}


def billed(event_id: str, tokens: int, wallet_id: str = "acme", **subject: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "wallet_id": wallet_id,
        "type": "llm.completion",
        "occurred_at": "2026-01-01T00:00:00Z",
        "subject": {"model": "m", **subject},
        "quantities": {"input_tokens": tokens},
        "bill": True,
    }


@pytest.fixture
def api() -> Iterator[Api]:
    """acme: 100 credits, overdraft 20; one credit per token."""
    with running_api() as api:
        api.open_wallet("acme", overdraft_limit=20)
        api.grant("acme", 100)
        api.put("/v1/price-books/default", {"rates": [PER_TOKEN]})
        yield api


def _ingest(api: Api, *events: dict[str, Any]) -> dict[str, Any]:
    response = api.post("/v1/usage-events", {"events": list(events)})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_the_ingest_answer_names_what_was_not_collected(api: Api) -> None:
    body = _ingest(
        api,
        billed("e-1", 90),  # paid from the grant
        billed("e-2", 40),  # 10 from the grant, 20 debt, 10 uncollected
        billed("e-3", 7),  # nothing left: all uncollected
    )

    assert (body["accepted"], body["uncollected"]) == (3, 17)
    assert body["uncollected_events"] == [
        {"index": 1, "wallet_id": "acme", "event_id": "e-2", "uncollected": 10},
        {"index": 2, "wallet_id": "acme", "event_id": "e-3", "uncollected": 7},
    ]


def test_the_wallet_view_counts_uncollected_usage(api: Api) -> None:
    _ingest(api, billed("e-1", 130), billed("e-2", 7))

    wallet = api.get("/v1/wallets/acme").json()
    earlier = api.get("/v1/wallets/acme?as_of=2026-01-01T00:00:00Z").json()

    assert wallet["uncollected"] == 17
    assert wallet["balance"] == {"available": -20, "held": 0, "debt": 20}
    assert earlier["uncollected"] == 17  # as of the time it was recorded


def test_the_usage_report_shows_uncollected_per_window_and_group(api: Api) -> None:
    _ingest(api, billed("e-1", 130, user_id="u1"), billed("e-2", 7, user_id="u2"))

    series = api.get(api.fresh("/v1/wallets/acme/usage?group_by=user_id")).json()["series"]

    assert series == [
        {
            "window_start": "2026-01-01T00:00:00Z",
            "group": {"user_id": "u1"},
            "debited": 120,
            "count": 1,
            "uncollected": 10,
        },
        {
            "window_start": "2026-01-01T00:00:00Z",
            "group": {"user_id": "u2"},
            "debited": 0,
            "count": 0,
            "uncollected": 7,
        },
    ]


def test_the_view_equals_the_log_scan_and_reconciles() -> None:
    ledger = make_ledger()
    ledger.open_wallet(OpenWallet(wallet_id="acme", overdraft_limit=5))
    ledger.put_price_book(PutPriceBook(price_book_id="default", rates=[PER_TOKEN]))
    ledger.ingest_usage([billed("e-1", 8, user_id="u1"), billed("e-2", 4, user_id="u2")])
    views = open_views(ledger.env)
    try:
        ProjectionRunner(ledger, views).catch_up()
        for group_by in ([], ["user_id"], ["model", "user_id"]):
            args: dict[str, Any] = {
                "window": "day",
                "group_by": group_by,
                "from_": None,
                "to": None,
            }
            got = queries.usage_series(views, wallet_id="acme", **args)
            assert got == audit.usage_series(ledger, wallet_id="acme", **args)
        assert sum(p["uncollected"] for p in got["series"]) == 3 + 4
        assert reconcile_views(ledger, views) == []
    finally:
        views.close()
        ledger.close()


def test_a_batch_over_shards_names_each_uncollected_event_at_its_index() -> None:
    (first, *_), (second, *_) = wallets_per_shard(count=2)[:2]
    ledger = make_ledger(env={"SHARDS": "2"})
    for wallet_id in (second, first):
        ledger.open_wallet(OpenWallet(wallet_id=wallet_id))
    ledger.put_price_book(PutPriceBook(price_book_id="default", rates=[PER_TOKEN]))

    body = ledger.ingest_usage(
        [billed("a", 3, wallet_id=second), billed("b", 4, wallet_id=first)]
    ).body

    assert body["uncollected"] == 7
    assert [(e["index"], e["wallet_id"]) for e in body["uncollected_events"]] == [
        (0, second),
        (1, first),
    ]
