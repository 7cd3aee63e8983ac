"""What every projection shares: the decoded event it consumes and its table generations.

A projection owns a few tables, all named ``<name>[_<part>]_g<generation>``; a rebuild
creates generation N+1 beside the live N. :meth:`Projection.apply` writes one batch of
events into one generation inside the caller's transaction; the runner writes the tracking
position in that same transaction, so handlers need not be idempotent themselves: a batch
is either wholly recorded with its position or not at all.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ledger.domain.events import WalletEvent
from ledger.domain.postings import platform_prefix, wallet_prefix
from ledger.metering.usage import UsageRecord
from projections.engine.store import Tx

__all__ = ["Change", "InvariantViolation", "Projection", "UsageChange", "check_change"]


@dataclass(frozen=True, slots=True)
class Change:
    """One wallet event at its log position, with the wallet's id and unit resolved."""

    position: int
    event: WalletEvent
    wallet_id: str
    unit: str


@dataclass(frozen=True, slots=True)
class UsageChange:
    """One recorded usage event: its batch's log position and its index in the batch."""

    position: int
    index: int
    record: UsageRecord


class InvariantViolation(Exception):
    """An event in the log breaks double entry; nothing of its batch is written."""

    def __init__(self, position: int, problem: str) -> None:
        super().__init__(f"event at position {position}: {problem}")
        self.position = position
        self.problem = problem


def check_change(change: Change) -> None:
    """Check again, on the read side, that the event's postings are sound double entry.

    Each posting must be a positive integer move between two different accounts, each
    account must belong to the event's wallet or to the platform accounts of its unit (so
    every unit balances on its own), and debits must equal credits over the event.
    """
    debits = credits = 0
    # Built like the accounts themselves: ids and units may contain ':' (escaped in names).
    wallet_accounts = wallet_prefix(change.wallet_id)
    platform_accounts = platform_prefix(change.unit)
    for posting in change.event.postings:
        amount = posting.get("amount")
        debit, credit = posting.get("debit"), posting.get("credit")
        if type(amount) is not int or amount <= 0:
            raise InvariantViolation(change.position, f"posting amount {amount!r} is not > 0")
        if not isinstance(debit, str) or not isinstance(credit, str) or debit == credit:
            raise InvariantViolation(change.position, f"posting legs {debit!r}/{credit!r}")
        for account in (debit, credit):
            if not account.startswith((wallet_accounts, platform_accounts)):
                raise InvariantViolation(
                    change.position, f"account {account!r} is outside wallet and unit"
                )
        debits += amount
        credits += amount
    if debits != credits:  # one amount per two-leg posting: a guard for future shapes
        raise InvariantViolation(change.position, "debits do not equal credits")


class Projection(ABC):
    """A read model: its tables (by generation) and how a batch of events changes them."""

    name: ClassVar[str]
    parts: ClassVar[tuple[str, ...]] = ("",)
    """Table parts: ``""`` is ``<name>_g<N>``, ``"days"`` is ``<name>_days_g<N>``."""
    indexes: ClassVar[tuple[str, ...]] = ()
    """Index name parts, filled into ``{ix_<part>}`` slots of :attr:`ddl`."""
    ddl: ClassVar[tuple[str, ...]]
    """CREATE statements; ``{t}`` is the main table and ``{t_<part>}`` the others."""
    reads_usage: ClassVar[bool] = False
    """Whether :meth:`apply_usage` wants usage events (usage batches are decoded only then)."""
    reads_others: ClassVar[bool] = False
    """Whether :meth:`apply_with_others` replaces :meth:`apply`: it also gets the batch's
    events of other aggregates (``projections.engine.log.OTHER_TOPIC_PREFIXES``), to merge in log
    order with the wallet events."""

    def names(self, generation: int) -> dict[str, str]:
        """Template slots of one generation: table and index names."""
        names = {
            ("t" if part == "" else f"t_{part}"): self.table(part, generation)
            for part in self.parts
        }
        names.update({f"ix_{ix}": f"{self.name}_{ix}_g{generation}" for ix in self.indexes})
        return names

    def table(self, part: str, generation: int) -> str:
        return f"{self.name}_g{generation}" if not part else f"{self.name}_{part}_g{generation}"

    def sql(self, tx: Tx, template: str, generation: int) -> str:
        return tx.dialect.sql(template, **self.names(generation))

    def create(self, tx: Tx, generation: int) -> None:
        """Create this generation's tables and indexes (idempotent)."""
        for statement in self.ddl:
            tx.execute(self.sql(tx, statement, generation))

    def drop(self, tx: Tx, generation: int) -> None:
        """Drop this generation's tables (their indexes go with them)."""
        for part in self.parts:
            tx.execute(f"DROP TABLE IF EXISTS {tx.dialect.table(self.table(part, generation))}")

    @abstractmethod
    def apply(self, tx: Tx, generation: int, changes: Sequence[Change]) -> None:
        """Write the effect of ``changes`` (in log order) into ``generation``."""

    def apply_with_others(
        self, tx: Tx, generation: int, changes: Sequence[Change], others: Sequence[Any]
    ) -> None:
        """:meth:`apply` with the batch's other events (``projections.engine.log.Other``: position
        and event); only called when :attr:`reads_others` is set."""
        raise NotImplementedError(f"{self.name} reads other events but does not apply them")

    def apply_usage(self, tx: Tx, generation: int, usage: Sequence[UsageChange]) -> None:
        """Write the effect of recorded usage events (in log order); only called when
        :attr:`reads_usage` is set, in the same transaction as :meth:`apply`."""
        raise NotImplementedError(f"{self.name} reads usage but does not apply it")

    @abstractmethod
    def dump(self, tx: Tx, generation: int) -> dict[str, dict[Any, Any]]:
        """Every row of the aggregated tables, keyed, in the shape :mod:`projections.engine.fold`
        computes, for reconciliation (the journal compares by position range instead)."""
