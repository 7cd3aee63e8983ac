"""``ledger serve``: run the API under uvicorn, and tell the person at the terminal how to use it.

The app is built by uvicorn in each worker from ``api.app:create_app`` (a factory), so every
setting reaches it through the environment. That is also how a local run without
``LEDGER_BOOTSTRAP_ADMIN_KEY`` gets its one-off admin key: it is put into this process's
environment before uvicorn starts, and the workers inherit it.
"""

from __future__ import annotations

import os
import secrets
import shlex
import sys
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit, urlunsplit

import uvicorn

from api import workers as reuseport
from api.corking import http_protocol
from api.logs import uvicorn_log_config
from api.metrics_multiprocess import MULTIPROC_ENV, multiprocess_dir
from api.settings import Settings
from ledger.app.bootstrap import store_env

__all__ = [
    "APP_FACTORY",
    "BOOTSTRAP_KEY_ENV",
    "LOCAL_STORES",
    "banner",
    "local_admin_key",
    "public_url",
    "redacted",
    "serve",
    "store_shown",
]

APP_FACTORY = "api.app:create_app"
BOOTSTRAP_KEY_ENV = "LEDGER_BOOTSTRAP_ADMIN_KEY"
LOCAL_STORES = frozenset({"eventsourcing.sqlite", "eventsourcing.popo"})
"""Stores only a developer's machine uses (SQLite file, memory): a run may make its own key."""
_ANY_ADDRESS = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}  # noqa: S104 - display only


def redacted(database_url: str) -> str:
    """The store URL with any password masked, fit for a log line."""
    parts = urlsplit(database_url)
    if not parts.password:
        return database_url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def store_shown(database_url: str) -> str:
    """The store URL for the banner: redacted, and an SQLite file's full path when the URL's is
    relative (it depends on the directory the server was started in)."""
    shown = redacted(database_url)
    env = store_env(database_url)
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        path = Path(env["SQLITE_DBNAME"])
        if not path.is_absolute():
            shown += f" = {path.absolute()}"
    return shown


def public_url(host: str, port: int) -> str:
    """The URL to call a server bound to ``host``:``port`` from this machine."""
    shown = _ANY_ADDRESS.get(host, host)
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def local_admin_key(settings: Settings) -> str | None:
    """A fresh admin key for a local store without a bootstrap key, else None.

    The key is exported as ``LEDGER_BOOTSTRAP_ADMIN_KEY`` into this process's environment,
    where the app (in every worker) reads it. Never for PostgreSQL: a shared store gets its
    keys from the operator (``LEDGER_BOOTSTRAP_ADMIN_KEY`` or ``ledger keys create``).
    """
    if settings.bootstrap_admin_key is not None:
        return None
    if store_env(settings.database_url)["PERSISTENCE_MODULE"] not in LOCAL_STORES:
        return None
    key = f"dev-{secrets.token_urlsafe(32)}"
    os.environ[BOOTSTRAP_KEY_ENV] = key
    return key


def banner(settings: Settings, url: str, workers: int, dev_key: str | None) -> str:
    """What ``ledger serve`` prints before starting: where, which store, how to call it."""
    plural = "" if workers == 1 else "s"
    lines = [
        f"Credit ledger API on {url}  (store: {store_shown(settings.database_url)}, "
        f"{workers} worker{plural})",
        f"OpenAPI document: {url}/schema/openapi.json",
        f"API docs (work offline): {url}/schema (Redoc), {url}/schema/swagger (try calls)",
        "",
    ]
    if dev_key is not None:
        lines += [
            f"WARNING: {BOOTSTRAP_KEY_ENV} is not set, so this run made a random admin key.",
            "It is for local use only, works until the server stops and is shown only now:",
            "",
            f"    export LEDGER_KEY={shlex.quote(dev_key)}",
            "",
        ]
    elif settings.bootstrap_admin_key is None:
        lines += [
            f"No {BOOTSTRAP_KEY_ENV} is set: make an admin key with",
            "    ledger keys create --scope admin --name ops",
            "and export it as LEDGER_KEY.",
            "",
        ]
    else:
        lines += [f"Authenticate with {BOOTSTRAP_KEY_ENV} (export it as LEDGER_KEY).", ""]
    lines += [
        "A first call (open a wallet):",
        f"    curl -sS -X POST {url}/v1/wallets \\",
        '      -H "Authorization: Bearer $LEDGER_KEY" \\',
        "      -H 'Content-Type: application/json' \\",
        """      -d '{"wallet_id": "acme"}'""",
        "",
    ]
    return "\n".join(lines)


def serve(
    settings: Settings, *, host: str, port: int, workers: int, out: TextIO | None = None
) -> int:
    """Print the banner, then serve until interrupted; returns the exit status.

    The port is checked first: a port in use is reported (exit status 1) before any key is
    made up or a banner invites calls to a server that will not start.
    """
    try:
        reuseport.check_port_free(host, port)
    except OSError as error:  # the port is taken, or the host is not ours
        print(f"ledger serve: cannot listen on {host}:{port}: {error}", file=sys.stderr)  # noqa: T201 - the CLI speaks
        return 1
    dev_key = local_admin_key(settings)
    print(banner(settings, public_url(host, port), workers, dev_key), file=out or sys.stdout)
    (out or sys.stdout).flush()
    if workers > 1 or os.environ.get(MULTIPROC_ENV):
        # One scrape must count every worker's requests (api.metrics_multiprocess).
        with multiprocess_dir():
            return _run(settings, host=host, port=port, workers=workers)
    return _run(settings, host=host, port=port, workers=workers)


def _run(settings: Settings, *, host: str, port: int, workers: int) -> int:
    # loop/http "auto" pick uvloop and httptools (dependencies) when they are installed.
    if workers > 1 and reuseport.SUPPORTED:  # a socket per process: see api.workers
        try:
            return reuseport.serve_workers(
                APP_FACTORY,
                host=host,
                port=port,
                workers=workers,
                access_log=settings.access_log,
                http=http_protocol(settings.cork_responses),
            )
        except OSError as error:  # the port is taken, or the host is not ours
            print(f"ledger serve: cannot listen on {host}:{port}: {error}", file=sys.stderr)  # noqa: T201 - the CLI speaks
            return 1
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=settings.access_log,
        http=http_protocol(settings.cork_responses),
        log_config=uvicorn_log_config(),  # the CLI's logging, in every process it starts
    )
    return 0
