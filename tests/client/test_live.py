"""The client against a real ``ledger serve`` process, on SQLite and on Postgres.

Typed answers and typed refusals as the server sends them, usage rated from provider usage
objects, holds as context managers, idempotent repeats, and a retry after an answer lost on
the way back that the real server answers from its idempotency record.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import httpx
import pytest
from credit_ledger import (
    AsyncLedger,
    BudgetExceeded,
    Capture,
    Debit,
    Forbidden,
    HoldNotOpen,
    IdempotencyConflict,
    InsufficientCredits,
    Ledger,
    Unauthenticated,
    Usage,
    ValidationFailed,
    WalletExists,
    usage_from_anthropic,
    usage_from_openai,
)

from tests.client.live import RATES, events_of, rated
from tests.support.live_server import TEST_ADMIN_KEY, LiveServer


def test_spending_through_a_real_server(admin: Ledger) -> None:
    admin.open_wallet("acme", metadata={"plan": "pro"})
    with pytest.raises(WalletExists):
        admin.open_wallet("acme")
    admin.grant("acme", 1000, "paid", grant_id="g1")
    admin.put_price_book("default", [RATES])

    openai = usage_from_openai(
        {
            "prompt_tokens": 1200,
            "completion_tokens": 350,
            "prompt_tokens_details": {"cached_tokens": 200},
        },
        model="gpt-4.1",
    )
    debit = admin.debit("acme", usage=openai, subject={"user_id": "u1"})
    assert isinstance(debit, Debit)
    assert debit.amount == rated(openai) == 5
    assert debit.rating is not None
    assert debit.rating.amount == 5

    estimate = Usage(model="gpt-4.1", input_tokens=10_000, output_tokens=1_000)
    actual = usage_from_anthropic(
        {
            "input_tokens": 21,
            "cache_creation_input_tokens": 1000,
            "cache_read_input_tokens": 2000,
            "output_tokens": 100,
        },
        model="gpt-4.1",
    )
    with admin.hold("acme", usage=estimate, subject={"user_id": "u1", "model": "gpt-4.1"}) as h:
        assert h.placed is not None
        assert h.placed.amount == rated(estimate) == 28
        captured = h.capture(usage=actual)
    assert isinstance(captured, Capture)
    assert (captured.captured, captured.released) == (rated(actual), 28 - rated(actual))

    with pytest.raises(ZeroDivisionError), admin.hold("acme", 50) as failed:
        _ = 1 / 0
    assert admin.get_hold("acme", failed.hold_id or "").status == "released"
    with pytest.raises(HoldNotOpen) as not_open:
        admin.capture_hold("acme", failed.hold_id or "")
    assert (not_open.value.hold_status, not_open.value.status) == ("released", 409)
    problem = not_open.value.problem  # contract 1.1: status is the HTTP status
    assert (problem["status"], problem["hold_status"]) == (409, "released")

    available = 1000 - 5 - rated(actual)
    with pytest.raises(InsufficientCredits) as short:
        admin.debit("acme", 10**6)
    assert (short.value.available, short.value.requested) == (available, 10**6)

    admin.set_budget("acme", "team-t1", limit=10, period="month", scope={"team_id": "t1"})
    with pytest.raises(BudgetExceeded) as capped:
        admin.debit("acme", 11, subject={"team_id": "t1"})
    refused = capped.value
    assert (refused.budget_id, refused.limit, refused.spent, refused.requested) == (
        "team-t1",
        10,
        0,
        11,
    )
    assert isinstance(refused.period_end, datetime)

    first = admin.debit("acme", 7, idempotency_key="order-1")
    again = admin.debit("acme", 7, idempotency_key="order-1")
    assert again.debit_id == first.debit_id
    with pytest.raises(IdempotencyConflict):
        admin.debit("acme", 8, idempotency_key="order-1")
    refund = admin.refund("acme", first.debit_id, amount=2)
    assert refund.amount == 2

    with pytest.raises(ValidationFailed) as invalid:
        admin.grant("acme", 0, "paid")
    assert [e.field for e in invalid.value.errors] == ["amount"]

    wallet = admin.get_wallet("acme")
    assert wallet.balance.available == available - 7 + 2
    assert [g.grant_id for g in wallet.grants] == ["g1"]
    assert len(events_of(admin, "acme", "CreditsDebited")) == 2


def test_reads_and_administration_through_a_real_server(server: LiveServer, admin: Ledger) -> None:
    admin.open_wallet("acme")
    admin.grant("acme", 100, "promotional")
    admin.debit("acme", 30, subject={"user_id": "u1", "model": "m1"})
    position = admin.last_position
    assert position > 0

    journal = admin.get_journal(wallet_id="acme", min_position=position)
    assert sum(e.debit for e in journal.items) == sum(e.credit for e in journal.items) == 130
    csv = admin.journal_csv(wallet_id="acme", min_position=position)
    assert len(csv.strip().splitlines()) == len(journal.items) + 1
    assert admin.trial_balance(min_position=position).balanced
    usage = admin.get_usage("acme", group_by=["model"], min_position=position)
    assert [(p.group, p.debited, p.count) for p in usage] == [({"model": "m1"}, 30, 1)]

    admin.put_alert_settings("acme", balance_low_threshold=50)
    assert admin.get_alert_settings("acme").balance_low_threshold == 50
    webhook = admin.put_webhook(
        "ops", url="http://127.0.0.1:9/hook", secret="s" * 32, events=["wallet.balance_low"]
    )
    assert webhook.secret_set
    assert admin.webhook_deliveries("ops").items == admin.webhook_deliveries("ops").items
    admin.delete_webhook("ops")

    admin.put_meter(
        "tokens", event_type="llm.completion", aggregation="sum", value="quantities.output_tokens"
    )
    ingested = admin.ingest_usage_events(
        [
            {
                "event_id": "e1",
                "wallet_id": "acme",
                "type": "llm.completion",
                "occurred_at": "2026-01-01T00:00:00Z",
                "quantities": {"output_tokens": 350},
            }
        ]
    )
    assert (ingested.accepted, ingested.rejected) == (1, [])
    series = admin.meter_series("acme", "tokens", min_position=admin.last_position)
    assert [p.value for p in series] == [350]

    issued = admin.create_api_key(["service"], name="backend")
    with Ledger(server.url, issued.key) as service:
        assert service.debit("acme", 1).amount == 1
        with pytest.raises(Forbidden):
            service.open_wallet("other")
        admin.revoke_api_key(issued.key_id)
        with pytest.raises(Unauthenticated):
            service.get_wallet("acme")

    assert admin.health()
    assert admin.ready()
    assert "ledger_" in admin.metrics()
    assert {p.name for p in admin.list_projections()} >= {"journal", "usage"}


class LoseFirstAnswer(httpx.BaseTransport):
    """The network: the first debit's answer is read from the server, then lost."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.lost = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.url.path.endswith("/debits") and not self.lost:
            response.read()
            self.lost += 1
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


