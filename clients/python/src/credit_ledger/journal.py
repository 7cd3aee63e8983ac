"""The local journal of spending calls allowed while the ledger was unavailable.

Under ``on_unavailable="open"`` a debit, capture or release the ledger could not decide is
written here (one JSON line, flushed and fsynced before the caller goes on) and replayed
later, as the same request with the same ``Idempotency-Key``: a call that did reach the
server before its answer was lost is answered with its first result, so nothing is decided
twice, and nothing is lost while the file survives.

The journal is bounded (``max_entries`` pending calls): when it is full, calls are refused
as in ``closed`` mode rather than allowed without limit. Entries the ledger refuses on
replay (a wallet that ran dry meanwhile, say) cannot succeed by being repeated; they move
to ``<path>.rejected`` with the problem document, for someone to look at. One process owns
a journal file at a time (an exclusive lock on ``<path>.lock``).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from credit_ledger.calls import Call, decode_as

__all__ = ["DEFAULT_MAX_ENTRIES", "Journal", "JournalEntry", "JournalInUse"]

DEFAULT_MAX_ENTRIES = 10_000

try:  # POSIX; elsewhere the one-owner rule is the caller's to keep
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class JournalInUse(RuntimeError):
    """Another process (or client) holds this journal file."""


@dataclass(frozen=True)
class JournalEntry:
    """One deferred call: the exact request to replay and when it was allowed."""

    key: str
    operation: str
    method: str
    path: str
    body: dict[str, Any] | None
    wallet_id: str | None
    hold_id: str | None
    recorded_at: str

    def call(self) -> Call[Any]:
        """The request again: same method, path, body and idempotency key."""
        return Call(
            self.method,
            self.path,
            decode_as(object),
            body=self.body,
            idempotency_key=self.key,
            wallet_id=self.wallet_id,
            hold_id=self.hold_id,
            batch_op=self.operation,
        )


class Journal:
    """An append-only JSON-lines file of deferred calls and of their settlement."""

    def __init__(self, path: str | os.PathLike[str], *, max_entries: int = DEFAULT_MAX_ENTRIES):
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.path = Path(path)
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._pending: dict[str, JournalEntry] = {}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_file = self._take_ownership()
        self._load()
        self._file: IO[str] = self.path.open("a", encoding="utf-8")

    def _take_ownership(self) -> IO[str]:
        handle = self.path.with_name(self.path.name + ".lock").open("a", encoding="utf-8")
        if fcntl is not None:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                raise JournalInUse(f"journal {self.path} is in use by another process") from None
        return handle

    def _load(self) -> None:
        if not self.path.exists():
            return
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a write torn by a crash: it was never acknowledged to a caller
            if "settled" in record:
                self._pending.pop(record["settled"], None)
            else:
                entry = JournalEntry(**record)
                self._pending[entry.key] = entry

    @property
    def rejected_path(self) -> Path:
        return self.path.with_name(self.path.name + ".rejected")

    def __len__(self) -> int:
        return len(self._pending)

    def pending(self) -> list[JournalEntry]:
        """The calls still to replay, oldest first."""
        with self._lock:
            return list(self._pending.values())

    def add(self, call: Call[Any], operation: str, at: datetime | None = None) -> bool:
        """Write ``call`` down durably; False (nothing written) when the journal is full."""
        if call.idempotency_key is None:
            raise ValueError("only calls with an idempotency key can be replayed safely")
        entry = JournalEntry(
            key=call.idempotency_key,
            operation=operation,
            method=call.method,
            path=call.path,
            body=call.body,
            wallet_id=call.wallet_id,
            hold_id=call.hold_id,
            recorded_at=(at or datetime.now(UTC)).isoformat(),
        )
        with self._lock:
            if entry.key in self._pending:
                return True
            if len(self._pending) >= self.max_entries:
                return False
            self._write(asdict(entry))
            self._pending[entry.key] = entry
        return True

    def settle(self, key: str) -> None:
        """The ledger has decided ``key`` (now or earlier): it is not replayed again."""
        with self._lock:
            if self._pending.pop(key, None) is None:
                return
            self._write({"settled": key})
            if not self._pending:
                self._compact()

    def reject(self, key: str, problem: Mapping[str, Any]) -> None:
        """The ledger refused ``key`` on replay: keep it in the rejected file, settle it."""
        with self._lock:
            entry = self._pending.get(key)
        if entry is None:
            return
        line = json.dumps({**asdict(entry), "problem": dict(problem)}, default=str)
        with self.rejected_path.open("a", encoding="utf-8") as rejected:
            rejected.write(line + "\n")
            rejected.flush()
            os.fsync(rejected.fileno())
        self.settle(key)

    def rejected(self) -> list[dict[str, Any]]:
        """Every entry the ledger refused on replay, with its problem document."""
        if not self.rejected_path.exists():
            return []
        lines = self.rejected_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def _write(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record, default=str) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def _compact(self) -> None:
        # Everything is settled: start the file afresh rather than let it grow forever.
        self._file.close()
        self._file = self.path.open("w", encoding="utf-8")
        os.fsync(self._file.fileno())

    def close(self) -> None:
        with self._lock:
            self._file.close()
            with contextlib.suppress(OSError):
                if fcntl is not None:
                    fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)
            self._lock_file.close()
