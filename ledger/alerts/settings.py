"""A wallet's alert settings: one small event-sourced aggregate per wallet.

Kept apart from the wallet so that changing when to be alerted never touches (or contends
with) the money path. Each event carries the complete settings, so the alerts projection
keeps its copy from the log alone.

* ``balance_low_threshold``: ``wallet.balance_low`` fires when ``available`` falls below it
  (``None``, the default: never).
* ``grant_expiring_lead_seconds``: ``grant.expiring`` fires this long before a grant's
  ``expires_at`` (default :data:`DEFAULT_GRANT_EXPIRING_LEAD_SECONDS`, 3 days).

Topics are explicit and never change: ``ledger:AlertSettings``, ``ledger:AlertSettings.Set``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic

from ledger.domain.errors import FieldError, ValidationFailed
from ledger.domain.ids import ledger_uuid5
from ledger.domain.validation import MAX_AMOUNT

__all__ = [
    "ALERT_SETTINGS_TOPICS",
    "DEFAULT_GRANT_EXPIRING_LEAD_SECONDS",
    "MAX_LEAD_SECONDS",
    "AlertSettings",
    "AlertSettingsSet",
    "alert_settings_uuid",
    "check_alert_settings",
    "default_settings",
]

DEFAULT_GRANT_EXPIRING_LEAD_SECONDS = 3 * 24 * 3600
MAX_LEAD_SECONDS = 366 * 24 * 3600


def alert_settings_uuid(wallet_id: str) -> UUID:
    return ledger_uuid5(f"alert-settings/{wallet_id}")


def default_settings(wallet_id: str) -> dict[str, Any]:
    """What a wallet without settings is alerted by."""
    return {
        "wallet_id": wallet_id,
        "balance_low_threshold": None,
        "grant_expiring_lead_seconds": DEFAULT_GRANT_EXPIRING_LEAD_SECONDS,
        "updated_at": None,
    }


def check_alert_settings(balance_low_threshold: object, lead_seconds: object) -> None:
    """Integers only: a threshold in ``[0, MAX_AMOUNT]`` (or None), a lead in
    ``[0, MAX_LEAD_SECONDS]``."""
    problems: list[FieldError] = []
    if balance_low_threshold is not None and (
        type(balance_low_threshold) is not int or not 0 <= balance_low_threshold <= MAX_AMOUNT
    ):
        problems.append(
            FieldError("balance_low_threshold", f"must be null or an integer 0-{MAX_AMOUNT}")
        )
    if type(lead_seconds) is not int or not 0 <= lead_seconds <= MAX_LEAD_SECONDS:
        problems.append(
            FieldError("grant_expiring_lead_seconds", f"must be an integer 0-{MAX_LEAD_SECONDS}")
        )
    if problems:
        raise ValidationFailed(*problems)


class AlertSettingsSet(Aggregate.Event):
    """The wallet's complete alert settings from now on."""

    TOPIC: ClassVar[str] = "ledger:AlertSettings.Set"

    occurred_at: datetime
    wallet_id: str
    balance_low_threshold: int | None
    grant_expiring_lead_seconds: int
    idempotency_key: str | None

    def apply(self, aggregate: Any) -> None:
        settings: AlertSettings = aggregate
        settings.wallet_id = self.wallet_id
        settings.balance_low_threshold = self.balance_low_threshold
        settings.grant_expiring_lead_seconds = self.grant_expiring_lead_seconds
        settings.updated_at = self.occurred_at


class AlertSettingsCreated(AlertSettingsSet, Aggregate.Created):
    TOPIC: ClassVar[str] = "ledger:AlertSettings.Created"


class AlertSettings(Aggregate):
    TOPIC = "ledger:AlertSettings"
    Event = AlertSettingsSet
    Created = AlertSettingsCreated

    wallet_id: str
    balance_low_threshold: int | None = None
    grant_expiring_lead_seconds: int = DEFAULT_GRANT_EXPIRING_LEAD_SECONDS
    updated_at: datetime | None = None

    @classmethod
    def create(
        cls,
        *,
        wallet_id: str,
        balance_low_threshold: int | None,
        grant_expiring_lead_seconds: int,
        idempotency_key: str | None,
        at: datetime,
    ) -> AlertSettings:
        return cls._create(
            AlertSettingsCreated,
            id=alert_settings_uuid(wallet_id),
            occurred_at=at,
            wallet_id=wallet_id,
            balance_low_threshold=balance_low_threshold,
            grant_expiring_lead_seconds=grant_expiring_lead_seconds,
            idempotency_key=idempotency_key,
        )

    def set(
        self,
        *,
        balance_low_threshold: int | None,
        grant_expiring_lead_seconds: int,
        idempotency_key: str | None,
        at: datetime,
    ) -> bool:
        """Record new settings; False (nothing recorded) when they are the current ones."""
        current = (self.balance_low_threshold, self.grant_expiring_lead_seconds)
        if current == (balance_low_threshold, grant_expiring_lead_seconds):
            return False
        self.trigger_event(
            AlertSettingsSet,
            occurred_at=at if self.updated_at is None else max(at, self.updated_at),
            wallet_id=self.wallet_id,
            balance_low_threshold=balance_low_threshold,
            grant_expiring_lead_seconds=grant_expiring_lead_seconds,
            idempotency_key=idempotency_key,
        )
        return True

    def view(self) -> dict[str, Any]:
        return {
            "wallet_id": self.wallet_id,
            "balance_low_threshold": self.balance_low_threshold,
            "grant_expiring_lead_seconds": self.grant_expiring_lead_seconds,
            "updated_at": self.updated_at,
        }


ALERT_SETTINGS_TOPICS: list[str] = [AlertSettingsCreated.TOPIC, AlertSettingsSet.TOPIC]

for _event_class in (AlertSettingsCreated, AlertSettingsSet):
    register_topic(_event_class.TOPIC, _event_class)
