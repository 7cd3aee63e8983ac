"""Wallet events: the persisted, public record of every decision.

Topics are explicit (``ledger:Wallet.<Name>``) and never change; a schema change bumps
``class_version`` and adds an ``upcast_vN_vN+1``. A field may also be added *last* with a
default (``rating``): an event stored before it existed decodes with the default, because
the store's mapper restores an event's ``__dict__`` and the dataclass default is the class
attribute behind it. Each ``apply`` only assigns facts already
decided by a command: it never re-runs a policy, reads a clock or raises for business
reasons, so replaying history reproduces exactly what was decided. The invariant checks at
the end of ``apply`` are pair assertions against corrupt history, not business rules.

The base of every wallet event, the wallet's opening and what events apply their facts to
are in :mod:`ledger.domain.event_base`, the events in :mod:`ledger.domain.events_core` and
:mod:`ledger.domain.events_allowances`; this module exports them all and registers their topics.
"""

from __future__ import annotations

from eventsourcing.utils import register_topic

from ledger.domain.event_base import AppliesFacts, WalletEvent, WalletOpened
from ledger.domain.events_allowances import (
    ALLOWANCE_EVENT_CLASSES,
    AllowanceGranted,
    AllowanceRemoved,
    AllowanceSet,
    RolloverGranted,
)
from ledger.domain.events_core import (
    BudgetRemoved,
    BudgetSet,
    CreditsDebited,
    CreditsGranted,
    DebitRefunded,
    DebtIncurred,
    DebtSettled,
    GrantExpired,
    GrantVoided,
    HoldCaptured,
    HoldExpired,
    HoldPlaced,
    HoldReleased,
    UsageUncollected,
)

__all__ = [
    "ALLOWANCE_EVENT_CLASSES",
    "HOLD_CLOSED_AS",
    "WALLET_EVENT_CLASSES",
    "WALLET_TOPICS",
    "AllowanceGranted",
    "AllowanceRemoved",
    "AllowanceSet",
    "AppliesFacts",
    "BudgetRemoved",
    "BudgetSet",
    "CreditsDebited",
    "CreditsGranted",
    "DebitRefunded",
    "DebtIncurred",
    "DebtSettled",
    "GrantExpired",
    "GrantVoided",
    "HoldCaptured",
    "HoldExpired",
    "HoldPlaced",
    "HoldReleased",
    "RolloverGranted",
    "UsageUncollected",
    "WalletEvent",
    "WalletOpened",
    "event_type",
]

WALLET_EVENT_CLASSES: tuple[type[WalletEvent], ...] = (
    WalletOpened,
    CreditsGranted,
    DebtSettled,
    DebtIncurred,
    CreditsDebited,
    HoldPlaced,
    HoldCaptured,
    HoldReleased,
    HoldExpired,
    GrantExpired,
    GrantVoided,
    DebitRefunded,
    BudgetSet,
    BudgetRemoved,
    *ALLOWANCE_EVENT_CLASSES,
    UsageUncollected,
)
WALLET_TOPICS: list[str] = [cls.TOPIC for cls in WALLET_EVENT_CLASSES]


HOLD_CLOSED_AS: dict[type, str] = {
    HoldCaptured: "captured",
    HoldReleased: "released",
    HoldExpired: "expired",
}
"""The status a hold ends in, by the event that resolved it."""


def event_type(event: object) -> str:
    """The stable short name of an event: the last part of its topic (``CreditsDebited``)."""
    return str(getattr(event, "TOPIC", type(event).__name__)).rsplit(".", 1)[-1]


"""Every wallet event topic: the filter for reading only wallet events from the log."""

for _event_class in WALLET_EVENT_CLASSES:
    register_topic(_event_class.TOPIC, _event_class)
