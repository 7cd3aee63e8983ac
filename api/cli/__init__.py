"""The ``ledger`` command line: serve, keys, sweep, projections and reshard."""

from __future__ import annotations

from api.cli.main import COMMANDS, GROUPS, Subcommand, build_parser
from api.cli.projections import (
    STATUS_COLUMNS,
    rebuild_arguments,
    run_project,
    run_rebuild,
    run_reconcile,
    run_status,
    status_arguments,
    status_table,
)

__all__ = [
    "COMMANDS",
    "GROUPS",
    "STATUS_COLUMNS",
    "Subcommand",
    "build_parser",
    "rebuild_arguments",
    "run_project",
    "run_rebuild",
    "run_reconcile",
    "run_status",
    "status_arguments",
    "status_table",
]
