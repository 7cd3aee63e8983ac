"""Wiring: what the API, the CLI and the projection workers need to open a ledger.

The persistence package (:mod:`ledger.store`) is reached only from :mod:`ledger.app`; the
layers above take the store settings and errors from here.
"""

from __future__ import annotations

from ledger.store.env import store_env
from ledger.store.shard_map import ShardCountMismatch

__all__ = ["ShardCountMismatch", "store_env"]
