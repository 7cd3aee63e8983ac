"""docs/quickstart.md, run as written against a real server process on PostgreSQL, with a
``ledger project`` process beside it keeping the read models current (what ``make run``'s
SQLite server does in a thread).

Every command of the document's ```bash blocks is run by bash, in order, as a reader would:
``curl`` calls against ``ledger serve`` on a free port (the document's ``127.0.0.1:8000`` and
its placeholder key are substituted), ``export`` lines carried into later commands (the
capture's ``Ledger-Position`` among them, which the audit reads pass as ``min_position``), and
``.venv/bin/ledger`` run through a stand-in script for the current interpreter. ``make run`` is
the server itself: ``scripts/run.sh`` only prepares ``.venv`` and then execs ``ledger serve``,
which the fixture starts. Each command's status is checked against :data:`EXPECTED`, and the
response shown after it (```json, ```csv or ```text) against what the server answered.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support.live_server import (
    REPO_ROOT,
    TEST_ADMIN_KEY,
    LiveServer,
    live_server,
    pg_store_url,
    projection_worker,
    server_env,
)

DOC = REPO_ROOT / "docs" / "quickstart.md"
DOC_ADDRESS = "127.0.0.1:8000"
DOC_KEY = "LEDGER_KEY=dev-..."
ANY = "..."
STATUS_MARK = "__HTTP_STATUS__"
# Every curl prints its status last; the document's own arguments are left as they are.
PRELUDE = f"""set -euo pipefail
curl() {{ command curl -w '\\n{STATUS_MARK} %{{http_code}}' "$@"; }}
"""

EXPECTED: list[tuple[str, int | None]] = [
    ("make run", None),
    ("export LEDGER_KEY", None),
    ("GET /healthz", 200),
    ("POST /v1/wallets", 201),
    ("POST /v1/wallets/acme/grants", 201),
    ("POST /v1/wallets/acme/holds", 201),
    ("POST /v1/wallets/acme/holds/h1/capture", 200),
    ("export POSITION", None),
    ("GET /v1/wallets/acme", 200),
    ("GET /v1/wallets/acme/usage", 200),
    ("GET /v1/journal", 200),
    ("GET /v1/journal", 200),
    ("GET /v1/trial-balance", 200),
    ("PUT /v1/price-books/default", 201),
    ("POST /v1/wallets/acme/debits", 201),
    ("export BACKEND_KEY", None),
    ("POST /v1/wallets/acme/debits", 201),
    ("ledger sweep", 0),
]
"""Each command of the document, in order, with its HTTP status (curl) or exit status."""


@dataclass
class Step:
    """One command of the document and the response shown after it, if any."""

    command: str
    shown: tuple[str, str] | None = None  # (language, text)

    @property
    def words(self) -> list[str]:
        return shlex.split(self.command, comments=True)

    def signature(self) -> str:
        words = self.words
        if words[0] == "curl":
            method = words[words.index("-X") + 1] if "-X" in words else "GET"
            url = next(w for w in words if w.startswith("http"))
            return f"{method} {urlsplit(url).path}"
        if words[0] == "export":
            return f"export {words[1].split('=')[0]}"
        if words[0] == ".venv/bin/ledger":
            return f"ledger {words[1]}"
        return " ".join(words)


def doc_steps(markdown: str) -> list[Step]:
    """The commands of the ```bash blocks, each output block attached to the command above."""
    steps: list[Step] = []
    for language, text in re.findall(r"^```(\w+)\n(.*?)^```$", markdown, re.M | re.S):
        if language == "python":
            continue  # the Python section: tests/client/test_docs.py runs it
        if language != "bash":
            assert steps, "an output block before any command"
            steps[-1].shown = (language, text)
            continue
        lines = text.replace("\\\n", " ").splitlines()
        commands = [line.strip() for line in lines if line.strip() and line.strip()[0] != "#"]
        steps += [Step(command) for command in commands]
    return steps


def matches(shown: Any, actual: Any, where: str = "$") -> list[str]:
    """Where ``actual`` differs from the response the document shows.

    ``"..."`` matches any value; a shown object lists only some members; a shown list is
    matched item by item, and ending it with ``"..."`` allows more items after.
    """
    if shown == ANY:
        return []
    if isinstance(shown, dict):
        return _object_matches(shown, actual, where)
    if isinstance(shown, list):
        return _list_matches(shown, actual, where)
    return [] if shown == actual else [f"{where}: expected {shown!r}, got {actual!r}"]


def _object_matches(shown: dict[str, Any], actual: Any, where: str) -> list[str]:
    if not isinstance(actual, dict):
        return [f"{where}: expected an object, got {actual!r}"]
    problems = [f"{where}.{key}: missing" for key in shown if key not in actual]
    return problems + [
        problem
        for key, value in shown.items()
        if key in actual
        for problem in matches(value, actual[key], f"{where}.{key}")
    ]


def _list_matches(shown: list[Any], actual: Any, where: str) -> list[str]:
    if not isinstance(actual, list):
        return [f"{where}: expected a list, got {actual!r}"]
    open_ended = bool(shown) and shown[-1] == ANY
    items = shown[:-1] if open_ended else shown
    if len(actual) < len(items) or (not open_ended and len(actual) != len(items)):
        return [f"{where}: expected {len(items)} items, got {len(actual)}"]
    return [p for i, item in enumerate(items) for p in matches(item, actual[i], f"{where}[{i}]")]


@pytest.fixture
def server(postgres_url: str, pg_schema: str, tmp_path: Path) -> Iterator[LiveServer]:
    env = server_env(pg_store_url(postgres_url, pg_schema), TEST_ADMIN_KEY)
    with (
        live_server(env, tmp_path / "logs") as running,
        projection_worker(env, tmp_path / "logs"),
    ):
        yield running


@pytest.fixture
def ledger_stand_in(tmp_path: Path) -> Path:
    """A directory whose ``.venv/bin/ledger`` runs the CLI with the current interpreter (and
    with the ``var/`` that ``make run`` makes)."""
    bin_dir = tmp_path / "reader" / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (tmp_path / "reader" / "var").mkdir()
    script = bin_dir / "ledger"
    script.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m api.cli "$@"\n')
    script.chmod(0o755)
    return tmp_path / "reader"


def run_bash(command: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the document's own commands
        ["bash", "-c", PRELUDE + command],  # noqa: S607 - bash from PATH, as a reader has it
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_make_run_is_ledger_serve() -> None:
    run_sh = (REPO_ROOT / "scripts" / "run.sh").read_text()
    makefile = (REPO_ROOT / "Makefile").read_text()

    assert "scripts/run.sh" in makefile
    assert 'exec "$ROOT/.venv/bin/ledger" serve "$@"' in run_sh


def test_the_document_lists_the_expected_commands() -> None:
    steps = doc_steps(DOC.read_text())

    assert [step.signature() for step in steps] == [name for name, _ in EXPECTED]


def test_every_quickstart_command_works(server: LiveServer, ledger_stand_in: Path) -> None:
    steps = doc_steps(DOC.read_text())
    assert [step.signature() for step in steps] == [name for name, _ in EXPECTED]
    env = {**server.env, "PYTHONPATH": str(REPO_ROOT)}
    env.pop("LEDGER_BOOTSTRAP_ADMIN_KEY")  # a reader's terminal has only what the doc exports
    journal_rows = 0

    for step, (name, status) in zip(steps, EXPECTED, strict=True):
        if name == "make run":
            continue  # the server fixture: `ledger serve`, as scripts/run.sh ends
        command = step.command.replace(DOC_ADDRESS, f"127.0.0.1:{server.port}")
        command = command.replace(DOC_KEY, f"LEDGER_KEY={TEST_ADMIN_KEY}")
        if name.startswith("export"):
            done = run_bash(f"{command}\nenv -0", env, ledger_stand_in)
            assert done.returncode == 0, done.stderr
            env = dict(item.split("=", 1) for item in done.stdout.split("\0") if "=" in item)
            assert env[name.removeprefix("export ")], f"{name}: empty"
            continue
        done = run_bash(command, env, ledger_stand_in)
        assert done.returncode == (0 if step.words[0] == "curl" else status), done.stderr
        output = done.stdout
        if step.words[0] == "curl":
            output, _, answered = output.rpartition(f"\n{STATUS_MARK} ")
            assert int(answered) == status, f"{name}: {answered} {output}"
        if step.shown is None:
            continue
        language, shown = step.shown
        if language == "json":
            body = json.loads(output)
            assert matches(json.loads(shown), body) == [], f"{name}: {output}"
            if name == "GET /v1/journal":
                journal_rows = len(body["entries"])
            if name == "GET /v1/trial-balance":
                assert body["debit_total"] == body["credit_total"] > 0
        elif language == "csv":
            header, *rows = output.strip().splitlines()
            assert header == shown.strip()
            assert len(rows) == journal_rows > 0
        else:
            assert output.strip() == shown.strip(), name
