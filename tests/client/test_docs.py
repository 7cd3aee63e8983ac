"""The Python of docs/sdk.md and of the quickstart's Python section, run as written against a
real server (SQLite), each document's blocks in order in one namespace. A ``print`` whose
line ends in a ``# comment`` must print that comment's text."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.live_server import REPO_ROOT, TEST_ADMIN_KEY, LiveServer

SDK = REPO_ROOT / "docs" / "sdk.md"
QUICKSTART = REPO_ROOT / "docs" / "quickstart.md"
DOC_ADDRESS = "http://127.0.0.1:8000"


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", path.read_text(), re.M | re.S)


def shown_outputs(code: str) -> list[str]:
    """What the document says each commented ``print`` prints, in order."""
    return re.findall(r"^\s*print\(.*\)\s+# (.+)$", code, re.M)


def run_document(path: Path, server: LiveServer) -> tuple[dict[str, Any], list[str]]:
    namespace: dict[str, Any] = {"__name__": f"doc_{path.stem}"}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for block in python_blocks(path):
            code = block.replace(DOC_ADDRESS, server.url)
            exec(compile(code, str(path), "exec"), namespace)  # noqa: S102 - the docs' own code
    return namespace, printed.getvalue().splitlines()


def check_shown(path: Path, printed: list[str]) -> None:
    expected = [shown for block in python_blocks(path) for shown in shown_outputs(block)]
    assert expected, path
    lines = iter(printed)
    for shown in expected:
        assert any(line == shown for line in lines), f"{path.name}: {shown!r} not in {printed}"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_sdk_guide_runs_as_written(
    server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGER_URL", server.url)
    monkeypatch.setenv("LEDGER_KEY", TEST_ADMIN_KEY)
    monkeypatch.chdir(tmp_path)

    namespace, printed = run_document(SDK, server)

    check_shown(SDK, printed)
    assert printed[0] == "echo: hello"
    assert namespace["wallet"].balance.available == 10_000 - 4
    assert printed[-1] == "echo: hi"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_quickstarts_python_runs_as_written(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGER_KEY", TEST_ADMIN_KEY)

    namespace, printed = run_document(QUICKSTART, server)

    check_shown(QUICKSTART, printed)
    assert namespace["captured"].captured == 6
