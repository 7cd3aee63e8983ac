"""Iterators over every paged list, for both clients: ``for w in ledger.iter_wallets():``.

Each takes the parameters of its ``list_*`` method (``after`` is where to start, ``limit``
the page size) and requests the next page only when the items of the one before are used
up (see :mod:`credit_ledger.binding`). The journal's and a wallet's events' end at the
first empty page: what was recorded by then. :class:`~credit_ledger.Ledger` and
:class:`~credit_ledger.AsyncLedger` inherit them from here, built from the same builders as
their ``list_*`` methods.
"""

from __future__ import annotations

from credit_ledger import ops_admin, ops_reports, ops_spending, ops_wallets
from credit_ledger.binding import async_every, every

__all__ = ["AsyncListIterators", "ListIterators"]


class ListIterators:
    """``iter_*``: every item of a paged list (a plain ``for``)."""

    iter_wallets = every(ops_wallets.list_wallets)
    iter_wallet_events = every(ops_wallets.wallet_events, cursor="after_version", log=True)
    iter_debits = every(ops_spending.list_debits)
    iter_holds = every(ops_spending.list_holds)
    iter_api_keys = every(ops_admin.list_api_keys)
    iter_webhooks = every(ops_admin.list_webhooks)
    iter_meters = every(ops_reports.list_meters)
    iter_price_books = every(ops_reports.list_price_books)
    iter_journal = every(ops_reports.get_journal, log=True)
    iter_webhook_deliveries = every(ops_admin.webhook_deliveries)


class AsyncListIterators:
    """``iter_*``: every item of a paged list (``async for``)."""

    iter_wallets = async_every(ops_wallets.list_wallets)
    iter_wallet_events = async_every(ops_wallets.wallet_events, cursor="after_version", log=True)
    iter_debits = async_every(ops_spending.list_debits)
    iter_holds = async_every(ops_spending.list_holds)
    iter_api_keys = async_every(ops_admin.list_api_keys)
    iter_webhooks = async_every(ops_admin.list_webhooks)
    iter_meters = async_every(ops_reports.list_meters)
    iter_price_books = async_every(ops_reports.list_price_books)
    iter_journal = async_every(ops_reports.get_journal, log=True)
    iter_webhook_deliveries = async_every(ops_admin.webhook_deliveries)