def test_a_retry_after_a_lost_answer_is_answered_from_the_first_decision(
    server: LiveServer, admin: Ledger
) -> None:
    admin.open_wallet("acme")
    admin.grant("acme", 100, "paid")
    network = LoseFirstAnswer()

    with Ledger(server.url, TEST_ADMIN_KEY, transport=network) as ledger:
        debit = ledger.debit("acme", 40)

    assert network.lost == 1
    assert debit.balance.available == 60
    assert len(events_of(admin, "acme", "CreditsDebited")) == 1


def test_the_async_client_against_a_real_server(server: LiveServer) -> None:
    async def run() -> tuple[int, str, int]:
        async with AsyncLedger(server.url, TEST_ADMIN_KEY, timeout=30.0) as ledger:
            await ledger.open_wallet("acme")
            await ledger.grant("acme", 100, "paid")
            debits = await asyncio.gather(*(ledger.debit("acme", 10) for _ in range(3)))
            async with ledger.hold("acme", 20) as h:
                await h.capture(5)
            async with ledger.hold("acme", 20) as released:
                pass
            hold = await ledger.get_hold("acme", released.hold_id or "")
            wallet = await ledger.get_wallet("acme")
            return len({d.debit_id for d in debits}), hold.status, wallet.balance.available

    distinct, status, available = asyncio.run(run())

    assert distinct == 3
    assert status == "released"
    assert available == 100 - 30 - 5
