"""Operations on wallets and what belongs to them: grants, budgets, allowances and alert
settings. Each function builds a :class:`~credit_ledger.calls.Call`; the clients expose it
as a method of the same name and signature."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from credit_ledger.admin import AlertSettings
from credit_ledger.calls import (
    Call,
    decode_as,
    decode_items,
    decode_none,
    decode_page,
    json_body,
    new_key,
    query,
    segment,
)
from credit_ledger.models import Allowance, Budget, Grant, Wallet, WalletEvent, WalletSummary
from credit_ledger.reports import Page
from credit_ledger.usage import Subject

__all__ = [
    "delete_allowance",
    "delete_budget",
    "get_alert_settings",
    "get_allowance",
    "get_budget",
    "get_wallet",
    "grant",
    "list_allowances",
    "list_budgets",
    "list_wallets",
    "open_wallet",
    "put_alert_settings",
    "put_allowance",
    "set_budget",
    "void_grant",
    "wallet_events",
]

GrantCategory = Literal["paid", "promotional", "trial", "refund", "rollover"]


def _wallet(wallet_id: str) -> str:
    return f"/v1/wallets/{segment(wallet_id)}"


def open_wallet(
    wallet_id: str,
    *,
    customer_id: str | None = None,
    unit: str | None = None,
    overdraft_limit: int | None = None,
    price_book_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> Call[Wallet]:
    """Open a wallet (admin). 409 ``wallet_exists`` unless it is a replay of this call."""
    body = json_body(
        wallet_id=wallet_id,
        customer_id=customer_id,
        unit=unit,
        overdraft_limit=overdraft_limit,
        price_book_id=price_book_id,
        metadata=metadata,
    )
    key = idempotency_key or new_key()
    return Call("POST", "/v1/wallets", decode_as(Wallet), body=body, idempotency_key=key)


def get_wallet(wallet_id: str, *, as_of: datetime | None = None) -> Call[Wallet]:
    """The wallet with its balance, grants and budgets; ``as_of`` reads it from history."""
    return Call("GET", _wallet(wallet_id), decode_as(Wallet), params=query(as_of=as_of))


def wallet_events(
    wallet_id: str, *, after_version: int = 0, limit: int = 100
) -> Call[Page[WalletEvent, int]]:
    """A page of the wallet's recorded events after ``after_version``."""
    params = query(after_version=after_version, limit=limit)
    return Call(
        "GET",
        f"{_wallet(wallet_id)}/events",
        decode_page(WalletEvent, "events", "next_after_version"),
        params=params,
    )


def list_wallets(
    *,
    customer_id: str | None = None,
    after: str | None = None,
    limit: int | None = None,
    min_position: int | None = None,
) -> Call[Page[WalletSummary, str]]:
    """A page of wallets by ``wallet_id`` (contract 1.1); ``next_after`` is the last id.

    Admin, service and auditor keys see every wallet, a customer key only its own;
    ``customer_id`` filters. ``balance`` is each wallet's balance now. Pass
    ``min_position`` to include a wallet just opened (the list is a read model).
    """
    params = query(customer_id=customer_id, after=after, limit=limit, min_position=min_position)
    return Call("GET", "/v1/wallets", decode_page(WalletSummary, "wallets"), params=params)


