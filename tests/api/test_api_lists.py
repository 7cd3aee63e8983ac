"""The wallet lists of contract 1.1: ``GET /v1/wallets``, ``.../debits``, ``.../debits/{id}``
and ``.../holds``: items, cursor pages with an exact ``limit``, scopes and tenant isolation.

They are answered from the lists read model; reads pass the last write's position as
``min_position`` (``Api.fresh``), as a client reading its own writes would.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.api import Api, assert_problem, error_fields, running_api


@pytest.fixture
def api() -> Iterator[Api]:
    with running_api() as running:
        yield running


def debit(api: Api, amount: int, wallet_id: str = "acme", **subject: str) -> str:
    response = api.post(f"/v1/wallets/{wallet_id}/debits", {"amount": amount, "subject": subject})
    assert response.status_code == 201, response.text
    return str(response.json()["debit_id"])


def hold(api: Api, hold_id: str, amount: int, **body: Any) -> None:
    response = api.post("/v1/wallets/acme/holds", {"hold_id": hold_id, "amount": amount, **body})
    assert response.status_code == 201, response.text


def walk(api: Api, path: str, field: str, limit: int, key: str | None = None) -> list[Any]:
    """Every item of a list, page by page, checking that each page is exactly ``limit``
    long but the last, which ends with ``next_after`` null."""
    items: list[Any] = []
    cursor = ""
    while True:
        sep = "&" if "?" in path else "?"
        query = f"{path}{sep}limit={limit}{cursor}"
        response = api.get(api.fresh(query), **({} if key is None else {"key": key}))
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body[field])
        if body["next_after"] is None:
            assert len(body[field]) <= limit
            return items
        assert len(body[field]) == limit
        cursor = f"&after={body['next_after']}"


def test_wallets_are_listed_by_id_with_their_balance_now(api: Api) -> None:
    api.funded_wallet("zeta", 500)
    api.open_wallet("acme", customer_id="acme-corp", unit="tokens")
    debit(api, 20, "zeta")

    body = api.get(api.fresh("/v1/wallets")).json()

    assert body == {
        "wallets": [
            {
                "wallet_id": "acme",
                "customer_id": "acme-corp",
                "unit": "tokens",
                "balance": {"available": 0, "held": 0, "debt": 0},
                "created_at": "2026-01-01T00:00:00Z",
            },
            {
                "wallet_id": "zeta",
                "customer_id": "zeta",
                "unit": "credits",
                "balance": {"available": 480, "held": 0, "debt": 0},
                "created_at": "2026-01-01T00:00:00Z",
            },
        ],
        "next_after": None,
    }


def test_wallet_pages_hold_exactly_limit_items(api: Api) -> None:
    for wallet_id in ("e", "a", "d", "b", "c"):
        api.open_wallet(wallet_id, customer_id="x" if wallet_id in "abd" else "y")

    first = api.get(api.fresh("/v1/wallets?limit=2")).json()

    assert [w["wallet_id"] for w in first["wallets"]] == ["a", "b"]
    assert first["next_after"] == "b"
    assert [w["wallet_id"] for w in walk(api, "/v1/wallets", "wallets", 2)] == list("abcde")
    assert [w["wallet_id"] for w in walk(api, "/v1/wallets?customer_id=x", "wallets", 1)] == [
        "a",
        "b",
        "d",
    ]
    assert api.get(api.fresh("/v1/wallets?limit=5")).json()["next_after"] is None


def test_a_customer_key_lists_only_its_own_wallets(api: Api) -> None:
    api.open_wallet("a1", customer_id="acme")
    api.open_wallet("a2", customer_id="acme")
    api.open_wallet("g1", customer_id="globex")
    acme = api.issue_key("customer:acme")
    both = api.issue_key("customer:acme", "customer:globex")

    def ids(path: str, key: str) -> list[str]:
        response = api.get(api.fresh(path), key=key)
        assert response.status_code == 200, response.text
        return [w["wallet_id"] for w in response.json()["wallets"]]

    assert ids("/v1/wallets", acme) == ["a1", "a2"]
    assert ids("/v1/wallets?customer_id=globex", acme) == []
    assert ids("/v1/wallets", both) == ["a1", "a2", "g1"]
    assert ids("/v1/wallets?customer_id=globex", both) == ["g1"]
    for scope in ("service", "auditor"):
        assert ids("/v1/wallets", api.issue_key(scope)) == ["a1", "a2", "g1"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("after=no%20spaces", "after"),
        ("customer_id=a%2Fb", "customer_id"),
        ("min_position=-1", "min_position"),
    ],
)
def test_bad_wallet_list_queries_name_the_parameter(api: Api, query: str, field: str) -> None:
    assert error_fields(api.get(f"/v1/wallets?{query}")) == [field]


def test_listing_wallets_needs_a_key(api: Api) -> None:
    assert_problem(api.get("/v1/wallets", key=None), 401, "unauthenticated")


def test_debits_are_listed_in_order_with_what_was_refunded(api: Api) -> None:
    api.funded_wallet()
    first = debit(api, 30, model="m1", user_id="u1")
    second = debit(api, 7)
    refund = api.post(f"/v1/wallets/acme/debits/{first}/refunds", {"amount": 10})
    assert refund.status_code == 201

    oldest = api.get(api.fresh("/v1/wallets/acme/debits")).json()
    newest = api.get(api.fresh("/v1/wallets/acme/debits?order=desc")).json()

    assert [(d["debit_id"], d["amount"], d["refunded"]) for d in oldest["debits"]] == [
        (first, 30, 10),
        (second, 7, 0),
    ]
    assert [d["debit_id"] for d in newest["debits"]] == [second, first]
    item = oldest["debits"][0]
    assert item["subject"] == {"model": "m1", "user_id": "u1"}
    assert item["occurred_at"] == "2026-01-01T00:00:00Z"
    assert item["allocations"] == [{"grant_id": "g1", "amount": 30}]
    assert item["rating"] is None
    assert oldest["next_after"] is None


def test_debit_pages_hold_exactly_limit_items_either_way(api: Api) -> None:
    api.funded_wallet()
    made = [debit(api, amount) for amount in range(1, 8)]

    for limit in (1, 3, 7, 1000):
        forward = walk(api, "/v1/wallets/acme/debits", "debits", limit)
        backward = walk(api, "/v1/wallets/acme/debits?order=desc", "debits", limit)
        assert [d["debit_id"] for d in forward] == made
        assert [d["debit_id"] for d in backward] == made[::-1]


def test_a_debit_shows_its_allocations_and_refunds(api: Api) -> None:
    api.funded_wallet()
    api.grant(amount=50, grant_id="g2", priority=0)
    made = debit(api, 80)
    for amount, reason in ((5, "bad answer"), (15, "")):
        response = api.post(
            f"/v1/wallets/acme/debits/{made}/refunds", {"amount": amount, "reason": reason}
        )
        assert response.status_code == 201

    body = api.get(api.fresh(f"/v1/wallets/acme/debits/{made}")).json()

    assert (body["debit_id"], body["amount"], body["refunded"]) == (made, 80, 20)
    assert body["allocations"] == [
        {"grant_id": "g2", "amount": 50},
        {"grant_id": "g1", "amount": 30},
    ]
    assert [(r["amount"], r["reason"]) for r in body["refunds"]] == [(5, "bad answer"), (15, "")]
    # Last consumed first: g1 gave 30 last, so it gets the first 20 back.
    assert body["refunds"][0]["allocations"] == [{"grant_id": "g1", "amount": 5, "to": "grant"}]


def test_an_unknown_debit_or_wallet_is_not_found(api: Api) -> None:
    api.funded_wallet()

    assert_problem(api.get(api.fresh("/v1/wallets/acme/debits/nope")), 404, "debit_not_found")
    assert_problem(api.get("/v1/wallets/nope/debits"), 404, "wallet_not_found")
    assert_problem(api.get("/v1/wallets/nope/holds"), 404, "wallet_not_found")


def test_a_debit_of_another_wallet_is_not_found_in_this_one(api: Api) -> None:
    api.funded_wallet()
    api.funded_wallet("beta")
    made = debit(api, 5, "beta")

    assert_problem(api.get(api.fresh(f"/v1/wallets/acme/debits/{made}")), 404, "debit_not_found")
    assert api.get(api.fresh(f"/v1/wallets/beta/debits/{made}")).status_code == 200


def test_holds_are_listed_as_their_point_reads_and_by_status(api: Api) -> None:
    api.funded_wallet()
    hold(api, "h1", 50)
    hold(api, "h2", 20, subject={"model": "m1"}, metadata={"request": "r-2"})
    hold(api, "h3", 10)
    assert api.post("/v1/wallets/acme/holds/h2/capture", {"amount": 15}).status_code == 200
    assert api.post("/v1/wallets/acme/holds/h3/release").status_code == 200

    listed = api.get(api.fresh("/v1/wallets/acme/holds")).json()["holds"]

    for item in listed:
        single = api.get(f"/v1/wallets/acme/holds/{item['hold_id']}").json()
        assert {k: v for k, v in item.items() if k != "position"} == single
    assert [h["hold_id"] for h in listed] == ["h1", "h2", "h3"]

    def by_status(status: str) -> list[str]:
        page = api.get(api.fresh(f"/v1/wallets/acme/holds?status={status}")).json()
        return [h["hold_id"] for h in page["holds"]]

    assert by_status("open") == ["h1"]
    assert by_status("captured") == ["h2"]
    assert by_status("released") == ["h3"]
    assert by_status("expired") == []


def test_a_hold_past_its_expiry_is_listed_as_expired_before_it_is_recorded(api: Api) -> None:
    api.funded_wallet()
    hold(api, "h1", 50, expires_at="2026-01-01T00:05:00Z")
    hold(api, "h2", 10, expires_at="2026-01-01T01:00:00Z")
    api.clock.advance(minutes=5)  # h1 is due now; nothing has recorded its expiry yet

    expired = api.get(api.fresh("/v1/wallets/acme/holds?status=expired")).json()["holds"]
    still_open = api.get(api.fresh("/v1/wallets/acme/holds?status=open")).json()["holds"]

    assert [h["hold_id"] for h in still_open] == ["h2"]
    assert [h["hold_id"] for h in expired] == ["h1"]
    assert {k: v for k, v in expired[0].items() if k != "position"} == api.get(
        "/v1/wallets/acme/holds/h1"
    ).json()
    assert (expired[0]["released"], expired[0]["closed_at"]) == (50, "2026-01-01T00:05:00Z")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=held", "status"),
        ("order=sideways", "order"),
        ("after=-1", "after"),
        ("after=x", "after"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
    ],
)
def test_bad_hold_and_debit_list_queries_name_the_parameter(
    api: Api, query: str, field: str
) -> None:
    api.funded_wallet()

    assert error_fields(api.get(f"/v1/wallets/acme/holds?{query}")) == [field]
    if field != "status":
        assert error_fields(api.get(f"/v1/wallets/acme/debits?{query}")) == [field]


def test_a_customer_sees_only_its_own_wallets_debits_and_holds(api: Api) -> None:
    api.funded_wallet()
    api.open_wallet("globex")
    made = debit(api, 5)
    acme, globex = api.issue_key("customer:acme"), api.issue_key("customer:globex")

    for path in (
        "/v1/wallets/acme/debits",
        "/v1/wallets/acme/holds",
        f"/v1/wallets/acme/debits/{made}",
    ):
        assert api.get(api.fresh(path), key=acme).status_code == 200
        assert_problem(api.get(api.fresh(path), key=globex), 404, "wallet_not_found")


def test_a_read_the_views_have_not_reached_is_projection_lagging() -> None:
    with running_api(projection_wait_seconds=0.2) as api:
        api.funded_wallet()
        beyond = int(api.ledger.recorder.max_notification_id() or 0) + 10

        for path in ("/v1/wallets", "/v1/wallets/acme/debits", "/v1/wallets/acme/holds"):
            response = api.get(f"{path}?min_position={beyond}")
            assert_problem(response, 503, "projection_lagging")
