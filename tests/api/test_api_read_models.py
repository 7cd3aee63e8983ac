"""Reads from the read models: ``Ledger-Position`` on commands, ``?min_position=`` waits and
``projection_lagging``, and the in-process worker the lifespan starts and stops."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.read_models import WORKER_THREAD, runs_in_process
from api.settings import Settings
from ledger.store.env import store_env
from projections import ProjectionRunner
from tests.support.api import ADMIN_KEY, Api, assert_problem, running_api

POSITION = "Ledger-Position"


@pytest.fixture
def api() -> Iterator[Api]:
    with running_api() as running:
        yield running


def head(api: Api) -> int:
    return int(api.ledger.recorder.max_notification_id() or 0)


def workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == WORKER_THREAD]


def test_every_command_answers_with_the_position_it_wrote(api: Api) -> None:
    grant = {"amount": 1000, "category": "paid", "grant_id": "g1"}
    budget = {"scope": {}, "limit": 500, "period": "month"}
    answers = [
        api.post("/v1/wallets", {"wallet_id": "acme"}),
        api.post("/v1/wallets/acme/grants", grant),
        api.post("/v1/wallets/acme/grants", {**grant, "grant_id": "g2", "amount": 5}),
        api.post("/v1/wallets/acme/grants/g2/void", {"reason": "mistake"}),
        debit := api.post("/v1/wallets/acme/debits", {"amount": 30}),
        api.post(f"/v1/wallets/acme/debits/{debit.json()['debit_id']}/refunds", {"amount": 10}),
        api.post("/v1/wallets/acme/holds", {"hold_id": "h1", "amount": 50}),
        api.post("/v1/wallets/acme/holds/h1/capture", {"amount": 20}),
        api.post("/v1/wallets/acme/holds", {"hold_id": "h2", "amount": 5}),
        api.post("/v1/wallets/acme/holds/h2/release"),
        api.put("/v1/wallets/acme/budgets/b1", budget),
        api.delete("/v1/wallets/acme/budgets/b1"),
    ]

    statuses = [a.status_code for a in answers]
    assert statuses == [201, 201, 201, 200, 201, 201, 201, 200, 201, 200, 201, 204]
    positions = [int(a.headers[POSITION]) for a in answers]
    assert positions == sorted(set(positions))  # each a new, later position
    assert positions[-1] == head(api)


def test_replays_and_refusals_carry_no_position(api: Api) -> None:
    api.funded_wallet(amount=100)
    debit = {"amount": 60, "subject": {"user_id": "u1"}}

    first = api.post("/v1/wallets/acme/debits", debit, idempotency_key="d1")
    replay = api.post("/v1/wallets/acme/debits", debit, idempotency_key="d1")
    refused = api.post("/v1/wallets/acme/debits", {"amount": 500})

    assert int(first.headers[POSITION]) == head(api)
    assert POSITION not in replay.headers
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.content == first.content  # the body is replayed byte for byte
    assert_problem(refused, 402, "insufficient_credits")
    assert POSITION not in refused.headers


def test_a_read_at_a_writes_position_sees_that_write(api: Api) -> None:
    api.funded_wallet()
    for amount in range(1, 6):
        written = api.post("/v1/wallets/acme/debits", {"amount": amount, "subject": {"model": "m"}})
        position = written.headers[POSITION]

        journal = api.get(f"/v1/journal?account=platform:credits:consumed&min_position={position}")
        balance = api.get(f"/v1/trial-balance?min_position={position}")
        usage = api.get(f"/v1/wallets/acme/usage?min_position={position}")

        assert [e["credit"] for e in journal.json()["entries"]][-1] == amount
        assert balance.json()["debit_total"] == 1000 + sum(range(1, amount + 1))
        assert usage.json()["series"][0]["count"] == amount


def test_a_position_the_views_do_not_reach_in_time_is_projection_lagging() -> None:
    with running_api(projection_wait_seconds=0.2) as api:
        api.open_wallet()
        beyond = head(api) + 10

        for path in ("/v1/journal", "/v1/trial-balance", "/v1/wallets/acme/usage"):
            response = api.get(f"{path}?min_position={beyond}")
            body = assert_problem(response, 503, "projection_lagging")
            assert (body["position"], body["required"]) == (head(api), beyond)
            assert response.headers["Retry-After"] == "1"


def test_without_a_worker_reads_answer_from_where_the_views_stand() -> None:
    with running_api(projections_in_process=False, projection_wait_seconds=0.1) as api:
        api.funded_wallet()
        assert workers() == []
        assert not api.read_models.in_process

        lagging = assert_problem(api.get(api.fresh("/v1/journal")), 503, "projection_lagging")
        as_they_are = api.get("/v1/journal").json()
        ProjectionRunner(api.ledger, api.read_models.views).catch_up()  # what a worker does
        caught_up = api.get(api.fresh("/v1/journal")).json()

    assert (lagging["position"], lagging["required"]) == (0, api.position)
    assert as_they_are == {"entries": [], "next_after": 0, "next_after_leg": None}
    assert len(caught_up["entries"]) == 2


def test_the_lifespan_starts_and_stops_the_in_process_worker() -> None:
    assert workers() == []
    with running_api() as api:
        assert api.read_models.in_process
        assert len(workers()) == 1
        api.funded_wallet()
        assert api.get(api.fresh("/v1/journal")).status_code == 200
        views = api.read_models.views

    assert workers() == []
    with pytest.raises(sqlite3.ProgrammingError), views.read():
        pass  # the views' connection is closed


@pytest.mark.parametrize(
    ("url", "setting", "expected"),
    [
        ("memory://", None, True),
        ("sqlite:///var/ledger.sqlite3", None, True),
        ("postgresql://ledger@db/ledger", None, False),
        ("postgresql://ledger@db/ledger", True, True),
        ("sqlite:///var/ledger.sqlite3", False, False),
    ],
)
def test_where_the_projections_run(url: str, setting: bool | None, expected: bool) -> None:
    settings = Settings(database_url=url, projections_in_process=setting)

    assert runs_in_process(settings, store_env(url)) is expected


def test_projection_settings_come_from_ledger_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_PROJECTIONS_IN_PROCESS", "false")
    monkeypatch.setenv("LEDGER_PROJECTION_WAIT_SECONDS", "0.5")

    settings = Settings()

    assert (settings.projections_in_process, settings.projection_wait_seconds) == (False, 0.5)
    monkeypatch.delenv("LEDGER_PROJECTIONS_IN_PROCESS")
    assert Settings().projections_in_process is None  # by the store: see runs_in_process


def test_an_sqlite_app_keeps_its_views_beside_its_events(tmp_path: Path) -> None:
    database = tmp_path / "ledger.sqlite3"
    settings = Settings(
        database_url=f"sqlite:///{database}", bootstrap_admin_key=SecretStr(ADMIN_KEY)
    )
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}

    with TestClient(create_app(settings)) as client:
        client.post("/v1/wallets", json={"wallet_id": "acme"}, headers=headers)
        grant = {"amount": 700, "category": "paid"}
        granted = client.post("/v1/wallets/acme/grants", json=grant, headers=headers)
        position = granted.headers[POSITION]
        journal = client.get(f"/v1/journal?min_position={position}", headers=headers).json()
        balance = client.get(f"/v1/trial-balance?min_position={position}", headers=headers)

    assert [(e["debit"], e["credit"]) for e in journal["entries"]] == [(700, 0), (0, 700)]
    assert (balance.json()["debit_total"], balance.json()["balanced"]) == (700, True)
    assert (tmp_path / "ledger.sqlite3.views.sqlite3").exists()
    assert workers() == []
