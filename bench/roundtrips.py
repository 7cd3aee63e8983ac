"""Round trips, statements and commits of one committed batch, read from libpq's own trace.

A probe in this process, on the benchmark's database, with every psycopg connection traced
(``PQtrace``: each protocol message the client sends, ``F``, and receives, ``B``):

* the ledger: N debits queued while the committer is paused, so they are decided and
  committed as ONE batch, exactly as the server's committer does (same ``debit_later``,
  with an API-key fence, on wallets already in its cache);
* the peer: one request's transaction (``bench.peer.debit``).

A round trip is a run of messages sent followed by a run received: the client waited for
the server. Statements are ``Query`` and ``Execute`` messages; commits are ``COMMIT``s.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psycopg
from psycopg import pq

from api.middleware.key_cache import KeyCache
from bench import peer
from ledger.app.commands import Debit
from ledger.app.keys import issue_key
from ledger.app.service import CreditLedger

__all__ = ["count_trace", "probe_ledger", "probe_peer"]


def count_trace(lines: Sequence[str]) -> dict[str, int]:
    """Round trips, statements, commits and syncs in trace ``lines`` (``F``/``B`` first)."""
    trips = statements = commits = syncs = 0
    previous = ""
    for line in lines:
        direction, _, rest = line.partition("\t")
        if direction not in {"F", "B"}:
            previous = ""  # another connection's trace starts
            continue
        kind = rest.split("\t", 2)[1] if rest.count("\t") else ""
        if direction == "F":
            statements += kind in {"Query", "Execute"}
            commits += kind in {"Query", "Parse"} and '"COMMIT"' in rest.upper()
            syncs += kind == "Sync"
        elif previous == "F":
            trips += 1
        previous = direction
    return {"round_trips": trips, "statements": statements, "commits": commits, "syncs": syncs}


@dataclass
class _Traces:
    directory: Path
    traced: list[tuple[psycopg.Connection[Any], Path, IO[str]]] = field(default_factory=list)
    marks: dict[Path, int] = field(default_factory=dict)

    def add(self, conn: psycopg.Connection[Any]) -> None:
        path = self.directory / f"conn-{len(self.traced)}.trace"
        out = path.open("w")
        self.traced.append((conn, path, out))
        self._trace(conn, out)

    @staticmethod
    def _trace(conn: psycopg.Connection[Any], out: IO[str]) -> None:
        conn.pgconn.trace(out.fileno())
        conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)

    def _flush(self) -> None:
        for conn, _, out in self.traced:
            if not conn.closed:
                conn.pgconn.untrace()  # flushes libpq's buffer into the file
                self._trace(conn, out)

    def mark(self) -> None:
        self._flush()
        self.marks = {path: path.stat().st_size for _, path, _ in self.traced}

    def since_mark(self) -> dict[str, int]:
        self._flush()
        lines: list[str] = []
        for _, path, _ in self.traced:
            with path.open() as text:
                text.seek(self.marks.get(path, 0))
                # Each connection on its own: a trip is a wait on one connection.
                lines += ["-", *text.read().splitlines()]
        return count_trace(lines)


@contextmanager
def _traced(directory: Path) -> Iterator[_Traces]:
    """Every ``psycopg.Connection`` connected meanwhile is traced (the store's pool's too)."""
    traces = _Traces(directory)
    original = psycopg.Connection.__dict__["connect"]

    def connect(cls: type[psycopg.Connection[Any]], *args: Any, **kwargs: Any) -> Any:
        conn = original.__func__(cls, *args, **kwargs)
        traces.add(conn)
        return conn

    psycopg.Connection.connect = classmethod(connect)  # type: ignore[method-assign,assignment]
    try:
        yield traces
    finally:
        psycopg.Connection.connect = original  # type: ignore[method-assign]
        for conn, _, out in traces.traced:
            with contextlib.suppress(psycopg.Error):
                conn.pgconn.untrace()
            out.close()


def probe_ledger(
    database_url: str, workdir: Path, batches: dict[str, list[str]]
) -> list[dict[str, Any]]:
    """One committed batch per entry of ``batches`` (name -> the wallets of its debits)."""
    results = []
    with _traced(workdir) as traces:
        ledger = CreditLedger.from_url(database_url, group_commit=True)
        try:
            committer = ledger.committer
            assert committer is not None
            _, presented = issue_key(ledger, ["service"], "round-trip probe")
            verified = KeyCache().verify(ledger, presented)
            assert verified is not None
            fence = verified.fence
            tag = secrets.token_hex(4)

            def debits(name: str, wallets: list[str], round_: str) -> None:
                futures = [
                    ledger.debit_later(
                        Debit(wallet_id=w, amount=1, idempotency_key=f"{tag}-{name}-{round_}-{i}"),
                        fence=fence,
                    )
                    for i, w in enumerate(wallets)
                ]
                wait(futures, timeout=60)
                for future in futures:
                    future.result()

            for name, wallets in batches.items():
                # The wallets in the committer's cache, the statements prepared on the
                # pool's connections (a first use costs a round trip of its own).
                for warm in range(3):
                    debits(name, wallets, f"warm{warm}")
                traces.mark()
                sender = threading.Thread(target=debits, args=(name, wallets, "probe"))
                with committer.paused():
                    sender.start()
                    while committer.queued() < len(wallets):
                        time.sleep(0.001)
                sender.join(60)
                counts = traces.since_mark()
                results.append({"probe": f"ledger_{name}", "debits": len(wallets), **counts})
        finally:
            ledger.close()
    return results


def probe_peer(database_url: str, workdir: Path, wallet_id: str) -> dict[str, Any]:
    """One peer request's transaction on a traced connection."""

    async def run() -> dict[str, int]:
        path = workdir / "peer.trace"
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            await peer.debit(conn, wallet_id, f"probe-{secrets.token_hex(4)}-warm", 1)
            with path.open("w") as out:
                conn.pgconn.trace(out.fileno())
                conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
                await peer.debit(conn, wallet_id, f"probe-{secrets.token_hex(4)}", 1)
                conn.pgconn.untrace()
        return count_trace(path.read_text().splitlines())

    return {"probe": "peer_one_request", "debits": 1, **asyncio.run(run())}
