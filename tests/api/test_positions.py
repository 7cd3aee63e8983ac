"""Log positions and event versions are bounded by the store's 64-bit integer.

A position past 2**63 - 1 is refused as bad input (422 naming the parameter), never passed to
the store, where SQLite and Postgres would overflow (schemathesis found a 500 here).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.app import audit
from ledger.app.service import CreditLedger
from ledger.domain.errors import ValidationFailed
from ledger.domain.validation import MAX_POSITION
from projections import queries
from projections.engine.store import ViewStore
from tests.support.api import Api, error_fields, running_api
from tests.support.builders import open_funded_wallet

TOO_FAR = MAX_POSITION + 1


@pytest.fixture
def api() -> Iterator[Api]:
    with running_api() as running:
        yield running


def test_journal_after_beyond_the_largest_position_is_a_validation_error(api: Api) -> None:
    # Given / When a journal page is asked for after a position the store cannot hold
    response = api.get(f"/v1/journal?after={TOO_FAR}")

    # Then it is refused as bad input naming the parameter, not a 500
    assert error_fields(response) == ["after"]


def test_wallet_events_after_version_beyond_the_largest_is_a_validation_error(api: Api) -> None:
    api.post("/v1/wallets", {"wallet_id": "acme"})

    response = api.get(f"/v1/wallets/acme/events?after_version={TOO_FAR}")

    assert error_fields(response) == ["after_version"]


def test_the_largest_position_itself_is_accepted(api: Api) -> None:
    response = api.get(f"/v1/journal?after={MAX_POSITION}")

    assert response.status_code == 200, response.text
    assert response.json()["entries"] == []


def test_reads_refuse_positions_the_store_cannot_hold(
    ledger: CreditLedger, views: ViewStore
) -> None:
    # Given a ledger with a wallet, read straight from the log and from the read models
    open_funded_wallet(ledger)

    # When / Then every page-after read refuses a position past the store's integer
    with pytest.raises(ValidationFailed):
        audit.journal(ledger, after=TOO_FAR)
    with pytest.raises(ValidationFailed):
        queries.journal(views, after=TOO_FAR)
    with pytest.raises(ValidationFailed):
        ledger.wallet_events("acme", after_version=TOO_FAR)
