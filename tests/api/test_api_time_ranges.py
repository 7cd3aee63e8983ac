"""``from`` later than ``to`` is a 422 on every endpoint that takes both (contract 1.1).

It used to be an empty answer, which hid the client's mistake.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.app import audit
from ledger.domain.errors import ValidationFailed
from tests.support.api import Api, error_fields, running_api
from tests.support.builders import T0, make_ledger

LATER, EARLIER = "2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z"


@pytest.fixture
def api() -> Iterator[Api]:
    with running_api() as api:
        api.funded_wallet("acme", 1000)
        api.put("/v1/meters/tokens", {"event_type": "llm.completion", "aggregation": "count"})
        yield api


@pytest.mark.parametrize(
    ("path", "accept"),
    [
        ("/v1/journal", "application/json"),
        ("/v1/journal", "text/csv"),
        ("/v1/wallets/acme/usage", "application/json"),
        ("/v1/wallets/acme/usage", "text/csv"),
        ("/v1/wallets/acme/meters/tokens", "application/json"),
    ],
)
def test_from_later_than_to_is_refused(api: Api, path: str, accept: str) -> None:
    response = api.get(f"{path}?from={LATER}&to={EARLIER}", headers={"Accept": accept})

    assert error_fields(response) == ["from"]


@pytest.mark.parametrize(
    "path", ["/v1/journal", "/v1/wallets/acme/usage", "/v1/wallets/acme/meters/tokens"]
)
def test_from_equal_to_to_is_an_empty_range(api: Api, path: str) -> None:
    response = api.get(f"{path}?from={EARLIER}&to={EARLIER}")

    assert response.status_code == 200, response.text


def test_the_log_scan_refuses_from_later_than_to_too() -> None:
    ledger = make_ledger()
    with pytest.raises(ValidationFailed) as refused:
        audit.journal(ledger, from_=T0.replace(day=2), to=T0)

    assert refused.value.errors[0].field == "from"
