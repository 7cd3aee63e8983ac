"""The CLI's refusal of a store that does not exist, on PostgreSQL: an empty schema is none."""

from __future__ import annotations

import pytest

from api.cli.main import main
from tests.support.builders import make_ledger
from tests.support.live_server import pg_store_url


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--database-url`` exports LEDGER_DATABASE_URL: undo it after the test."""
    monkeypatch.setenv("LEDGER_DATABASE_URL", "placeholder")
    monkeypatch.delenv("LEDGER_DATABASE_URL")


def test_keys_create_refuses_a_schema_without_ledger_tables_until_serve_made_them(
    postgres_url: str, pg_schema: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = pg_store_url(postgres_url, pg_schema)

    assert main(["keys", "create", "--scope", "admin", "--database-url", url]) == 2
    assert f"schema '{pg_schema}' of database" in capsys.readouterr().err

    make_ledger(url).close()  # what `ledger serve` does when it starts
    assert main(["keys", "create", "--scope", "admin", "--database-url", url]) == 0
    assert capsys.readouterr().out.startswith("lk_")
