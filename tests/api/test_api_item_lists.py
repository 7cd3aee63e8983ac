"""The server-wide lists of contract 1.1 (``GET /v1/api-keys``, ``/v1/webhooks``,
``/v1/meters``, ``/v1/price-books``) and ``GET /v1/whoami``.

Each listed item is exactly its single GET; keys never show their secret.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.api import Api, assert_problem, error_fields, running_api

HOOK = {"url": "http://127.0.0.1:9/hook", "secret": "s" * 24, "events": ["hold.expired"]}
RATES = {"model": "m1", "input_per_million": 1, "cached_input_per_million": 1}


@pytest.fixture
def api() -> Iterator[Api]:
    with running_api() as running:
        yield running


def listed(api: Api, path: str, field: str, **kwargs: Any) -> list[dict[str, Any]]:
    response = api.get(api.fresh(path), **kwargs)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next_after"] is None
    items: list[dict[str, Any]] = body[field]
    return items


def test_api_keys_are_listed_without_the_key_and_with_when_revoked(api: Api) -> None:
    first = api.post("/v1/api-keys", {"scopes": ["service"], "name": "backend"}).json()
    second = api.post("/v1/api-keys", {"scopes": ["customer:acme"], "name": "acme"}).json()
    api.clock.advance(minutes=1)
    assert api.delete(f"/v1/api-keys/{first['key_id']}").status_code == 204

    keys = listed(api, "/v1/api-keys", "api_keys")

    assert keys == [
        {
            "key_id": first["key_id"],
            "scopes": ["service"],
            "name": "backend",
            "created_at": "2026-01-01T00:00:00Z",
            "revoked_at": "2026-01-01T00:01:00Z",
        },
        {
            "key_id": second["key_id"],
            "scopes": ["customer:acme"],
            "name": "acme",
            "created_at": "2026-01-01T00:00:00Z",
            "revoked_at": None,
        },
    ]
    text = api.get("/v1/api-keys").text
    assert first["key"] not in text
    assert second["key"].split("_", 2)[2] not in text


def test_issuing_a_key_answers_the_position_the_key_list_waits_for(api: Api) -> None:
    response = api.post("/v1/api-keys", {"scopes": ["auditor"]})

    position = int(response.headers["Ledger-Position"])
    page = api.get(f"/v1/api-keys?min_position={position}").json()

    assert [k["key_id"] for k in page["api_keys"]] == [response.json()["key_id"]]


def test_api_key_pages_hold_exactly_limit_keys(api: Api) -> None:
    made = [api.post("/v1/api-keys", {"scopes": ["service"]}).json()["key_id"] for _ in range(5)]

    seen: list[str] = []
    after = 0
    while True:
        page = api.get(api.fresh(f"/v1/api-keys?limit=2&after={after}")).json()
        seen += [k["key_id"] for k in page["api_keys"]]
        if page["next_after"] is None:
            assert len(page["api_keys"]) == 1
            break
        assert len(page["api_keys"]) == 2
        after = page["next_after"]

    assert seen == made


def test_webhooks_are_listed_as_their_single_read_and_deleted_ones_are_left_out(
    api: Api,
) -> None:
    for webhook_id in ("w1", "w2", "w3"):
        assert api.put(f"/v1/webhooks/{webhook_id}", HOOK).status_code == 201
    assert api.delete("/v1/webhooks/w2").status_code == 204
    api.clock.advance(minutes=1)
    assert api.put("/v1/webhooks/w3", {**HOOK, "events": ["grant.expiring"]}).status_code == 200

    hooks = listed(api, "/v1/webhooks", "webhooks")

    assert [h["webhook_id"] for h in hooks] == ["w1", "w3"]
    for hook in hooks:
        assert hook == api.get(f"/v1/webhooks/{hook['webhook_id']}").json()
    assert hooks[1]["events"] == ["grant.expiring"]
    assert "secret" not in hooks[0]
    assert api.put("/v1/webhooks/w2", HOOK).status_code == 201  # back, in its first place
    assert [h["webhook_id"] for h in listed(api, "/v1/webhooks", "webhooks")] == [
        "w1",
        "w2",
        "w3",
    ]


def test_meters_and_price_books_are_listed_at_their_current_version(api: Api) -> None:
    meter = {"event_type": "llm", "aggregation": "sum", "value": "quantities.output_tokens"}
    assert api.put("/v1/meters/tokens", meter).status_code == 201
    assert api.put("/v1/meters/calls", {"event_type": "llm", "aggregation": "count"}).status_code
    assert api.put("/v1/meters/tokens", {**meter, "group_by": ["model"]}).status_code == 200
    book = {"unit": "credits", "rates": [{**RATES, "output_per_million": 2}]}
    assert api.put("/v1/price-books/default", book).status_code == 201
    revised = {"unit": "credits", "rates": [{**RATES, "output_per_million": 3}]}
    assert api.put("/v1/price-books/default", revised).status_code == 200

    meters = listed(api, "/v1/meters", "meters")
    books = listed(api, "/v1/price-books", "price_books")

    assert [(m["meter_id"], m["version"]) for m in meters] == [("tokens", 2), ("calls", 1)]
    assert meters[0] == api.get("/v1/meters/tokens").json()
    assert books == [api.get("/v1/price-books/default").json()]
    assert books[0]["version"] == 2


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/v1/api-keys", {"admin"}),
        ("/v1/webhooks", {"admin"}),
        ("/v1/meters", {"admin"}),
        ("/v1/price-books", {"admin", "auditor"}),
    ],
)
def test_only_the_contracts_scopes_may_list_server_wide_items(
    api: Api, path: str, allowed: set[str]
) -> None:
    for scope in ("admin", "service", "auditor", "customer:acme"):
        response = api.get(path, key=api.issue_key(scope))
        if scope in allowed:
            assert response.status_code == 200, (scope, response.text)
        else:
            assert_problem(response, 403, "forbidden")


@pytest.mark.parametrize("path", ["/v1/api-keys", "/v1/webhooks", "/v1/meters", "/v1/price-books"])
@pytest.mark.parametrize(
    ("query", "field"),
    [("limit=0", "limit"), ("limit=1001", "limit"), ("after=-1", "after"), ("after=x", "after")],
)
def test_bad_item_list_queries_name_the_parameter(
    api: Api, path: str, query: str, field: str
) -> None:
    assert error_fields(api.get(f"{path}?{query}")) == [field]


def test_whoami_describes_the_calling_key(api: Api) -> None:
    issued = api.post("/v1/api-keys", {"scopes": ["customer:acme"], "name": "acme"}).json()

    mine = api.get("/v1/whoami", key=issued["key"]).json()
    bootstrap = api.get("/v1/whoami").json()

    assert mine == {"key_id": issued["key_id"], "name": "acme", "scopes": ["customer:acme"]}
    assert bootstrap == {"key_id": "bootstrap", "name": "bootstrap admin key", "scopes": ["admin"]}
    assert_problem(api.get("/v1/whoami", key=None), 401, "unauthenticated")
