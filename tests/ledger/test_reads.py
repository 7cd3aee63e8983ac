"""Point reads: "now" reads come from the cached wallet; only past reads fold history."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ledger.app.commands import Debit
from ledger.app.service import CreditLedger
from tests.support.builders import T0, make_ledger, open_funded_wallet


class TickingClock:
    """Like the real clock: every reading is a little later than the one before."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(microseconds=1)
        return self.now


def _count_history_folds(ledger: CreditLedger) -> list[str]:
    folds: list[str] = []
    original = ledger.wallet_as_of

    def spy(wallet_id: str, as_of: datetime) -> Any:
        folds.append(wallet_id)
        return original(wallet_id, as_of)

    ledger.wallet_as_of = spy  # type: ignore[method-assign]
    return folds


def test_reads_of_now_never_fold_the_whole_history() -> None:
    # Given a wallet with some history, and a clock that moves on every reading
    ledger = make_ledger(clock=TickingClock())  # type: ignore[arg-type]
    open_funded_wallet(ledger, amount=100)
    ledger.debit(Debit(wallet_id="acme", amount=10))
    folds = _count_history_folds(ledger)

    # When the wallet, its budgets and a missing hold are read "now"
    view = ledger.wallet("acme")
    ledger.budgets("acme")

    # Then they come from the cached wallet: no fold of history, and the right balance
    assert folds == []
    assert view["balance"]["available"] == 90


def test_a_read_as_of_a_past_time_folds_history_up_to_it() -> None:
    # Given a wallet debited after its grant
    clock = TickingClock()
    ledger = make_ledger(clock=clock)  # type: ignore[arg-type]
    open_funded_wallet(ledger, amount=100)
    before_debit = clock.now
    ledger.debit(Debit(wallet_id="acme", amount=10))
    folds = _count_history_folds(ledger)

    # When it is read as of a time before the debit
    view = ledger.wallet("acme", as_of=before_debit)

    # Then history is folded up to that time: the debit is not there yet
    assert folds == ["acme"]
    assert view["balance"]["available"] == 100
