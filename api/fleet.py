"""A process's part in a fleet, for the app's lifespan: its owner channel, its shard leases
and its links to the other owners (decision 0016).

Started in this order so that no other process learns of a channel before it listens: the
channel (:mod:`api.owner_channel`), then the leases that announce it
(:mod:`api.shard_owners`); stopped the other way round, so that the others route elsewhere
before the commands in flight here are answered and the channel closes.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import anyio.to_thread
from litestar import Litestar

from api.forwarding import OWNERS_KEY
from api.middleware.key_cache import key_cache_of
from api.owner_channel import ChannelServer
from api.owner_link import LINKS_KEY, OwnerLinks
from api.settings import Settings
from api.shard_owners import RENEW_SECONDS, in_fleet, open_owners
from ledger.app.ports import WAIT_SECONDS
from ledger.app.service import CreditLedger

__all__ = ["fleet_membership", "open_channel"]

log = logging.getLogger(__name__)


async def open_channel(ledger: CreditLedger, app: Litestar, settings: Settings) -> str:
    """Serve this process's owner channel; its address (``ledger-channel://token@host:port``),
    or "" when it has none: not in a fleet, switched off (``LEDGER_OWNER_CHANNEL``), or
    without group commit (the channel queues
    commands into the committer), or the port could not be bound (others then forward
    spending commands as HTTP)."""
    if not (settings.internal_url and settings.owner_channel) or ledger.committer is None:
        return ""
    host = urlsplit(settings.internal_url).hostname or "127.0.0.1"
    token = secrets.token_urlsafe(24)
    server = ChannelServer(ledger, key_cache_of(app.state), token)
    try:
        port = await server.start(host, settings.channel_port)
    except OSError:
        log.warning("the owner channel could not listen on %s:%s; forwarding as HTTP",
                    host, settings.channel_port, exc_info=True)  # fmt: skip
        return ""
    app.state[_SERVER_KEY] = server
    bracketed = f"[{host}]" if ":" in host else host
    return f"ledger-channel://{token}@{bracketed}:{port}"


_SERVER_KEY = "owner_channel"


@asynccontextmanager
async def fleet_membership(
    app: Litestar, ledger: CreditLedger, settings: Settings
) -> AsyncIterator[None]:
    """Take part in the fleet while the app runs, if ``settings`` make this process a member."""
    if not in_fleet(ledger, settings):
        yield
        return
    channel = await open_channel(ledger, app, settings)
    server: ChannelServer | None = app.state.get(_SERVER_KEY)
    owners = await anyio.to_thread.run_sync(open_owners, ledger, settings, channel)
    links = OwnerLinks()
    if owners is not None:
        app.state[OWNERS_KEY] = owners
        app.state[LINKS_KEY] = links
    try:
        yield
    finally:
        app.state.pop(OWNERS_KEY, None)
        app.state.pop(LINKS_KEY, None)
        if server is not None:
            server.stop_accepting()
        if owners is not None:
            await anyio.to_thread.run_sync(owners.close)
            if server is not None:  # the others still send here until they read the table
                await anyio.sleep(RENEW_SECONDS + 0.5)
        if server is not None:
            app.state.pop(_SERVER_KEY, None)
            wait = WAIT_SECONDS if ledger.committer is None else ledger.committer.wait_seconds
            await server.close(wait)
        links.close()
