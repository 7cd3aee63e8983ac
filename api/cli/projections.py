"""The read models' commands: ``ledger project``, ``ledger projections rebuild|status`` and
``ledger reconcile`` (registered in the table of :mod:`api.cli.main`).

Each reads ``LEDGER_DATABASE_URL`` and calls :mod:`projections.entrypoints`, which opens its
own use of the ledger's store and the views beside it and closes both when done. A
``memory://`` store is refused: another process cannot see its events.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any

from api.serve import redacted
from api.settings import Settings
from ledger.app.bootstrap import store_env
from projections import PROJECTIONS
from projections.entrypoints import rebuild, reconcile, run_worker, status

__all__ = [
    "STATUS_COLUMNS",
    "rebuild_arguments",
    "run_project",
    "run_rebuild",
    "run_reconcile",
    "run_status",
    "status_arguments",
    "status_table",
]

STATUS_COLUMNS = (
    "name",
    "generation",
    "position",
    "head",
    "lag",
    "lag_seconds",
    "status",
    "worker",
)
_JOIN_EVERY_S = 0.5


def _store_url(command: str) -> str | None:
    url = Settings().database_url
    if store_env(url)["PERSISTENCE_MODULE"] == "eventsourcing.popo":
        print(f"ledger {command}: a memory:// store is private to one process", file=sys.stderr)
        return None
    return url


# -- project ----------------------------------------------------------------------------------


def run_project(_: argparse.Namespace) -> int:
    """Keep every projection current until SIGINT or SIGTERM (supervised: errors are retried)."""
    url = _store_url("project")
    if url is None:
        return 2
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()  # the main thread only joins the worker, so it holds no lock of the event

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    settings = Settings()
    worker = threading.Thread(
        target=run_worker,
        args=(url, stop),
        kwargs={
            "egress": settings.webhook_egress(),  # LEDGER_WEBHOOK_PROXY, ..._ALLOW_LINK_LOCAL
            "step_interval": settings.projection_step_interval_seconds,
        },
        name="ledger-project",
    )
    names = ", ".join(PROJECTIONS)
    print(f"ledger project: {names} from {redacted(url)}; stop with SIGINT or SIGTERM", flush=True)
    try:
        worker.start()
        while worker.is_alive():
            worker.join(_JOIN_EVERY_S)
    finally:
        stop.set()
        worker.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("ledger project: stopped", flush=True)
    return 0


# -- projections rebuild ----------------------------------------------------------------------


def rebuild_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", choices=[*PROJECTIONS, "all"], help="a projection, or all")
    parser.add_argument(
        "--restart",
        action="store_true",
        help="discard an unfinished earlier rebuild instead of resuming it",
    )
    parser.add_argument(
        "--drop-grace",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="wait between the switch and dropping the old tables, for reads in flight "
        "(default: 2)",
    )


def run_rebuild(args: argparse.Namespace) -> int:
    """Rebuild beside the live generation, switch to it, drop the old one (no downtime)."""
    url = _store_url("projections rebuild")
    if url is None:
        return 2
    report = rebuild(url, args.name, restart=args.restart, drop_grace=args.drop_grace)
    for name, generation in report.generations.items():
        print(f"rebuilt {name}: generation {report.previous[name]} -> {generation}")
    print(
        f"{report.events} events ({report.notifications} notifications) in {report.seconds:.2f} s",
        file=sys.stderr,
    )
    return 0


# -- projections status -----------------------------------------------------------------------


def status_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the status as JSON")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def status_table(entries: Sequence[dict[str, Any]]) -> str:
    """The status as an aligned text table, one projection per row."""
    rows = [list(STATUS_COLUMNS), *([_cell(e[c]) for c in STATUS_COLUMNS] for e in entries)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(STATUS_COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def run_status(args: argparse.Namespace) -> int:
    """Print each projection's generation, position, the head, the lag and the status."""
    url = _store_url("projections status")
    if url is None:
        return 2
    entries = status(url)
    print(json.dumps(entries, indent=2) if args.json else status_table(entries))
    return 0


# -- reconcile --------------------------------------------------------------------------------


def run_reconcile(_: argparse.Namespace) -> int:
    """Compare every read model with a replay of the log: 0 when they match, 1 if not."""
    url = _store_url("reconcile")
    if url is None:
        return 2
    differences = reconcile(url)
    for difference in differences:
        print(difference)
    if differences:
        print("ledger reconcile: the read models differ from the log", file=sys.stderr)
        return 1
    print("ledger reconcile: the read models match the log", file=sys.stderr)
    return 0
