"""``/v1/admin/projections`` (status, background rebuilds) and the projection gauges."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.api import Api, assert_problem, running_api

NAMES = [
    "journal",
    "balances",
    "usage",
    "budget_status",
    "meters",
    "alerts",
    "lists",
    "uncollected",
]


@pytest.fixture
def api() -> Iterator[Api]:
    with running_api() as running:
        yield running


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within the timeout"
        time.sleep(0.02)


def head(api: Api) -> int:
    return int(api.ledger.recorder.max_notification_id() or 0)


def projections(api: Api) -> dict[str, dict[str, Any]]:
    response = api.get("/v1/admin/projections")
    assert response.status_code == 200, response.text
    return {entry["name"]: entry for entry in response.json()["projections"]}


def caught_up(api: Api) -> dict[str, dict[str, Any]]:
    """The status once every projection has reached the head and its worker has beaten."""
    api.read_models.wait_for(head(api), NAMES)
    eventually(lambda: {e["status"] for e in projections(api).values()} == {"running"})
    return projections(api)


def gauges(api: Api) -> dict[tuple[str, str], float]:
    text = api.get("/metrics", key=None).text
    return {
        (sample.name, sample.labels["projection"]): sample.value
        for family in text_string_to_metric_families(text)
        if family.name.startswith("ledger_projection_")
        for sample in family.samples
    }


def test_the_status_lists_every_projection(api: Api) -> None:
    api.funded_wallet()

    status = caught_up(api)

    assert list(status) == NAMES
    for entry in status.values():
        assert (entry["position"], entry["head"], entry["lag"]) == (head(api), head(api), 0)
        assert (entry["generation"], entry["lag_seconds"], entry["rebuild"]) == (1, 0.0, None)
        assert entry["worker"]


def test_without_a_worker_the_status_shows_the_lag() -> None:
    with running_api(projections_in_process=False) as api:
        api.funded_wallet()

        status = projections(api)
        metrics = gauges(api)

    assert {(e["position"], e["lag"], e["status"]) for e in status.values()} == {
        (0, head(api), "stopped")
    }
    assert status["journal"]["lag_seconds"] >= 0
    assert metrics[("ledger_projection_lag_events", "journal")] == head(api)


def test_only_admins_see_or_rebuild_projections(api: Api) -> None:
    auditor = api.issue_key("auditor")

    assert_problem(api.get("/v1/admin/projections", key=auditor), 403, "forbidden")
    assert_problem(api.get("/v1/admin/projections", key=None), 401, "unauthenticated")
    rebuild = "/v1/admin/projections/journal/rebuild"
    assert_problem(api.post(rebuild, key=auditor), 403, "forbidden")
    assert not api.read_models.rebuilding("journal")


def test_a_rebuild_runs_in_the_background_and_switches_generations(api: Api) -> None:
    api.funded_wallet()
    api.post("/v1/wallets/acme/debits", {"amount": 30, "subject": {"model": "m1"}})
    before = api.get(api.fresh("/v1/journal")).json()

    started = api.post("/v1/admin/projections/journal/rebuild")
    again = api.post("/v1/admin/projections/journal/rebuild")  # within the drop grace

    assert (started.status_code, started.json()) == (
        202,
        {"name": "journal", "status": "rebuilding"},
    )
    assert_problem(again, 409, "rebuild_in_progress")
    eventually(lambda: not api.read_models.rebuilding("journal"))
    status = caught_up(api)
    assert {name: e["generation"] for name, e in status.items()} == {
        "journal": 2,
        "balances": 1,
        "usage": 1,
        "budget_status": 1,
        "meters": 1,
        "alerts": 1,
        "lists": 1,
        "uncollected": 1,
    }
    assert api.get(api.fresh("/v1/journal")).json() == before
    assert api.post("/v1/admin/projections/journal/rebuild").status_code == 202  # once done


def test_an_unknown_projection_is_not_found(api: Api) -> None:
    body = assert_problem(
        api.post("/v1/admin/projections/ledger/rebuild"), 404, "projection_not_found"
    )

    assert "journal" in body["detail"]


def test_stopping_the_app_stops_a_rebuild() -> None:
    started = time.monotonic()
    with running_api() as api:
        api.funded_wallet()
        assert api.post("/v1/admin/projections/usage/rebuild").status_code == 202

    assert time.monotonic() - started < 5  # not the rebuild's second of drop grace twice
    assert not any(t.name.startswith("ledger-rebuild-") for t in threading.enumerate())


def test_metrics_show_each_projections_position_and_lag(api: Api) -> None:
    api.funded_wallet()
    caught_up(api)

    metrics = gauges(api)

    for name in NAMES:
        assert metrics[("ledger_projection_position", name)] == head(api)
        assert metrics[("ledger_projection_lag_events", name)] == 0
        assert metrics[("ledger_projection_lag_seconds", name)] == 0
