"""The real server process over a real socket: ``ledger serve`` on a free port, driven by httpx.

PostgreSQL runs the full scenario (open, grant, debit, hold, capture, refund, budgets, journal,
trial balance) plus the CLI's ``keys create`` and ``sweep`` on the same store. The journal,
trial balance and usage come from the read models, which a separate ``ledger project``
process keeps current there (the API process does not project on PostgreSQL); reads pass the
last write's ``Ledger-Position`` as ``min_position``. SQLite checks what ``make run`` does for
a developer: make up an admin key for the run and print it.
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from projections.catalog import PROJECTIONS
from tests.support.live_server import (
    REPO_ROOT,
    TEST_ADMIN_KEY,
    LiveServer,
    ProjectionWorker,
    cli_command,
    live_server,
    pg_store_url,
    projection_worker,
    server_env,
)


@pytest.fixture
def pg_url(postgres_url: str, pg_schema: str) -> str:
    return pg_store_url(postgres_url, pg_schema)


@pytest.fixture
def server(pg_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    with live_server(server_env(pg_url), tmp_path / "logs") as running:
        yield running


@pytest.fixture
def worker(server: LiveServer, tmp_path: Path) -> Iterator[ProjectionWorker]:
    with projection_worker(server.env, tmp_path / "logs") as running:
        yield running


def client(server: LiveServer, key: str = TEST_ADMIN_KEY) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30.0
    )


def ok(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    return body


def ledger_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own CLI
        cli_command(*args),
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def position(response: httpx.Response) -> int:
    """The ``Ledger-Position`` of a command that recorded events."""
    return int(response.headers["Ledger-Position"])


def test_full_scenario_over_a_socket(server: LiveServer, worker: ProjectionWorker) -> None:
    with client(server) as http:
        ok(http.post("/v1/wallets", json={"wallet_id": "acme"}), 201)
        grant = {"grant_id": "g1", "amount": 1000, "category": "paid"}
        ok(http.post("/v1/wallets/acme/grants", json=grant), 201)
        debit = ok(
            http.post(
                "/v1/wallets/acme/debits",
                json={"amount": 100, "subject": {"team_id": "t1", "model": "m1"}},
                headers={"Idempotency-Key": "d1"},
            ),
            201,
        )
        replay = http.post(
            "/v1/wallets/acme/debits",
            json={"amount": 100, "subject": {"team_id": "t1", "model": "m1"}},
            headers={"Idempotency-Key": "d1"},
        )
        assert ok(replay, 201) == debit
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert debit["balance"] == {"available": 900, "held": 0, "debt": 0}

        hold = {"hold_id": "h1", "amount": 50, "subject": {"team_id": "t1"}}
        assert ok(http.post("/v1/wallets/acme/holds", json=hold), 201)["status"] == "open"
        captured = ok(http.post("/v1/wallets/acme/holds/h1/capture", json={"amount": 30}), 200)
        assert (captured["captured"], captured["released"]) == (30, 20)
        assert captured["balance"] == {"available": 870, "held": 0, "debt": 0}

        refunded = http.post(
            f"/v1/wallets/acme/debits/{debit['debit_id']}/refunds", json={"amount": 40}
        )
        assert ok(refunded, 201)["balance"]["available"] == 910

        budget = {"scope": {"team_id": "t1"}, "limit": 150, "period": "month"}
        budget_set = http.put("/v1/wallets/acme/budgets/team-t1", json=budget)
        created = ok(budget_set, 201)
        last = position(budget_set)
        assert last > position(refunded)
        assert created["spent"] == 90  # 100 debited - 40 refunded + 30 captured
        problem(
            http.post("/v1/wallets/acme/debits", json={"amount": 61, "subject": {"team_id": "t1"}}),
            402,
            "budget_exceeded",
        )
        budgets = ok(http.get("/v1/wallets/acme/budgets"), 200)["budgets"]
        assert [(b["budget_id"], b["remaining"]) for b in budgets] == [("team-t1", 60)]

        fresh = {"min_position": last}
        journal = ok(http.get("/v1/journal", params={"wallet_id": "acme", **fresh}), 200)
        entries = journal["entries"]
        debits, credits = sum(e["debit"] for e in entries), sum(e["credit"] for e in entries)
        assert debits == credits > 0
        assert len(entries) == 2 * 6  # grant, debit, hold, capture (2 postings), refund
        csv_export = http.get(
            "/v1/journal", params={"wallet_id": "acme", **fresh}, headers={"Accept": "text/csv"}
        )
        assert csv_export.headers["content-type"].startswith("text/csv")
        assert len(csv_export.text.strip().splitlines()) == len(entries) + 1

        balance = ok(http.get("/v1/trial-balance", params=fresh), 200)
        assert balance["balanced"] is True
        assert balance["debit_total"] == balance["credit_total"] == debits

        params: dict[str, str | int] = {"group_by": "team_id", **fresh}
        usage = ok(http.get("/v1/wallets/acme/usage", params=params), 200)
        assert [(p["group"], p["debited"]) for p in usage["series"]] == [({"team_id": "t1"}, 130)]

        # The worker process keeps the views, not the API process.
        projections = ok(http.get("/v1/admin/projections"), 200)["projections"]
        assert {p["name"] for p in projections} == set(PROJECTIONS)
        for entry in projections:
            assert (entry["status"], entry["lag"], entry["position"]) == ("running", 0, last)
            assert entry["worker"] == f"{socket.gethostname()}:{worker.pid}"

        metrics = http.get("/metrics").text
    assert f'ledger_projection_position{{projection="journal"}} {float(last)}' in metrics
    assert 'ledger_projection_lag_events{projection="usage"} 0.0' in metrics
    assert 'ledger_decisions_total{operation="debit",outcome="ok"} 1.0' in metrics
    assert 'ledger_decisions_total{operation="debit",outcome="replayed"} 1.0' in metrics
    assert 'ledger_decisions_total{operation="debit",outcome="budget_exceeded"} 1.0' in metrics
    assert 'route="/v1/wallets/{wallet_id}/debits",status="402"' in metrics


def test_without_a_worker_reads_lag_until_one_starts(pg_url: str, tmp_path: Path) -> None:
    env = {**server_env(pg_url), "LEDGER_PROJECTION_WAIT_SECONDS": "0.2"}
    with live_server(env, tmp_path / "logs") as running, client(running) as http:
        last = position(http.post("/v1/wallets", json={"wallet_id": "acme"}))

        lagging = problem(
            http.get("/v1/journal", params={"min_position": last}), 503, "projection_lagging"
        )
        assert (lagging["position"], lagging["required"]) == (0, last)
        assert ok(http.get("/v1/journal"), 200)["entries"] == []
        stopped = ok(http.get("/v1/admin/projections"), 200)["projections"]
        assert {p["status"] for p in stopped} == {"stopped"}

        with projection_worker(running.env, tmp_path / "logs"):
            deadline = time.monotonic() + 30
            while (
                answer := http.get("/v1/trial-balance", params={"min_position": last})
            ).status_code == 503:
                assert time.monotonic() < deadline, answer.text
            assert ok(answer, 200)["balanced"] is True


def test_cli_keys_and_sweep_share_the_servers_store(server: LiveServer) -> None:
    env = dict(server.env)
    issued = ledger_cli(env, "keys", "create", "--scope", "service", "--name", "backend")
    assert issued.returncode == 0, issued.stderr
    key = issued.stdout.strip()
    assert re.fullmatch(r"lk_[0-9a-f]{16}_\S+", key)
    assert "shown only now" in issued.stderr

    with client(server) as admin, client(server, key) as service:
        ok(admin.post("/v1/wallets", json={"wallet_id": "acme"}), 201)
        ok(admin.post("/v1/wallets/acme/grants", json={"amount": 100, "category": "paid"}), 201)
        problem(service.post("/v1/wallets", json={"wallet_id": "other"}), 403, "forbidden")
        expires_at = datetime.now(UTC) + timedelta(seconds=2)
        hold = {"hold_id": "h1", "amount": 10, "expires_at": expires_at.isoformat()}
        ok(service.post("/v1/wallets/acme/holds", json=hold), 201)
        time.sleep(max(0.0, (expires_at - datetime.now(UTC)).total_seconds()) + 0.2)

        swept = ledger_cli(env, "sweep")
        assert swept.returncode == 0, swept.stderr
        assert swept.stdout.strip() == "recorded 1 expiry event"
        events = ok(service.get("/v1/wallets/acme/events"), 200)["events"]
        assert events[-1]["type"] == "HoldExpired"
        assert ok(service.get("/v1/wallets/acme/holds/h1"), 200)["status"] == "expired"


def test_a_local_sqlite_run_makes_up_an_admin_key_and_prints_it(tmp_path: Path) -> None:
    env = server_env(f"sqlite:///{tmp_path / 'var' / 'ledger.sqlite3'}", admin_key=None)

    with live_server(env, tmp_path / "logs") as running:
        banner = running.stdout()
        found = re.search(r"^\s*export LEDGER_KEY=(\S+)$", banner, re.M)
        assert found, banner
        with client(running, found[1]) as http:
            ok(http.post("/v1/wallets", json={"wallet_id": "acme"}), 201)
        with client(running, "dev-not-the-key-printed-0123456789abcdef") as http:
            problem(http.get("/v1/wallets/acme"), 401, "unauthenticated")

    assert running.url in banner
    assert "for local use only" in banner
    assert f"curl -sS -X POST {running.url}/v1/wallets" in banner
    assert banner.count(found[1]) == 1


def test_a_postgres_run_never_makes_up_a_key(pg_url: str, tmp_path: Path) -> None:
    with live_server(server_env(pg_url, admin_key=None), tmp_path / "logs") as running:
        banner = running.stdout()
        with client(running, TEST_ADMIN_KEY) as http:
            problem(http.get("/v1/wallets/acme"), 401, "unauthenticated")

    assert "export LEDGER_KEY" not in banner
    assert "ledger keys create --scope admin" in banner
