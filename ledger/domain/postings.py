"""Double-entry postings and the chart of accounts.

A posting moves ``amount`` (a positive integer in the wallet's unit) from ``debit`` to
``credit``. Because each posting carries both legs with one amount, every set of postings
balances per unit by construction; :func:`assert_balanced` still checks the shape, and the
projections check the same invariant again on their side.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Posting",
    "assert_balanced",
    "consumed_account",
    "consumption_postings",
    "debt_account",
    "expired_account",
    "grant_account",
    "holds_account",
    "issued_account",
    "platform_prefix",
    "postings_from_dicts",
    "postings_to_dicts",
    "voided_account",
    "wallet_prefix",
]


def _segment(part: str) -> str:
    """Ids may contain ':' (the account separator), so it is escaped as '%3A' inside a name.

    '%' is not allowed in ids, so the escape is unambiguous and ordinary ids read as-is.
    """
    return part.replace(":", "%3A")


def wallet_prefix(wallet_id: str) -> str:
    """What every account of the wallet starts with (``wallet:<escaped id>:``)."""
    return f"wallet:{_segment(wallet_id)}:"


def platform_prefix(unit: str) -> str:
    """What every platform account of ``unit`` starts with (``platform:<escaped unit>:``)."""
    return f"platform:{_segment(unit)}:"


def grant_account(wallet_id: str, grant_id: str) -> str:
    return f"wallet:{_segment(wallet_id)}:grant:{_segment(grant_id)}"


def holds_account(wallet_id: str) -> str:
    return f"wallet:{_segment(wallet_id)}:holds"


def debt_account(wallet_id: str) -> str:
    return f"wallet:{_segment(wallet_id)}:debt"


def issued_account(unit: str, category: str) -> str:
    return f"platform:{_segment(unit)}:issued:{category}"


def consumed_account(unit: str) -> str:
    return f"platform:{_segment(unit)}:consumed"


def expired_account(unit: str) -> str:
    return f"platform:{_segment(unit)}:expired"


def voided_account(unit: str) -> str:
    return f"platform:{_segment(unit)}:voided"


@dataclass(frozen=True, slots=True)
class Posting:
    """One double-entry movement: DR ``debit`` / CR ``credit`` of ``amount``."""

    debit: str
    credit: str
    amount: int

    def as_dict(self) -> dict[str, Any]:
        return {"debit": self.debit, "credit": self.credit, "amount": self.amount}


def postings_to_dicts(postings: Iterable[Posting]) -> list[dict[str, Any]]:
    """Events store postings as plain dicts so the transcoder needs nothing custom."""
    return [p.as_dict() for p in postings]


def postings_from_dicts(rows: Iterable[Mapping[str, Any]]) -> list[Posting]:
    return [Posting(str(r["debit"]), str(r["credit"]), int(r["amount"])) for r in rows]


def assert_balanced(postings: Iterable[Posting]) -> None:
    """Raise AssertionError unless every posting is a well-formed, positive, two-leg move.

    Checked in the domain before an event is recorded; never disabled by ``python -O``
    because it raises explicitly rather than with ``assert``.
    """
    debit_total = 0
    credit_total = 0
    for posting in postings:
        if type(posting.amount) is not int or posting.amount <= 0:
            raise AssertionError(f"posting amount must be a positive int: {posting!r}")
        if posting.debit == posting.credit:
            raise AssertionError(f"posting debits and credits one account: {posting!r}")
        debit_total += posting.amount
        credit_total += posting.amount
    if debit_total != credit_total:  # pragma: no cover - guards a future multi-leg shape
        raise AssertionError("postings do not balance")


def consumption_postings(
    wallet_id: str, unit: str, allocations: Iterable[Mapping[str, Any]]
) -> list[Posting]:
    """Spending from grants: DR each allocated grant / CR ``platform:{unit}:consumed``."""
    consumed = consumed_account(unit)
    postings = [
        Posting(grant_account(wallet_id, a["grant_id"]), consumed, a["amount"]) for a in allocations
    ]
    assert_balanced(postings)
    return postings
