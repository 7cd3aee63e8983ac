"""Shared harness of the API tests (no tests here): a running app on an in-memory ledger.

Each API test module defines a three-line ``api`` fixture over :func:`running_api`, then talks
HTTP through :class:`Api`, which sends the bootstrap admin key unless told otherwise.

Audit reads come from the read models, which the app's in-process worker fills a moment
after each write. :class:`Api` remembers the highest ``Ledger-Position`` its commands were
answered with (:attr:`Api.position`), and :meth:`Api.fresh` adds it to a read's query as
``min_position``, as a client reading its own writes would.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import httpx
from litestar import Litestar
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from api.app import create_app
from api.dependencies import READ_MODELS_KEY
from api.read_models import ReadModels
from api.settings import Settings
from ledger.app.service import CreditLedger
from tests.support.builders import FakeClock, make_ledger

__all__ = [
    "ADMIN_KEY",
    "Api",
    "assert_problem",
    "error_fields",
    "metric_samples",
    "metric_value",
    "running_api",
    "spend",
]

ADMIN_KEY = "bootstrap-admin-key-for-tests-0123456789"


class Api:
    """An HTTP client of the app plus the ledger and clock behind it."""

    def __init__(self, client: TestClient[Litestar], ledger: CreditLedger, clock: FakeClock):
        self.client = client
        self.ledger = ledger
        self.clock = clock
        self.position = 0
        """The highest ``Ledger-Position`` a response carried so far."""

    @property
    def read_models(self) -> ReadModels:
        """The running app's read models (its view store, worker and rebuilds)."""
        return cast("ReadModels", self.client.app.state[READ_MODELS_KEY])

    def fresh(self, path: str) -> str:
        """``path`` with ``min_position`` set to :attr:`position` (read your writes)."""
        return f"{path}{'&' if '?' in path else '?'}min_position={self.position}"

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        key: str | None = ADMIN_KEY,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send a request; ``key`` is the API key (admin by default, None for no header)."""
        sent = dict(headers or {})
        if key is not None:
            sent["Authorization"] = f"Bearer {key}"
        if idempotency_key is not None:
            sent["Idempotency-Key"] = idempotency_key
        response = self.client.request(method, path, json=json, headers=sent)
        written = response.headers.get("Ledger-Position")
        if written is not None:
            self.position = max(self.position, int(written))
        return response

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, json=json, **kwargs)

    def put(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, json=json, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def open_wallet(self, wallet_id: str = "acme", **body: Any) -> dict[str, Any]:
        response = self.post("/v1/wallets", {"wallet_id": wallet_id, **body})
        assert response.status_code == 201, response.text
        return dict(response.json())

    def grant(
        self, wallet_id: str = "acme", amount: int = 1000, grant_id: str = "g1", **body: Any
    ) -> dict[str, Any]:
        payload = {"amount": amount, "category": "paid", "grant_id": grant_id, **body}
        response = self.post(f"/v1/wallets/{wallet_id}/grants", payload)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def funded_wallet(self, wallet_id: str = "acme", amount: int = 1000) -> None:
        self.open_wallet(wallet_id)
        self.grant(wallet_id, amount)

    def issue_key(self, *scopes: str, name: str = "test") -> str:
        response = self.post("/v1/api-keys", {"scopes": list(scopes), "name": name})
        assert response.status_code == 201, response.text
        return str(response.json()["key"])


@contextmanager
def running_api(
    ledger: CreditLedger | None = None, clock: FakeClock | None = None, **settings: Any
) -> Iterator[Api]:
    """The app on ``ledger`` (a fresh in-memory one by default), started and stopped.

    ``settings`` override the test settings (for example ``max_body_bytes``).
    """
    clock = clock or FakeClock()
    ledger = ledger or make_ledger(clock=clock)
    given = {"database_url": "memory://", "bootstrap_admin_key": SecretStr(ADMIN_KEY), **settings}
    with TestClient(create_app(Settings(**given), ledger=ledger)) as client:
        yield Api(client, ledger, clock)


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Check an RFC 9457 problem answer and return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status  # always the integer HTTP status (RFC 9457)
    assert body["code"] == code
    assert body["type"] == f"urn:credit-ledger:problem:{code}"
    assert body["title"]
    assert isinstance(body["detail"], str)
    return body


def error_fields(response: httpx.Response) -> list[str]:
    """The fields a ``validation_error`` names, in order."""
    body = assert_problem(response, 422, "validation_error")
    return [error["field"] for error in body["errors"]]


def spend(api: Api, amount: int, key: str | None = None, **subject: str) -> None:
    body = {"amount": amount, "subject": subject}
    response = api.post("/v1/wallets/acme/debits", body, idempotency_key=key)
    assert response.status_code == 201, response.text


def metric_samples(api: Api) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of ``/metrics``: (name, labels) -> value."""
    response = api.get("/metrics", key=None)
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def metric_value(api: Api, name: str, **labels: str) -> float:
    return metric_samples(api).get((name, frozenset(labels.items())), 0.0)
