"""The ``ledger`` command line (``[project.scripts] ledger = "api.cli.main:main"``).

    ledger serve [--host H] [--port P] [--workers N]
    ledger keys create --scope admin|service|auditor|customer:<id> [--scope ...] [--name NAME]
    ledger sweep
    ledger project
    ledger projections rebuild NAME|all [--restart]
    ledger projections status [--json]
    ledger reconcile
    ledger reshard --to URL --shards N [--to-shard-urls URL,URL,...]

Every command takes ``--database-url URL`` (instead of ``LEDGER_DATABASE_URL``), and every one
but ``serve`` refuses a store that does not exist rather than create an empty one
(:mod:`api.store_check`).

Every subcommand is one small function registered in :data:`COMMANDS` with the words that
call it (``("keys", "create")``) and a function adding its arguments; :func:`build_parser`
makes the argparse tree from that table. To add one, append a :class:`Subcommand` (and a help
line in :data:`GROUPS` for a new first word of a nested command). Settings come from the
``LEDGER_*`` environment variables (``api.settings.Settings``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError

from api.app import open_ledger
from api.cli.projections import (
    rebuild_arguments,
    run_project,
    run_rebuild,
    run_reconcile,
    run_status,
    status_arguments,
)
from api.logs import configured_logging
from api.serve import redacted, serve
from api.settings import Settings
from api.store_check import missing_store
from api.version import VERSION
from ledger.access.keys import SCOPE_PATTERN
from ledger.app.bootstrap import ShardCountMismatch, store_env
from ledger.app.keys import issue_key
from ledger.app.reshard import SourceChanged, TargetNotEmpty, reshard

__all__ = ["COMMANDS", "DATABASE_URL_ENV", "GROUPS", "Subcommand", "build_parser", "main"]

DATABASE_URL_ENV = "LEDGER_DATABASE_URL"


def _no_arguments(_: argparse.ArgumentParser) -> None:
    """A subcommand without options."""


@dataclass(frozen=True)
class Subcommand:
    """One ``ledger ...`` command: the words that call it, its help, its arguments, its code."""

    words: tuple[str, ...]
    help: str
    run: Callable[[argparse.Namespace], int]
    arguments: Callable[[argparse.ArgumentParser], None] = field(default=_no_arguments)
    creates_store: bool = False
    """Whether it may create a missing store (only ``serve``); the others refuse to start."""


# -- serve ------------------------------------------------------------------------------------


def _serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="address to bind (default: LEDGER_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to bind (default: LEDGER_PORT or 8000)")
    parser.add_argument(
        "--workers", type=int, help="worker processes (default: LEDGER_WORKERS or 1)"
    )


def run_serve(args: argparse.Namespace) -> int:
    """Serve the HTTP API with uvicorn until interrupted."""
    settings = Settings()
    return serve(
        settings,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers or settings.workers,
    )


# -- keys create ------------------------------------------------------------------------------

_SCOPE = re.compile(SCOPE_PATTERN)


def _scope(value: str) -> str:
    if not _SCOPE.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a scope: use admin, service, auditor or customer:<customer_id>"
        )
    return value


def _keys_create_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scope",
        action="append",
        required=True,
        type=_scope,
        help="admin, service, auditor or customer:<customer_id> (repeat for several)",
    )
    parser.add_argument("--name", default="", help="a name to recognise the key by")


def run_keys_create(args: argparse.Namespace) -> int:
    """Issue an API key and print it (stdout, alone, so scripts can capture it) once."""
    settings = Settings()
    if store_env(settings.database_url)["PERSISTENCE_MODULE"] == "eventsourcing.popo":
        print("ledger keys create: a memory:// store forgets the key at once", file=sys.stderr)
        return 2
    ledger = open_ledger(settings.database_url, settings.shards)
    try:
        key_id, key = issue_key(ledger, args.scope, args.name)
    finally:
        ledger.close()
    print(key)
    scopes = ", ".join(args.scope)
    print(f"issued API key {key_id} ({scopes}); it is shown only now", file=sys.stderr)
    return 0


# -- sweep ------------------------------------------------------------------------------------


def run_sweep(_: argparse.Namespace) -> int:
    """Record what is due in every wallet: expiries of grants and holds, allowance periods."""
    settings = Settings()
    ledger = open_ledger(settings.database_url, settings.shards)
    try:
        recorded = ledger.sweep()
    finally:
        ledger.close()
    print(f"recorded {recorded} expiry event{'' if recorded == 1 else 's'}")
    return 0


# -- reshard ----------------------------------------------------------------------------------


def _reshard_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--to", required=True, metavar="URL", help="an empty store to fill")
    parser.add_argument("--shards", type=int, required=True, help="shard count of the target")
    parser.add_argument(
        "--to-shard-urls",
        default="",
        metavar="URLS",
        help="the target's layout: a store URL per shard, comma-separated, the first = --to",
    )


def run_reshard(args: argparse.Namespace) -> int:
    """Copy the store (LEDGER_DATABASE_URL) into an empty one with another shard count."""
    settings = Settings()
    try:
        target = open_ledger(args.to, args.shards, args.to_shard_urls)
    except (ValueError, ShardCountMismatch) as error:
        print(f"ledger reshard: {error}", file=sys.stderr)
        return 2
    try:
        if len(target.shards) != args.shards:
            print(
                f"ledger reshard: the target has {len(target.shards)} shard(s) recorded",
                file=sys.stderr,
            )
            return 2
        source = open_ledger(settings.database_url, settings.shards)
        try:
            report = reshard(source, target)
        finally:
            source.close()
    except (TargetNotEmpty, ShardCountMismatch, SourceChanged) as error:
        print(f"ledger reshard: {error}", file=sys.stderr)
        return 2
    finally:
        target.close()
    print(json.dumps(report.as_dict()))
    print("run `ledger project` on the target to build its read models", file=sys.stderr)
    return 0


# -- the table --------------------------------------------------------------------------------

GROUPS: dict[str, str] = {"keys": "manage API keys", "projections": "manage the read models"}
"""Help of the first word of nested commands (``ledger keys ...``)."""

COMMANDS: list[Subcommand] = [
    Subcommand(("serve",), "serve the HTTP API", run_serve, _serve_arguments, creates_store=True),
    Subcommand(("keys", "create"), "issue an API key", run_keys_create, _keys_create_arguments),
    Subcommand(
        ("sweep",), "record due expiries of grants and holds, and due allowance periods", run_sweep
    ),
    Subcommand(("project",), "keep the read models current until stopped", run_project),
    Subcommand(
        ("projections", "rebuild"),
        "rebuild a read model from the log, without downtime",
        run_rebuild,
        rebuild_arguments,
    ),
    Subcommand(
        ("projections", "status"),
        "show each read model's position, lag and status",
        run_status,
        status_arguments,
    ),
    Subcommand(
        ("reconcile",),
        "check the read models against the log (exit 1 on any difference)",
        run_reconcile,
    ),
    Subcommand(
        ("reshard",),
        "copy the store into an empty one with another shard count (writers stopped)",
        run_reshard,
        _reshard_arguments,
    ),
]
"""Every subcommand, in the order ``ledger --help`` lists them."""


def build_parser(commands: Sequence[Subcommand] = COMMANDS) -> argparse.ArgumentParser:
    """The argparse tree of ``commands``; each leaf parser sets ``run``."""
    parser = argparse.ArgumentParser(
        prog="ledger", description="Event-sourced, double-entry credit ledger."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {VERSION}")
    groups: dict[tuple[str, ...], argparse._SubParsersAction[argparse.ArgumentParser]] = {
        (): parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    }
    for command in commands:
        for depth in range(1, len(command.words)):
            prefix = command.words[:depth]
            if prefix not in groups:
                word = prefix[-1]
                group = groups[prefix[:-1]].add_parser(word, help=GROUPS.get(word, ""))
                groups[prefix] = group.add_subparsers(
                    dest=f"{'_'.join(prefix)}_command", metavar="COMMAND", required=True
                )
        leaf = groups[command.words[:-1]].add_parser(
            command.words[-1], help=command.help, description=command.help
        )
        command.arguments(leaf)
        leaf.add_argument(
            "--database-url",
            metavar="URL",
            help=f"the store (default: {DATABASE_URL_ENV} or sqlite:///var/ledger.sqlite3)",
        )
        leaf.set_defaults(run=command.run, words=command.words, creates_store=command.creates_store)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ledger`` with ``argv`` (the process's arguments by default); the exit status."""
    args = build_parser().parse_args(argv)
    if args.database_url is not None:
        # Every command, and serve's worker processes, read the store from the environment.
        os.environ[DATABASE_URL_ENV] = args.database_url
    try:
        with configured_logging():  # LEDGER_LOG_LEVEL, LEDGER_LOG_FORMAT (api.logs)
            if not args.creates_store and not _store_exists(" ".join(args.words)):
                return 2
            status: int = args.run(args)
    except ValidationError as error:
        # hide_input_in_errors keeps secrets (a short bootstrap key) out of this message.
        print(f"ledger: invalid LEDGER_* setting:\n{error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return status


def _store_exists(command: str) -> bool:
    """True if the configured store exists; else say why on stderr (False)."""
    url = Settings().database_url
    try:
        why = missing_store(url)
    except ValueError as error:
        print(f"ledger {command}: {DATABASE_URL_ENV}: {error}", file=sys.stderr)
        return False
    if why is None:
        return True
    print(
        f"ledger {command}: no ledger store at {redacted(url)}: {why}.\n"
        "Only `ledger serve` creates a store; point this command at the server's with "
        f"{DATABASE_URL_ENV} or --database-url.",
        file=sys.stderr,
    )
    return False


if __name__ == "__main__":
    sys.exit(main())
