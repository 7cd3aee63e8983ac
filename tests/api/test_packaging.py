"""Packaging: one version, bounded requirements, project metadata, and what ``make run`` installs.

The ``scripts/_venv.sh`` tests run the real script in a copy of the repository's scripts with a
stand-in ``.venv/bin/python`` that records what it is asked to install, so nothing is
downloaded.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tomllib
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from api.cli.main import main
from api.version import DISTRIBUTION, VERSION
from tests.support.api import running_api

REPO_ROOT = Path(__file__).resolve().parents[2]
UNCAPPED = {"tzdata": "time-zone data versioned by year: a cap would freeze the rules"}
"""Requirements allowed without an upper bound, and why."""


def project() -> dict[str, Any]:
    with (REPO_ROOT / "pyproject.toml").open("rb") as file:
        table: dict[str, Any] = tomllib.load(file)["project"]
    return table


def requirements() -> list[Requirement]:
    table = project()
    listed = [*table["dependencies"]]
    for extra in table.get("optional-dependencies", {}).values():
        listed += extra
    return [Requirement(line) for line in listed]


# -- one version --------------------------------------------------------------------------------


def test_the_cli_and_the_openapi_document_show_the_package_version(
    capsys: pytest.CaptureFixture[str],
) -> None:
    declared = project()["version"]

    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    with running_api() as api:
        document = api.get("/schema/openapi.json", key=None).json()

    assert exited.value.code == 0
    assert capsys.readouterr().out == f"ledger {declared}\n"
    assert document["info"]["version"] == declared
    assert VERSION == installed_version(DISTRIBUTION) == declared


# -- requirements -------------------------------------------------------------------------------


def test_every_requirement_has_an_upper_bound_on_its_major_version() -> None:
    uncapped = []
    for requirement in requirements():
        name = canonicalize_name(requirement.name)
        caps = [spec for spec in requirement.specifier if spec.operator in {"<", "<=", "~=", "=="}]
        if not caps and name not in UNCAPPED:
            uncapped.append(str(requirement))
        for spec in caps:
            if spec.operator == "<":
                floor = min(
                    (Version(s.version) for s in requirement.specifier if s.operator == ">="),
                    default=Version("0"),
                )
                # A cap no higher than the next major version of the floor.
                assert Version(spec.version) <= Version(f"{floor.major + 1}"), requirement

    assert uncapped == []


def test_no_requirement_is_listed_twice() -> None:
    # psycopg[pool] already brings psycopg-pool; listing both once let them disagree.
    names = [canonicalize_name(r.name) for r in requirements()]
    pool_extra = any(
        "pool" in r.extras for r in requirements() if canonicalize_name(r.name) == "psycopg"
    )

    assert len(names) == len(set(names))
    assert not (pool_extra and "psycopg-pool" in names)


def test_the_project_metadata_is_complete_and_names_no_url() -> None:
    table = project()

    assert table["license"]
    assert table["authors"]
    assert "Private :: Do Not Upload" in table["classifiers"]  # never published by accident
    assert not any(c.startswith("License ::") for c in table["classifiers"])  # `license` says it
    assert "urls" not in table  # a project URL would name a host; the repository is enough
    assert "://" not in (REPO_ROOT / "pyproject.toml").read_text()


# -- what make run installs ---------------------------------------------------------------------

_FAKE_PYTHON = """#!/usr/bin/env bash
# Stand-in for .venv/bin/python: records pip installs, runs anything else with the real one.
if [[ "$1" == "-m" && "$2" == "pip" ]]; then
    echo "$*" >> "$(dirname "$0")/../installs.log"
    exit 0
fi
exec {python} "$@"
"""
_FAKE_LEDGER = """#!/usr/bin/env bash
echo "$*" >> "$(dirname "$0")/../ledger.log"
"""


CLIENT_PYPROJECT = "clients/python/pyproject.toml"
# The dev install also holds the Python client, which the tests drive against a real server.
DEV_INSTALL = "-m pip install -q -e .[dev] -e clients/python"


def _executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def fake_repo(tmp_path: Path) -> Path:
    """A repository with the real scripts and pyproject.toml and a stand-in virtualenv."""
    shutil.copytree(REPO_ROOT / "scripts", tmp_path / "scripts")
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "clients" / "python").mkdir(parents=True)
    shutil.copy(REPO_ROOT / CLIENT_PYPROJECT, tmp_path / CLIENT_PYPROJECT)
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    _executable(bin_dir / "python", _FAKE_PYTHON.format(python=sys.executable))
    _executable(bin_dir / "ledger", _FAKE_LEDGER)
    return tmp_path


def _installs(repo: Path) -> list[str]:
    log = repo / ".venv" / "installs.log"
    return log.read_text().splitlines() if log.exists() else []


def _ensure(repo: Path, kind: str) -> None:
    subprocess.run(  # noqa: S603 - our own script
        ["bash", "-c", f'source scripts/_venv.sh && ensure_venv "{kind}"'],  # noqa: S607
        cwd=repo,
        check=True,
        capture_output=True,
        env={k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"},
    )


def test_make_run_installs_the_runtime_dependencies_only(fake_repo: Path) -> None:
    subprocess.run(  # noqa: S603 - our own script
        ["bash", str(fake_repo / "scripts" / "run.sh"), "--port", "8123"],  # noqa: S607
        cwd=fake_repo,
        check=True,
        capture_output=True,
    )

    assert _installs(fake_repo) == ["-m pip install -q -e ."]
    assert (fake_repo / ".venv" / "ledger.log").read_text() == "serve --port 8123\n"


def test_each_install_runs_once_and_the_dev_install_covers_the_runtime(fake_repo: Path) -> None:
    _ensure(fake_repo, "runtime")
    _ensure(fake_repo, "runtime")  # stamped: nothing to do
    _ensure(fake_repo, "dev")  # the dev tools are missing: install them
    _ensure(fake_repo, "dev")
    _ensure(fake_repo, "runtime")  # the dev install holds the runtime

    assert _installs(fake_repo) == ["-m pip install -q -e .", DEV_INSTALL]


def test_a_changed_pyproject_installs_again(fake_repo: Path) -> None:
    _ensure(fake_repo, "dev")
    with (fake_repo / "pyproject.toml").open("a") as file:
        file.write("\n# changed\n")
    _ensure(fake_repo, "runtime")

    assert _installs(fake_repo) == [DEV_INSTALL, "-m pip install -q -e ."]