def grant(
    wallet_id: str,
    amount: int,
    category: GrantCategory,
    *,
    grant_id: str | None = None,
    priority: int | None = None,
    effective_at: datetime | None = None,
    expires_at: datetime | None = None,
    cost_basis: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> Call[Grant]:
    """Add credits to the wallet; ``cost_basis`` is ``{"amount_minor", "currency"}``."""
    body = json_body(
        amount=amount,
        category=category,
        grant_id=grant_id,
        priority=priority,
        effective_at=effective_at,
        expires_at=expires_at,
        cost_basis=cost_basis,
        metadata=metadata,
    )
    key = idempotency_key or new_key()
    path = f"{_wallet(wallet_id)}/grants"
    return Call("POST", path, decode_as(Grant), body=body, idempotency_key=key, wallet_id=wallet_id)


def void_grant(
    wallet_id: str, grant_id: str, *, reason: str | None = None, idempotency_key: str | None = None
) -> Call[Grant]:
    """Withdraw what is left of a grant; credits held from it stay held."""
    path = f"{_wallet(wallet_id)}/grants/{segment(grant_id)}/void"
    key = idempotency_key or new_key()
    body = json_body(reason=reason)
    return Call("POST", path, decode_as(Grant), body=body, idempotency_key=key, wallet_id=wallet_id)


def set_budget(
    wallet_id: str,
    budget_id: str,
    *,
    limit: int,
    period: Literal["day", "week", "month", "total"],
    scope: Subject | None = None,
    timezone: str | None = None,
    mode: Literal["hard", "soft"] | None = None,
    alert_thresholds: Sequence[float] | None = None,
    idempotency_key: str | None = None,
) -> Call[Budget]:
    """Create or change a budget on the requests whose subject matches ``scope``."""
    body = json_body(
        limit=limit,
        period=period,
        scope=scope,
        timezone=timezone,
        mode=mode,
        alert_thresholds=None if alert_thresholds is None else list(alert_thresholds),
    )
    path = f"{_wallet(wallet_id)}/budgets/{segment(budget_id)}"
    key = idempotency_key or new_key()
    return Call("PUT", path, decode_as(Budget), body=body, idempotency_key=key, wallet_id=wallet_id)


def list_budgets(wallet_id: str) -> Call[list[Budget]]:
    """Every budget of the wallet, with what it spent in its current period."""
    return Call("GET", f"{_wallet(wallet_id)}/budgets", decode_items(Budget, "budgets"))


def get_budget(wallet_id: str, budget_id: str) -> Call[Budget]:
    path = f"{_wallet(wallet_id)}/budgets/{segment(budget_id)}"
    return Call("GET", path, decode_as(Budget))


def delete_budget(
    wallet_id: str, budget_id: str, *, idempotency_key: str | None = None
) -> Call[None]:
    path = f"{_wallet(wallet_id)}/budgets/{segment(budget_id)}"
    key = idempotency_key or new_key()
    return Call("DELETE", path, decode_none, idempotency_key=key, wallet_id=wallet_id)


def put_allowance(
    wallet_id: str,
    allowance_id: str,
    *,
    amount: int,
    period: Literal["day", "week", "month", "year"],
    category: Literal["paid", "promotional", "trial"] | None = None,
    priority: int | None = None,
    timezone: str | None = None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    rollover: bool = False,
    rollover_max_amount: int | None = None,
    idempotency_key: str | None = None,
) -> Call[Allowance]:
    """Create or change a recurring grant (contract 1.1): ``amount`` at the start of every
    calendar ``period`` in ``timezone`` (category ``promotional`` unless given).

    ``rollover=True`` carries what is left of a period's grant into the next period;
    ``rollover_max_amount`` caps it (and turns rollover on). The PUT replaces the whole
    allowance: what is not given takes the server's default.
    """
    carried = rollover or rollover_max_amount is not None
    cap = {"max_amount": rollover_max_amount} if carried else None
    body = json_body(
        amount=amount,
        category=category,
        period=period,
        priority=priority,
        timezone=timezone,
        starts_at=starts_at,
        ends_at=ends_at,
        rollover=cap,
    )
    path = f"{_wallet(wallet_id)}/allowances/{segment(allowance_id)}"
    key = idempotency_key or new_key()
    return Call(
        "PUT", path, decode_as(Allowance), body=body, idempotency_key=key, wallet_id=wallet_id
    )


def list_allowances(wallet_id: str) -> Call[list[Allowance]]:
    return Call("GET", f"{_wallet(wallet_id)}/allowances", decode_items(Allowance, "allowances"))


def get_allowance(wallet_id: str, allowance_id: str) -> Call[Allowance]:
    path = f"{_wallet(wallet_id)}/allowances/{segment(allowance_id)}"
    return Call("GET", path, decode_as(Allowance))


def delete_allowance(
    wallet_id: str, allowance_id: str, *, idempotency_key: str | None = None
) -> Call[None]:
    """No further periods; grants already made stay."""
    path = f"{_wallet(wallet_id)}/allowances/{segment(allowance_id)}"
    key = idempotency_key or new_key()
    return Call("DELETE", path, decode_none, idempotency_key=key, wallet_id=wallet_id)


def put_alert_settings(
    wallet_id: str,
    *,
    balance_low_threshold: int | None = None,
    grant_expiring_lead_seconds: int | None = None,
    idempotency_key: str | None = None,
) -> Call[AlertSettings]:
    """When to alert about the wallet (a threshold of None turns that alert off)."""
    body = json_body(
        balance_low_threshold=balance_low_threshold,
        grant_expiring_lead_seconds=grant_expiring_lead_seconds,
    )
    path = f"{_wallet(wallet_id)}/alert-settings"
    key = idempotency_key or new_key()
    return Call(
        "PUT", path, decode_as(AlertSettings), body=body, idempotency_key=key, wallet_id=wallet_id
    )


def get_alert_settings(wallet_id: str) -> Call[AlertSettings]:
    return Call("GET", f"{_wallet(wallet_id)}/alert-settings", decode_as(AlertSettings))
