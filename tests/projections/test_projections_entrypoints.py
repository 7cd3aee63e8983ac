"""The functions the CLI calls, on an SQLite file store shared with a writing ledger."""

from __future__ import annotations

import random
import threading
from pathlib import Path

from ledger.app import audit
from ledger.app.commands import Debit, GrantCredits
from projections import install_views, open_views, queries
from projections.entrypoints import rebuild, reconcile, run_worker, status
from projections.positions import wait_for_position
from tests.support.builders import FakeClock, make_ledger
from tests.support.projections import random_ops, run_history


def test_worker_rebuild_reconcile_and_status_by_url(tmp_path: Path) -> None:
    # Given a ledger writing to an SQLite file, and a worker started by URL beside it
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    clock = FakeClock()
    ledger = make_ledger(url, clock=clock)
    views = open_views(ledger.env)
    stop = threading.Event()
    worker = threading.Thread(
        target=run_worker, args=(url, stop), kwargs={"batch_size": 7, "poll_interval": 0.01}
    )
    try:
        install_views(views)
        assert queries.journal(views) == {"entries": [], "next_after": 0, "next_after_leg": None}
        worker.start()
        run_history(ledger, clock, random_ops(random.Random(9), 40))
        ledger.grant(GrantCredits(wallet_id="a", amount=100, category="paid"))
        outcome = ledger.debit(Debit(wallet_id="a", amount=3))
        # Then the worker brings the views to the ledger's last write
        assert outcome.position is not None
        assert wait_for_position(views, outcome.position, timeout=15)
        assert {s["status"] for s in status(url)} == {"running"}
    finally:
        stop.set()
        worker.join(timeout=10)
    assert not worker.is_alive()
    # and a rebuild of everything by URL switches to new generations that reconcile clean
    report = rebuild(url, "all", drop_grace=0)
    assert set(report.generations.values()) == {2}
    assert reconcile(url) == []
    assert queries.journal(views, limit=1000) == audit.journal(ledger, limit=1000)
    assert {(s["generation"], s["lag"]) for s in status(url)} == {(2, 0)}
    views.close()
    ledger.close()
