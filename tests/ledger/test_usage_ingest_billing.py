"""Billed usage events (``bill: true``): rated, debited, never refused; debt, then uncollected.

Price book ``default`` rates ``gpt`` at 0.02 credits per input token and 0.08 per output
token, so the standard event (1200 in, 350 out) rates to 24 + 28 = 52 credits.
"""

from __future__ import annotations

from typing import Any

from ledger.app.commands import Debit, PutPriceBook, Refund
from ledger.app.service import CreditLedger
from ledger.domain.ids import receipt_id
from ledger.domain.records import Receipt
from projections import ProjectionRunner, open_views, reconcile_views
from tests.support.builders import make_ledger
from tests.support.usage import recorded, usage
from tests.support.wallets import event_types, events, grant, open_wallet, postings, set_budget

GPT = {"model": "gpt", "input_per_million": 20_000, "output_per_million": 80_000}


def billed(event_id: str = "e-1", **fields: Any) -> dict[str, Any]:
    return {**usage(event_id), "bill": True, **fields}


def rated_wallet(funds: int, overdraft_limit: int = 0) -> CreditLedger:
    """acme with ``funds`` paid credits in g1 (if any) and the ``default`` book rating gpt."""
    ledger = make_ledger()
    open_wallet(ledger, overdraft_limit=overdraft_limit)
    if funds:
        grant(ledger, "acme", "g1", funds)
    ledger.put_price_book(PutPriceBook(price_book_id="default", rates=[GPT]))
    return ledger


def records(ledger: CreditLedger) -> list[dict[str, Any]]:
    return recorded(ledger)


def balance(ledger: CreditLedger) -> dict[str, int]:
    found: dict[str, int] = ledger.wallet("acme")["balance"]
    return found


def test_bills_a_rated_event_from_the_grants() -> None:
    ledger = rated_wallet(1000)

    ledger.ingest_usage([billed()])

    (record,) = records(ledger)
    debit_id = str(receipt_id("acme", "usage:e-1"))
    assert (record["billed"], record["debt"], record["uncollected"]) == (52, 0, 0)
    assert record["debit_id"] == debit_id
    assert record["rating"] == {"price_book_id": "default", "version": 1, "amount": 52}
    assert balance(ledger) == {"available": 948, "held": 0, "debt": 0}
    debit = events(ledger, "acme")[-1]["data"]
    assert (debit["debit_id"], debit["amount"], debit["allocations"]) == (
        debit_id,
        52,
        [{"grant_id": "g1", "amount": 52}],
    )


def test_an_unbilled_event_only_meters() -> None:
    ledger = rated_wallet(1000)

    ledger.ingest_usage([usage("e-1")])

    assert balance(ledger) == {"available": 1000, "held": 0, "debt": 0}
    assert records(ledger)[0]["rating"] is None


def test_a_shortfall_becomes_debt_within_the_overdraft_and_the_rest_is_uncollected() -> None:
    # 52 rated: g1 pays 30, the overdraft limit allows 15 of debt, 7 cannot be collected.
    ledger = rated_wallet(30, overdraft_limit=15)

    ledger.ingest_usage([billed()])

    (record,) = records(ledger)
    assert (record["billed"], record["debt"], record["uncollected"]) == (45, 15, 7)
    assert balance(ledger) == {"available": -15, "held": 0, "debt": 15}
    assert event_types(ledger, "acme")[-2:] == ["CreditsDebited", "DebtIncurred"]
    debit, debt = (e["data"] for e in events(ledger, "acme")[-2:])
    assert (debit["amount"], debit["debt"], debit["uncollected"]) == (45, 15, 7)
    assert (debt["amount"], debt["cause"]) == (15, "usage:e-1")
    # Every posting set balances: 30 from the grant and 15 of debt reach consumption.
    consumed = [
        (p["debit"], p["amount"])
        for p in postings(ledger, "acme")
        if p["credit"] == "platform:credits:consumed"
    ]
    assert consumed == [("wallet:acme:grant:g1", 30), ("wallet:acme:debt", 15)]


def test_debt_already_owed_counts_against_the_overdraft_limit() -> None:
    ledger = rated_wallet(0, overdraft_limit=60)
    ledger.ingest_usage([billed("e-1")])  # 52 of debt

    ledger.ingest_usage([billed("e-2")])  # room for 8 more

    second = records(ledger)[1]
    assert (second["billed"], second["debt"], second["uncollected"]) == (8, 8, 44)
    assert balance(ledger)["debt"] == 60


def test_nothing_is_posted_when_nothing_can_be_collected_but_the_wallet_keeps_the_fact() -> None:
    ledger = rated_wallet(0)
    before = len(events(ledger, "acme"))

    outcome = ledger.ingest_usage([billed()])

    assert outcome.body["accepted"] == 1
    (record,) = records(ledger)
    assert (record["billed"], record["uncollected"], record["debit_id"]) == (0, 52, None)
    (fact,) = events(ledger, "acme", after_version=before)
    assert (fact["type"], fact["data"]["amount"], fact["data"]["postings"]) == (
        "UsageUncollected",
        52,
        [],
    )
    assert ledger.wallet("acme")["uncollected"] == 52


def test_a_zero_rating_bills_nothing() -> None:
    ledger = rated_wallet(1000)

    ledger.ingest_usage([billed(quantities={"input_tokens": 0})])

    (record,) = records(ledger)
    assert record["rating"] == {"price_book_id": "default", "version": 1, "amount": 0}
    assert (record["billed"], record["debit_id"]) == (0, None)
    assert balance(ledger)["available"] == 1000


