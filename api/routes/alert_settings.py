"""``/v1/wallets/{wallet_id}/alert-settings``: when a wallet's alerts fire."""

from __future__ import annotations

from litestar import Controller, Response, get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK

from api.middleware.auth import ADMIN, READ
from api.middleware.metrics import decision
from api.openapi import BEARER, POSITION_HEADERS, problems
from api.rendering import render, respond
from api.routes.params import IdempotencyKey, PathId
from api.schemas.webhooks import AlertSettingsIn, AlertSettingsOut
from ledger.app.alerting import Alerting, PutAlertSettings
from ledger.app.service import CreditLedger

__all__ = ["ALERT_SETTINGS_ROUTES", "AlertSettingsController"]


class AlertSettingsController(Controller):
    """A wallet's alert settings: the low-balance threshold and the grant-expiry lead."""

    path = "/v1/wallets/{wallet_id:str}/alert-settings"
    tags = ["Alerts"]
    security = BEARER

    @put(
        "/",
        operation_id="putAlertSettings",
        opt=decision(PutAlertSettings),
        response_headers=POSITION_HEADERS,
        summary="Set a wallet's alert settings",
        guards=[ADMIN],
        status_code=HTTP_200_OK,
        sync_to_thread=True,
        responses=problems(401, 403, 404, 409, 422, 503),
    )
    def put_alert_settings(
        self,
        ledger: NamedDependency[CreditLedger],
        wallet_id: PathId,
        data: JSONBody[AlertSettingsIn],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[AlertSettingsOut]:
        """Replace the wallet's alert settings. ``wallet.balance_low`` fires when
        ``available`` falls below ``balance_low_threshold`` (null: never, the default) and
        again only after it has been back at or above it; ``grant.expiring`` fires
        ``grant_expiring_lead_seconds`` (default 259200, 3 days) before a grant expires.
        """
        outcome = Alerting(ledger).put_alert_settings(data.to_command(wallet_id, idempotency_key))
        return respond(outcome, AlertSettingsOut, HTTP_200_OK)

    @get(
        "/",
        operation_id="getAlertSettings",
        summary="Read a wallet's alert settings",
        guards=[READ],
        sync_to_thread=True,
        responses=problems(401, 403, 404, 422),
    )
    def get_alert_settings(
        self, ledger: NamedDependency[CreditLedger], wallet_id: PathId
    ) -> AlertSettingsOut:
        """The wallet's alert settings, or the defaults while none were set."""
        return render(Alerting(ledger).alert_settings(wallet_id), AlertSettingsOut)


ALERT_SETTINGS_ROUTES = [AlertSettingsController]
