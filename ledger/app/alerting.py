"""Alert configuration commands and reads: webhooks and each wallet's alert settings.

:class:`Alerting` wraps a ledger application and runs these commands through its
idempotent decide-then-save loop, like price books: webhook commands are keyed server-wide
(``WEBHOOKS_SCOPE``), a wallet's settings under the wallet (its keys' scope). Neither
touches a wallet aggregate, so configuring alerts never contends with the money path.

Alerts themselves are made from the log by ``projections.alerts.projection`` and delivered by its
worker; nothing here sends anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ledger.alerts.settings import (
    DEFAULT_GRANT_EXPIRING_LEAD_SECONDS,
    AlertSettings,
    alert_settings_uuid,
    check_alert_settings,
    default_settings,
)
from ledger.alerts.webhooks import WEBHOOKS_SCOPE, Webhook, check_webhook, webhook_uuid
from ledger.app.application import LedgerApplication
from ledger.app.commands import Command
from ledger.app.executor import Decision, Outcome
from ledger.domain.errors import WebhookNotFound
from ledger.domain.validation import check_id

__all__ = ["Alerting", "DeleteWebhook", "DisableWebhook", "PutAlertSettings", "PutWebhook"]


@dataclass(frozen=True, kw_only=True)
class PutWebhook(Command):
    """Create a webhook or replace its definition (re-activating a deleted one)."""

    webhook_id: str
    url: str
    secret: str
    events: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class DeleteWebhook(Command):
    webhook_id: str


@dataclass(frozen=True, kw_only=True)
class DisableWebhook(Command):
    """Stop deliveries to a webhook whose ``url`` answered 410 Gone (the delivery worker's)."""

    webhook_id: str
    url: str
    reason: str = "the endpoint answered 410 Gone"


@dataclass(frozen=True, kw_only=True)
class PutAlertSettings(Command):
    wallet_id: str
    balance_low_threshold: int | None = None
    grant_expiring_lead_seconds: int = DEFAULT_GRANT_EXPIRING_LEAD_SECONDS


class Alerting:
    """Webhook and alert-settings commands on one ledger application."""

    def __init__(self, app: LedgerApplication) -> None:
        self.app = app

    def put_webhook(self, cmd: PutWebhook) -> Outcome:
        """Body: the webhook's view (``secret_set``, never the secret) and ``created``
        (True when this call created it or brought a deleted one back: HTTP 201). A disabled
        webhook PUT again is enabled again (200)."""
        check_id("webhook_id", cmd.webhook_id)
        events = check_webhook(cmd.url, cmd.secret, cmd.events)
        key, given = self.app.key_of(cmd)
        recorded_key = key if given else None

        def decide(_: bool) -> Decision:
            at = self.app.now()
            hook: Webhook | None = self.app.find(webhook_uuid(cmd.webhook_id))
            if hook is None:
                hook = Webhook.create(
                    webhook_id=cmd.webhook_id,
                    url=cmd.url,
                    secret=cmd.secret,
                    events=events,
                    idempotency_key=recorded_key,
                    at=at,
                )
                return Decision({**hook.view(), "created": True}, [hook])
            was_deleted = hook.deleted
            changed = hook.change(
                url=cmd.url, secret=cmd.secret, events=events, idempotency_key=recorded_key, at=at
            )
            return Decision({**hook.view(), "created": was_deleted}, [hook] if changed else [])

        return self.app.writer.run(
            scope=WEBHOOKS_SCOPE,
            key=key,
            key_given=given,
            command=cmd,
            decide=decide,
            receipt_when_unchanged=True,
        )

    def webhook(self, webhook_id: str) -> dict[str, Any]:
        """A webhook's view (``status``: ``active`` or ``disabled``); ``webhook_not_found``
        when unknown or deleted."""
        return self._active(webhook_id).view()

    def disable_webhook(self, cmd: DisableWebhook) -> Outcome:
        """Disable a webhook whose ``cmd.url`` answered 410 Gone; nothing when it is not
        active or has another URL by now (see ``Webhook.disable``)."""
        check_id("webhook_id", cmd.webhook_id)
        key, given = self.app.key_of(cmd)

        def decide(_: bool) -> Decision:
            hook: Webhook | None = self.app.find(webhook_uuid(cmd.webhook_id))
            if hook is None:
                return Decision({"disabled": False}, [])
            changed = hook.disable(url=cmd.url, reason=cmd.reason, at=self.app.now())
            return Decision({"disabled": changed}, [hook] if changed else [])

        return self.app.writer.run(
            scope=WEBHOOKS_SCOPE, key=key, key_given=given, command=cmd, decide=decide
        )

    def delete_webhook(self, cmd: DeleteWebhook) -> Outcome:
        """Stop future deliveries (pending ones are given up); ``webhook_not_found`` when
        unknown or already deleted."""
        check_id("webhook_id", cmd.webhook_id)
        key, given = self.app.key_of(cmd)

        def decide(_: bool) -> Decision:
            hook = self._active(cmd.webhook_id)
            hook.delete(idempotency_key=key if given else None, at=self.app.now())
            return Decision({"webhook_id": cmd.webhook_id, "deleted": True}, [hook])

        return self.app.writer.run(
            scope=WEBHOOKS_SCOPE, key=key, key_given=given, command=cmd, decide=decide
        )

    def check_known(self, webhook_id: str) -> None:
        """``webhook_not_found`` unless the webhook exists or existed (its log outlives it)."""
        check_id("webhook_id", webhook_id)
        if self.app.find(webhook_uuid(webhook_id)) is None:
            raise WebhookNotFound(webhook_id)

    def on_gone(self, webhook_id: str, url: str) -> None:
        """The delivery worker's ``on_gone``: ``url`` of the webhook answered 410 Gone."""
        self.disable_webhook(DisableWebhook(webhook_id=webhook_id, url=url))

    def _active(self, webhook_id: str) -> Webhook:
        """The webhook, active or disabled; ``webhook_not_found`` when unknown or deleted."""
        check_id("webhook_id", webhook_id)
        hook: Webhook | None = self.app.find(webhook_uuid(webhook_id))
        if hook is None or hook.deleted:
            raise WebhookNotFound(webhook_id)
        return hook

    def put_alert_settings(self, cmd: PutAlertSettings) -> Outcome:
        """Replace a wallet's alert settings; body: the settings. ``wallet_not_found``."""
        check_id("wallet_id", cmd.wallet_id)
        check_alert_settings(cmd.balance_low_threshold, cmd.grant_expiring_lead_seconds)
        app = self.app.shard_for(cmd.wallet_id)  # beside the wallet, in its shard
        key, given = app.key_of(cmd)
        recorded_key = key if given else None

        def decide(_: bool) -> Decision:
            app.load_wallet(cmd.wallet_id)  # raises wallet_not_found
            at = app.now()
            found: AlertSettings | None = app.find(alert_settings_uuid(cmd.wallet_id))
            if found is None:
                settings = AlertSettings.create(
                    wallet_id=cmd.wallet_id,
                    balance_low_threshold=cmd.balance_low_threshold,
                    grant_expiring_lead_seconds=cmd.grant_expiring_lead_seconds,
                    idempotency_key=recorded_key,
                    at=at,
                )
                return Decision(settings.view(), [settings])
            changed = found.set(
                balance_low_threshold=cmd.balance_low_threshold,
                grant_expiring_lead_seconds=cmd.grant_expiring_lead_seconds,
                idempotency_key=recorded_key,
                at=at,
            )
            return Decision(found.view(), [found] if changed else [])

        return app.writer.run(
            scope=cmd.wallet_id,
            key=key,
            key_given=given,
            command=cmd,
            decide=decide,
            receipt_when_unchanged=True,
        )

    def alert_settings(self, wallet_id: str) -> dict[str, Any]:
        """A wallet's alert settings (the defaults until set); ``wallet_not_found``."""
        check_id("wallet_id", wallet_id)
        app = self.app.shard_for(wallet_id)
        app.load_wallet(wallet_id)
        found: AlertSettings | None = app.find(alert_settings_uuid(wallet_id))
        return default_settings(wallet_id) if found is None else found.view()
