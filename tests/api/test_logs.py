"""The CLI configures logging once: INFO lines reach stderr, as text or JSON lines."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest

from api.cli.main import main
from api.logs import JsonFormatter
from tests.support.builders import make_ledger, open_funded_wallet

REBUILD = ["projections", "rebuild", "journal", "--drop-grace", "0"]


@pytest.fixture(autouse=True)
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A file store with one funded wallet, named by LEDGER_DATABASE_URL; no LEDGER_LOG_*."""
    for name in ("LOG_LEVEL", "LOG_FORMAT", "BOOTSTRAP_ADMIN_KEY"):
        monkeypatch.setenv(f"LEDGER_{name}", "placeholder")  # registers the undo...
        monkeypatch.delenv(f"LEDGER_{name}")  # ...then starts from unset
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    monkeypatch.setenv("LEDGER_DATABASE_URL", url)
    ledger = make_ledger(url)
    try:
        open_funded_wallet(ledger)
    finally:
        ledger.close()
    return url


def test_info_lines_reach_stderr_as_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(REBUILD) == 0

    lines = capsys.readouterr().err.splitlines()
    rebuilt = [line for line in lines if "projections.rebuild: rebuilt {'journal'" in line]
    assert len(rebuilt) == 1
    assert " INFO [" in rebuilt[0]


def test_json_lines_carry_level_logger_and_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEDGER_LOG_FORMAT", "json")

    assert main(REBUILD) == 0

    entries = [
        json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")
    ]
    rebuilt = [e for e in entries if e["message"].startswith("rebuilt {'journal'")]
    assert len(rebuilt) == 1
    assert rebuilt[0]["level"] == "INFO"
    assert rebuilt[0]["logger"] == "projections.rebuild"
    assert rebuilt[0]["time"].endswith("+00:00")


def test_the_level_setting_filters_lines(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEDGER_LOG_LEVEL", "warning")

    assert main(REBUILD) == 0
    assert "rebuilt {" not in capsys.readouterr().err


def test_an_unknown_level_is_an_invalid_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEDGER_LOG_LEVEL", "loud")

    assert main(["sweep"]) == 2
    assert "invalid LEDGER_* setting" in capsys.readouterr().err


def test_a_command_leaves_logging_as_it_found_it() -> None:
    root = logging.getLogger()
    before = (root.level, root.handlers[:])

    assert main(["sweep"]) == 0

    assert (root.level, root.handlers) == before


def test_an_exception_is_one_json_line_with_its_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", ("here",), None)
        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)

    entry = json.loads(line)
    assert "\n" not in line
    assert entry["message"] == "failed here"
    assert "ValueError: boom" in entry["exception"]
