"""Debits, holds and captures of ``usage``: rated when decided, the rating recorded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ledger.app.commands import CaptureHold, Debit, OpenWallet, PlaceHold, PutPriceBook
from ledger.app.executor import Outcome
from ledger.app.service import CreditLedger
from ledger.domain.errors import (
    BudgetExceeded,
    CaptureExceedsHold,
    IdempotencyConflict,
    UnknownModel,
    ValidationFailed,
    WalletNotFound,
)
from tests.support.builders import make_ledger, open_funded_wallet
from tests.support.wallets import events, grant, set_budget, version

# 0.02 credits per input token, 0.005 per cached one, 0.08 per output one
GPT = {
    "model": "gpt",
    "input_per_million": 20_000,
    "cached_input_per_million": 5_000,
    "output_per_million": 80_000,
}
GPT_DOUBLE = {**GPT, "input_per_million": 40_000, "output_per_million": 160_000}
FREE = {"model": "free", "input_per_million": 0, "output_per_million": 0}
# 1200·0.02 + 350·0.08 = 24 + 28 = 52 (at double prices: 104)
CALL = {"model": "gpt", "input_tokens": 1200, "output_tokens": 350}
CALL_RECORDED = {**CALL, "cached_input_tokens": 0}


def _book(ledger: CreditLedger, *rates: dict[str, Any], book: str = "default", **kw: Any) -> int:
    body = ledger.put_price_book(PutPriceBook(price_book_id=book, rates=list(rates), **kw)).body
    return int(body["version"])


def _rated() -> CreditLedger:
    """acme with 1000 credits (g1); price book ``default`` v1 rates ``gpt`` and ``free``."""
    ledger = make_ledger()
    open_funded_wallet(ledger)
    _book(ledger, GPT, FREE)
    return ledger


def _last(ledger: CreditLedger, wallet_id: str = "acme") -> dict[str, Any]:
    data: dict[str, Any] = events(ledger, wallet_id)[-1]["data"]
    return data


def test_a_debit_of_usage_spends_what_it_rates_to_and_records_how() -> None:
    # Given price book v1 / When usage is debited
    ledger = _rated()
    body = ledger.debit(Debit(wallet_id="acme", usage=CALL)).body

    # Then 52 credits are spent, and the rating is answered and recorded on the event
    assert (body["amount"], body["allocations"]) == (52, [{"grant_id": "g1", "amount": 52}])
    assert body["rating"] == {"price_book_id": "default", "version": 1, "amount": 52}
    recorded = _last(ledger)
    assert recorded["amount"] == 52
    assert recorded["rating"] == {
        "price_book_id": "default",
        "version": 1,
        "amount": 52,
        "usage": CALL_RECORDED,
    }
    # and the subject names the model, so budgets by model see the debit
    assert recorded["subject"] == {"model": "gpt"}
    assert ledger.wallet("acme")["balance"]["available"] == 948


def test_a_subject_that_names_a_model_keeps_it() -> None:
    ledger = _rated()

    ledger.debit(Debit(wallet_id="acme", usage=CALL, subject={"model": "alias", "user_id": "u"}))

    assert _last(ledger)["subject"] == {"model": "alias", "user_id": "u"}


def test_a_debit_of_an_amount_records_no_rating() -> None:
    ledger = _rated()

    body = ledger.debit(Debit(wallet_id="acme", amount=30)).body

    assert "rating" not in body
    assert _last(ledger)["rating"] is None


def test_a_later_price_change_does_not_alter_history() -> None:
    # Given a debit rated at v1
    ledger = _rated()
    ledger.debit(Debit(wallet_id="acme", usage=CALL))
    first = events(ledger, "acme")[-1]

    # When prices double (v2) and the same usage is debited again
    assert _book(ledger, GPT_DOUBLE, FREE) == 2
    body = ledger.debit(Debit(wallet_id="acme", usage=CALL)).body

    # Then the new debit is rated at v2, and the first one still says v1 and 52
    assert body["rating"] == {"price_book_id": "default", "version": 2, "amount": 104}
    assert events(ledger, "acme")[-2] == first
    assert (first["data"]["amount"], first["data"]["rating"]["version"]) == (52, 1)
    assert ledger.wallet("acme")["balance"]["available"] == 1000 - 52 - 104


def test_a_hold_and_its_capture_are_each_rated_when_decided() -> None:
    # Given a hold of up to 1000 output tokens at v1 (80 credits)
    ledger = _rated()
    hold = ledger.place_hold(
        PlaceHold(wallet_id="acme", hold_id="h1", usage={"model": "gpt", "output_tokens": 1000})
    ).body
    placed = _last(ledger)

    # When prices double and 300 output tokens are captured (300·0.16 = 48)
    _book(ledger, GPT_DOUBLE)
    capture = ledger.capture_hold(
        CaptureHold(wallet_id="acme", hold_id="h1", usage={"model": "gpt", "output_tokens": 300})
    ).body

    # Then the hold reserved 80 at v1, the capture took 48 at v2 and released 32
    assert (hold["amount"], hold["rating"]["version"], hold["subject"]) == (80, 1, {"model": "gpt"})
    assert placed["rating"]["amount"] == 80
    assert (capture["captured"], capture["released"]) == (48, 32)
    assert capture["rating"] == {"price_book_id": "default", "version": 2, "amount": 48}
    assert _last(ledger)["rating"]["usage"] == {
        "model": "gpt",
        "input_tokens": 0,
        "cached_input_tokens": 0,
        "output_tokens": 300,
    }


def test_a_capture_rated_above_the_hold_needs_overage() -> None:
    # Given a hold of 10 credits
    ledger = _rated()
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h1", amount=10))
    usage = {"model": "gpt", "output_tokens": 1000}  # 80 credits

    # When 80 are captured without, then with, overage
    with pytest.raises(CaptureExceedsHold):
        ledger.capture_hold(CaptureHold(wallet_id="acme", hold_id="h1", usage=usage))
    body = ledger.capture_hold(
        CaptureHold(wallet_id="acme", hold_id="h1", usage=usage, allow_overage=True)
    ).body

    # Then the overage is debited like a debit
    assert (body["captured"], body["overage"]) == (80, 70)


def test_a_capture_with_neither_amount_nor_usage_takes_what_was_held() -> None:
    ledger = _rated()
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h1", usage=CALL))

    body = ledger.capture_hold(CaptureHold(wallet_id="acme", hold_id="h1")).body

    assert (body["captured"], "rating" in body, _last(ledger)["rating"]) == (52, False, None)


@pytest.mark.parametrize(
    ("command", "fields"),
    [
        (Debit(wallet_id="acme", amount=52, usage=CALL), ["amount", "usage"]),
        (Debit(wallet_id="acme"), ["amount"]),
        (PlaceHold(wallet_id="acme", amount=52, usage=CALL), ["amount", "usage"]),
        (PlaceHold(wallet_id="acme"), ["amount"]),
        (CaptureHold(wallet_id="acme", hold_id="h1", amount=5, usage=CALL), ["amount", "usage"]),
        (Debit(wallet_id="acme", usage={"model": "gpt"}), ["usage"]),
        (PlaceHold(wallet_id="acme", usage={"model": "gpt", "x": 1}), ["usage.x"]),
        (CaptureHold(wallet_id="h", hold_id="h1", usage={"output_tokens": 1}), ["usage.model"]),
    ],
)
def test_amount_xor_usage_is_checked_before_anything_else(command: Any, fields: list[str]) -> None:
    # Given a ledger without wallet "h" / When a malformed command arrives
    ledger = _rated()
    method: dict[type, Callable[[Any], Outcome]] = {
        Debit: ledger.debit,
        PlaceHold: ledger.place_hold,
        CaptureHold: ledger.capture_hold,
    }
    before = version(ledger, "acme")

    with pytest.raises(ValidationFailed) as refused:
        method[type(command)](command)

    # Then validation_error names the fields and nothing is recorded
    assert [e.field for e in refused.value.errors] == fields
    assert version(ledger, "acme") == before


@pytest.mark.parametrize(
    "send",
    [
        lambda ledger, usage: ledger.debit(Debit(wallet_id="acme", usage=usage)),
        lambda ledger, usage: ledger.place_hold(PlaceHold(wallet_id="acme", usage=usage)),
        lambda ledger, usage: ledger.capture_hold(
            CaptureHold(wallet_id="acme", hold_id="h0", usage=usage)
        ),
    ],
    ids=["debit", "hold", "capture"],
)
def test_a_model_without_a_rate_is_unknown_and_records_nothing(send: Any) -> None:
    # Given open hold h0 / When usage of a model the book does not rate is sent
    ledger = _rated()
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h0", amount=5))
    before = version(ledger, "acme")

    with pytest.raises(UnknownModel) as refused:
        send(ledger, {"model": "gpt-9", "input_tokens": 10})

    # Then unknown_model names the model and the book, and nothing is recorded
    assert refused.value.details() == {"model": "gpt-9", "price_book_id": "default"}
    assert version(ledger, "acme") == before


def test_without_a_price_book_no_model_has_a_rate() -> None:
    ledger = make_ledger()
    open_funded_wallet(ledger)

    with pytest.raises(UnknownModel):
        ledger.debit(Debit(wallet_id="acme", usage=CALL))


def test_a_wallet_is_rated_by_its_own_price_book() -> None:
    # Given wallet pro on price book "pro" (double prices), beside the default book
    ledger = _rated()
    _book(ledger, GPT_DOUBLE, book="pro")
    ledger.open_wallet(OpenWallet(wallet_id="pro", price_book_id="pro"))
    grant(ledger, "pro", "g1", 1000)

    # When both debit the same usage / Then each is rated by its own book
    assert ledger.debit(Debit(wallet_id="acme", usage=CALL)).body["amount"] == 52
    assert ledger.debit(Debit(wallet_id="pro", usage=CALL)).body["rating"] == {
        "price_book_id": "pro",
        "version": 1,
        "amount": 104,
    }


def _refused_usage(ledger: CreditLedger, wallet_id: str, usage: dict[str, Any]) -> str:
    before = version(ledger, wallet_id)
    with pytest.raises(ValidationFailed) as refused:
        ledger.debit(Debit(wallet_id=wallet_id, usage=usage))
    assert [e.field for e in refused.value.errors] == ["usage"]
    assert refused.value.depends_on_state is True
    assert version(ledger, wallet_id) == before
    return refused.value.detail


def test_a_price_book_in_another_unit_cannot_rate_the_wallet() -> None:
    # Given a wallet counting micro_usd on the default book, which rates in credits
    ledger = _rated()
    ledger.open_wallet(OpenWallet(wallet_id="usd", unit="micro_usd"))
    grant(ledger, "usd", "g1", 1000)

    # When usage is debited / Then validation_error names usage and says why
    detail = _refused_usage(ledger, "usd", CALL)
    assert "'credits'" in detail
    assert "'micro_usd'" in detail


def test_usage_that_rates_to_nothing_or_too_much_is_refused() -> None:
    ledger = _rated()
    _book(
        ledger, GPT, FREE, {"model": "top", "input_per_million": 2**53 - 1, "output_per_million": 0}
    )

    assert "rates to 0" in _refused_usage(ledger, "acme", {"model": "free", "input_tokens": 5})
    assert "more than" in _refused_usage(
        ledger, "acme", {"model": "top", "input_tokens": 2_000_000}
    )


def test_a_repeat_of_a_rated_debit_replays_even_after_the_book_changed() -> None:
    # Given a usage debit with key k
    ledger = _rated()
    first = ledger.debit(Debit(wallet_id="acme", usage=CALL, idempotency_key="k"))

    # When the book drops the model, then changes unit, and k is retried after each
    _book(ledger, FREE)
    after_drop = ledger.debit(Debit(wallet_id="acme", usage=CALL, idempotency_key="k"))
    _book(ledger, GPT, unit="tokens")
    after_unit = ledger.debit(Debit(wallet_id="acme", usage=CALL, idempotency_key="k"))

    # Then both retries answer the first result (refusals depending on state yield to it)
    assert (after_drop.replayed, after_drop.body) == (True, first.body)
    assert (after_unit.replayed, after_unit.body) == (True, first.body)
    assert ledger.wallet("acme")["balance"]["available"] == 948
    # and other usage with the same key is a conflict
    with pytest.raises(IdempotencyConflict):
        ledger.debit(
            Debit(wallet_id="acme", usage={**CALL, "output_tokens": 1}, idempotency_key="k")
        )


def test_wallet_not_found_comes_before_rating() -> None:
    ledger = make_ledger()  # no wallet, no price book

    with pytest.raises(WalletNotFound):
        ledger.debit(Debit(wallet_id="nope", usage=CALL))


def test_idempotency_conflict_comes_before_unknown_model() -> None:
    ledger = _rated()
    ledger.debit(Debit(wallet_id="acme", amount=10, idempotency_key="k"))

    with pytest.raises(IdempotencyConflict):
        ledger.debit(Debit(wallet_id="acme", usage={**CALL, "model": "x"}, idempotency_key="k"))


def test_unknown_model_comes_before_the_addressed_hold() -> None:
    ledger = _rated()

    with pytest.raises(UnknownModel):
        ledger.capture_hold(
            CaptureHold(wallet_id="acme", hold_id="nope", usage={**CALL, "model": "x"})
        )


def test_budgets_by_model_count_rated_debits() -> None:
    # Given a hard budget of 50 for model gpt
    ledger = _rated()
    set_budget(ledger, 50, scope={"model": "gpt"})

    # When usage rating to 52 is debited / Then the budget refuses it
    with pytest.raises(BudgetExceeded) as refused:
        ledger.debit(Debit(wallet_id="acme", usage=CALL))
    assert refused.value.requested == 52
