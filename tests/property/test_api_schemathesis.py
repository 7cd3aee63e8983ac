"""Schemathesis over the app's own OpenAPI document: every operation, generated requests.

The app runs in-process (ASGI, no network) on an in-memory ledger with an admin key. Each
generated request must never answer 5xx, every 4xx must be an RFC 9457 problem
(``application/problem+json`` with its ``code``), and every answer must match what the
document says (status, content type, headers, body schema). Path ids are sometimes swapped
for ids that exist (a funded wallet with a grant, an open hold, a budget, a debit and the
price book the wallet rates usage against), so requests get past ``*_not_found`` into the
ledger's decisions. The one 5xx allowed is 503 ``projection_lagging``, the documented answer
to a ``min_position`` the read models do not reach in time (generated positions are mostly
far beyond the log's head).

Every operation runs with the admin key, then with a key of each other scope (``service``,
``auditor``, ``customer:acme``), whose refusals must be documented problems too.

Bounded: :data:`EXAMPLES` per operation with the admin key and :data:`SCOPED_EXAMPLES` per
operation and scope (about 45 s for the whole file on two busy cores).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from api.errors import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_BASE
from api.settings import Settings
from ledger.app.commands import Debit, GrantCredits, OpenWallet, PlaceHold, PutPriceBook, SetBudget
from ledger.app.keys import issue_key
from ledger.app.meters import PutMeter, put_meter
from ledger.app.service import CreditLedger
from tests.support.builders import make_ledger

EXAMPLES = 20
ADMIN_KEY = "schemathesis-admin-key-0123456789abcdef"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def seeded_ledger() -> tuple[CreditLedger, dict[str, str]]:
    """A ledger with things to find, and the ids generated paths may be swapped for."""
    ledger = make_ledger()
    ledger.open_wallet(OpenWallet(wallet_id="acme", overdraft_limit=100))
    ledger.grant(GrantCredits(wallet_id="acme", grant_id="g1", amount=10**9, category="paid"))
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h1", amount=100))
    ledger.set_budget(
        SetBudget(wallet_id="acme", budget_id="b1", limit=10**6, period="month", scope={})
    )
    debit = ledger.debit(Debit(wallet_id="acme", amount=10))
    rate = {"model": "gpt-4.1", "input_per_million": 2000, "output_per_million": 8000}
    ledger.put_price_book(PutPriceBook(price_book_id="default", rates=[rate]))
    meter = {"event_type": "llm.completion", "aggregation": "latest", "value": "properties.region"}
    put_meter(ledger, PutMeter(meter_id="m1", group_by=["model"], **meter))
    ids = {
        "wallet_id": "acme",
        "grant_id": "g1",
        "hold_id": "h1",
        "budget_id": "b1",
        "debit_id": str(debit.body["debit_id"]),
        "price_book_id": "default",
        "meter_id": "m1",
    }
    return ledger, ids


LEDGER, KNOWN_IDS = seeded_ledger()
SETTINGS = Settings(
    database_url="memory://",
    bootstrap_admin_key=SecretStr(ADMIN_KEY),
    projection_wait_seconds=0.05,  # a generated min_position is mostly out of reach
)
APP = create_app(SETTINGS, ledger=LEDGER)
schema = schemathesis.openapi.from_asgi("/schema/openapi.json", APP)


@schema.hook
def flatmap_path_parameters(
    _: Any, path_parameters: dict[str, Any] | None
) -> st.SearchStrategy[Any]:
    """Keep the generated ids, or use the ones that exist (each id independently)."""
    if not path_parameters:
        return st.just(path_parameters)
    return st.fixed_dictionaries(
        {
            name: st.sampled_from([value, KNOWN_IDS[name]]) if name in KNOWN_IDS else st.just(value)
            for name, value in path_parameters.items()
        }
    )


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_operation_fails_or_breaks_its_contract(case: schemathesis.Case[Any]) -> None:
    check_answer(case, case.call(headers={"Authorization": f"Bearer {ADMIN_KEY}"}))


SCOPED_EXAMPLES = 5
SCOPE_KEYS = {
    scope: issue_key(LEDGER, [scope], f"schemathesis {scope}")[1]
    for scope in ("service", "auditor", "customer:acme")
}
"""A key of every other scope (``customer:acme`` owns the seeded wallet)."""


@schema.parametrize()
@pytest.mark.parametrize("scope", sorted(SCOPE_KEYS))
@settings(
    max_examples=SCOPED_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_operation_fails_or_breaks_its_contract_for_any_scope(
    case: schemathesis.Case[Any], scope: str
) -> None:
    """Refusals (403, 404 for another customer's wallet) are problems the document lists."""
    check_answer(case, case.call(headers={"Authorization": f"Bearer {SCOPE_KEYS[scope]}"}))


def check_answer(case: schemathesis.Case[Any], response: Any) -> None:
    """No 5xx (bar ``projection_lagging``), as documented, and every 4xx a problem."""
    lagging = response.status_code == 503 and response.json().get("code") == "projection_lagging"
    checks = [check for check in CHECKS if not (lagging and check is not_a_server_error)]
    case.validate_response(response, checks=checks)
    if 400 <= response.status_code < 500:
        media_type = response.headers["content-type"][0]
        assert media_type.startswith(PROBLEM_MEDIA_TYPE), (response.status_code, media_type)
        problem = response.json()
        assert problem["status"] == response.status_code
        assert problem["type"] == PROBLEM_TYPE_BASE + problem["code"]
