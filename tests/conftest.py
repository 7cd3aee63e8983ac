"""Root pytest configuration: hypothesis profiles, tier markers and Postgres fixtures.

Postgres-backed tests take ``postgres_url`` (the database named by
``LEDGER_TEST_DATABASE_URL``; ``scripts/test.sh`` starts a throwaway cluster and sets it)
or ``pg_schema`` (a fresh, empty schema in that database, dropped after the test).
Without the variable those tests are skipped locally, and fail in CI so that a
misconfigured pipeline cannot pass by skipping them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import settings
from psycopg import sql

TESTS_DIR = Path(__file__).resolve().parent

# clock, ledger and views: the in-memory fixtures most app-tier tests share.
pytest_plugins = ["tests.support.fixtures"]
DATABASE_URL_ENV = "LEDGER_TEST_DATABASE_URL"

# Timing on shared CI machines is noisy, so no profile enforces a per-example deadline.
settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile("ci", max_examples=200, deadline=None, derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

# Tiers by cost: pure (no application) < app (in memory) < property < integration (Postgres)
# < reliability (processes, load). tests/reliability marks itself.
_TIER_MARKERS: dict[str, pytest.MarkDecorator] = {
    "domain": pytest.mark.pure,
    "ledger": pytest.mark.app,
    "api": pytest.mark.app,
    "projections": pytest.mark.app,
    "integration": pytest.mark.integration,
    "property": pytest.mark.property,
}


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test with the tier of the folder it is in."""
    for item in items:
        path = Path(item.path).resolve()
        for tier, marker in _TIER_MARKERS.items():
            if path.is_relative_to(TESTS_DIR / tier):
                item.add_marker(marker)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of the test database; skips (locally) or fails (in CI) when there is none."""
    url = os.environ.get(DATABASE_URL_ENV)
    if url:
        return url
    reason = f"{DATABASE_URL_ENV} is not set (scripts/test.sh starts a throwaway Postgres)"
    if _in_ci():
        pytest.fail(f"{reason}; Postgres tests must not be skipped in CI", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def pg_schema(postgres_url: str) -> Iterator[str]:
    """Create an empty schema ``t_<12 hex>`` for one test, then drop it with everything in it."""
    yield from throwaway_schema(postgres_url)


@pytest.fixture
def other_pg_schema(postgres_url: str) -> Iterator[str]:
    """A second schema like ``pg_schema``, for tests that copy one store into another."""
    yield from throwaway_schema(postgres_url)


def throwaway_schema(postgres_url: str) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