def test_a_hard_budget_over_its_limit_warns_but_never_denies_usage() -> None:
    ledger = rated_wallet(1000)
    set_budget(ledger, limit=40, mode="hard")

    ledger.ingest_usage([billed()])

    assert balance(ledger)["available"] == 948
    (budget,) = ledger.wallet("acme")["budgets"]
    assert budget["spent"] == 52
    receipt = ledger.find(receipt_id("acme", "usage:e-1"))
    assert isinstance(receipt, Receipt)
    assert receipt.result["warnings"] == [{"code": "hard_budget_exceeded", "budget_id": "b"}]


def test_a_billed_usage_debit_can_be_refunded_by_its_debit_id() -> None:
    ledger = rated_wallet(1000)
    ledger.ingest_usage([billed()])
    debit_id = records(ledger)[0]["debit_id"]

    body = ledger.refund(Refund(wallet_id="acme", debit_id=debit_id, amount=20)).body

    assert body["amount"] == 20
    assert balance(ledger)["available"] == 968
    ledger.refund(Refund(wallet_id="acme", debit_id=debit_id))
    assert balance(ledger)["available"] == 1000


def test_only_the_part_grants_paid_is_refundable() -> None:
    # 30 from g1, 15 of debt: a full refund gives the 30 back, which settles debt first.
    ledger = rated_wallet(30, overdraft_limit=15)
    ledger.ingest_usage([billed()])
    debit_id = records(ledger)[0]["debit_id"]

    body = ledger.refund(Refund(wallet_id="acme", debit_id=debit_id)).body

    assert body["amount"] == 30
    assert balance(ledger) == {"available": 15, "held": 0, "debt": 0}


def test_several_billed_events_of_one_wallet_in_one_batch_each_get_a_debit() -> None:
    ledger = rated_wallet(1000)

    ledger.ingest_usage([billed("e-1"), billed("e-2"), usage("e-3")])

    debit_ids = [r["debit_id"] for r in records(ledger)]
    assert debit_ids[2] is None
    assert balance(ledger)["available"] == 1000 - 2 * 52
    for debit_id in debit_ids[:2]:
        assert ledger.debit_facts("acme", str(debit_id))["amount"] == 52


def test_rejects_billing_without_a_model() -> None:
    ledger = rated_wallet(1000)

    (rejection,) = ledger.ingest_usage([billed(subject={"user_id": "u1"})]).body["rejected"]

    assert rejection["code"] == "validation_error"
    assert rejection["detail"].startswith("subject.model:")


def test_rejects_billing_a_model_the_book_does_not_rate() -> None:
    ledger = rated_wallet(1000)

    outcome = ledger.ingest_usage([billed(subject={"model": "other"}), billed("e-2")])

    assert [r["code"] for r in outcome.body["rejected"]] == ["unknown_model"]
    assert outcome.body["accepted"] == 1
    assert balance(ledger)["available"] == 948


def test_rejects_billing_when_the_wallets_price_book_is_missing() -> None:
    ledger = make_ledger()  # the wallet exists and is funded, but no book was ever put
    open_wallet(ledger)
    grant(ledger, "acme", "g1", 100)

    (rejection,) = ledger.ingest_usage([billed()]).body["rejected"]

    assert rejection["code"] == "price_book_not_found"


def test_a_repeat_of_a_billed_event_bills_nothing_more() -> None:
    ledger = rated_wallet(1000)
    ledger.ingest_usage([billed()])

    again = ledger.ingest_usage([billed()])

    assert again.body["duplicates"] == 1
    assert balance(ledger)["available"] == 948


def test_the_read_models_reconcile_after_billed_usage_with_debt() -> None:
    ledger = rated_wallet(30, overdraft_limit=15)
    ledger.ingest_usage([billed("e-1"), usage("e-2"), billed("e-3")])
    ledger.refund(Refund(wallet_id="acme", debit_id=records(ledger)[0]["debit_id"], amount=10))
    views = open_views(ledger.env)
    try:
        ProjectionRunner(ledger, views, batch_size=3).catch_up()

        assert reconcile_views(ledger, views) == []
    finally:
        views.close()
        ledger.close()


def test_debits_after_billed_usage_see_it_whichever_write_path_cached_the_wallet() -> None:
    # The group committer caches acme after the first debit; ingest then writes acme behind
    # its back. The next debit collides on the version, is decided again, and counts both.
    ledger = rated_wallet(1000)
    ledger.debit(Debit(wallet_id="acme", amount=100))

    ledger.ingest_usage([billed()])
    body = ledger.debit(Debit(wallet_id="acme", amount=100)).body

    assert body["balance"]["available"] == 1000 - 100 - 52 - 100
    assert balance(ledger)["available"] == 748


def test_an_event_whose_debit_key_a_client_already_used_is_rejected_alone() -> None:
    # A client debit took the key the event's debit record would have: "usage:e-1"
    ledger = rated_wallet(1000)
    ledger.debit(Debit(wallet_id="acme", amount=5, idempotency_key="usage:e-1"))

    outcome = ledger.ingest_usage([billed("e-1"), billed("e-2")])

    assert outcome.body["accepted"] == 1
    assert [(r["index"], r["code"]) for r in outcome.body["rejected"]] == [
        (0, "idempotency_conflict")
    ]
    assert balance(ledger)["available"] == 1000 - 5 - 52
    # and the rejected id was not marked seen: sent again it is rejected again, not a duplicate
    assert ledger.ingest_usage([billed("e-1")]).body["rejected"][0]["code"] == (
        "idempotency_conflict"
    )
