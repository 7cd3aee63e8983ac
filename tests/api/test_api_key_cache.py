"""HTTP: spending routes accept a key this process verified before, and the ledger confirms
it at commit, so a revocation by any process still counts at once (api.middleware.key_cache)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pytest

from api.middleware.key_cache import KEY_CACHE_KEY, KeyCache
from ledger.app.keys import revoke_key
from ledger.app.service import CreditLedger
from tests.support.api import Api, assert_problem, running_api


@pytest.fixture
def api() -> Iterator[Api]:
    with running_api() as api:
        api.funded_wallet("acme", 1000)
        yield api


def _cache(api: Api) -> KeyCache:
    return cast("KeyCache", api.client.app.state[KEY_CACHE_KEY])


def _store_checks(api: Api, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts the key checks that read the store (a spy: they still happen)."""
    cache = _cache(api)
    calls: list[str] = []
    original = cache.verify

    def counted(ledger: CreditLedger, presented: str) -> Any:
        calls.append(presented)
        return original(ledger, presented)

    monkeypatch.setattr(cache, "verify", counted)
    return calls


def _version(api: Api) -> int:
    return int(api.get("/v1/wallets/acme").json()["version"])


def test_a_spending_route_reads_the_key_from_the_store_only_the_first_time(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = api.issue_key("service")
    checks = _store_checks(api, monkeypatch)

    for _ in range(3):
        assert api.post("/v1/wallets/acme/debits", {"amount": 1}, key=key).status_code == 201

    assert len(checks) == 1


def test_reads_still_check_the_key_in_the_store_on_every_request(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = api.issue_key("service")
    assert api.post("/v1/wallets/acme/debits", {"amount": 1}, key=key).status_code == 201
    checks = _store_checks(api, monkeypatch)

    for _ in range(2):
        assert api.get("/v1/wallets/acme", key=key).status_code == 200

    assert len(checks) == 2


def test_a_known_key_id_with_a_wrong_secret_is_unauthenticated(api: Api) -> None:
    key = api.issue_key("service")
    assert api.post("/v1/wallets/acme/debits", {"amount": 1}, key=key).status_code == 201
    forged = key.rsplit("_", 1)[0] + "_not-the-secret"

    response = api.post("/v1/wallets/acme/debits", {"amount": 1}, key=forged)

    assert_problem(response, 401, "unauthenticated")


def _spending_requests(api: Api, warm_debit_id: str) -> dict[str, tuple[str, dict[str, Any]]]:
    held = api.post("/v1/wallets/acme/holds", {"amount": 5, "hold_id": "h1"})
    assert held.status_code == 201, held.text
    return {
        "debit": ("/v1/wallets/acme/debits", {"amount": 5}),
        "refund": (f"/v1/wallets/acme/debits/{warm_debit_id}/refunds", {}),
        "hold": ("/v1/wallets/acme/holds", {"amount": 5}),
        "capture": ("/v1/wallets/acme/holds/h1/capture", {}),
        "release": ("/v1/wallets/acme/holds/h1/release", {}),
    }


@pytest.mark.parametrize("route", ["debit", "refund", "hold", "capture", "release"])
def test_a_key_revoked_by_another_process_is_refused_when_the_ledger_decides(
    api: Api, route: str
) -> None:
    # Given a service key this process has verified and cached
    key = api.issue_key("service")
    warm = api.post("/v1/wallets/acme/debits", {"amount": 1}, key=key)
    assert warm.status_code == 201
    path, body = _spending_requests(api, warm.json()["debit_id"])[route]
    version = _version(api)

    # When another process revokes it (straight in the store: this process is not told)
    assert revoke_key(api.ledger, key.split("_")[1])
    response = api.post(path, body, key=key)

    # Then the command is refused as unauthenticated and records nothing
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert _version(api) == version


def test_a_refusal_at_commit_makes_this_process_forget_the_key(api: Api) -> None:
    key = api.issue_key("service")
    assert api.post("/v1/wallets/acme/debits", {"amount": 1}, key=key).status_code == 201
    assert revoke_key(api.ledger, key.split("_")[1])

    assert api.post("/v1/wallets/acme/debits", {"amount": 1}, key=key).status_code == 401

    assert _cache(api).cached(key) is None


def test_revoking_through_this_process_forgets_the_key_at_once(api: Api) -> None:
    key = api.issue_key("service")
    assert api.post("/v1/wallets/acme/debits", {"amount": 1}, key=key).status_code == 201

    assert api.delete(f"/v1/api-keys/{key.split('_')[1]}").status_code == 204

    assert _cache(api).cached(key) is None
    assert_problem(
        api.post("/v1/wallets/acme/debits", {"amount": 1}, key=key), 401, "unauthenticated"
    )


def test_the_cache_keeps_a_bounded_number_of_keys(api: Api) -> None:
    cache = KeyCache(size=2)
    keys = [api.issue_key("service") for _ in range(3)]
    for key in keys:
        assert cache.verify(api.ledger, key) is not None

    assert cache.cached(keys[0]) is None
    assert all(cache.cached(key) is not None for key in keys[1:])
