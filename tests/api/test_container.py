"""The Dockerfile and docker-compose.yml, checked without Docker (which cannot run here).

What ``docker compose up`` would do with them: the defaults of the compose file must pass the
settings' own checks (a 23-character default admin key made ``ledger serve`` and ``ledger
project`` exit 2 in a restart loop), the image's user must be able to create the default SQLite
store, the API must have a readiness healthcheck, and a change of the source must not reinstall
every dependency. tests/integration/test_container_commands.py runs the command lines.
"""

from __future__ import annotations

import os
import re
from pathlib import PurePosixPath

import pytest
from pydantic import ValidationError

from api.logs import LogSettings
from api.settings import Settings
from ledger.store.env import store_env
from tests.support.container import (
    Instruction,
    compose,
    compose_service,
    dockerfile,
    interpolate,
)

LEDGER_SERVICES = ("api", "projections")


def _settings_from(environment: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in [n for n in os.environ if n.startswith("LEDGER_")]:
        monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    LogSettings()
    return Settings()


def _index(instructions: list[Instruction], predicate: object) -> int:
    return next(i for i, ins in enumerate(instructions) if callable(predicate) and predicate(ins))


# -- docker-compose.yml ---------------------------------------------------------------------------


@pytest.mark.parametrize("service", LEDGER_SERVICES)
def test_the_compose_defaults_pass_the_settings_checks(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment = compose_service(service)["environment"]  # nothing set in the shell

    settings = _settings_from(environment, monkeypatch)

    assert settings.bootstrap_admin_key is not None
    assert settings.database_url.startswith("postgresql://")


def test_a_short_admin_key_from_the_shell_is_still_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    environment = compose_service("api", {"LEDGER_BOOTSTRAP_ADMIN_KEY": "too-short"})["environment"]

    with pytest.raises(ValidationError):
        _settings_from(environment, monkeypatch)


def test_the_worker_starts_once_the_api_is_healthy_and_has_no_http_probe() -> None:
    projections = compose_service("projections")

    # The API creates the store; `ledger project` refuses one that does not exist.
    assert projections["depends_on"]["api"] == {"condition": "service_healthy"}
    assert projections["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert projections["healthcheck"] == {"disable": True}
    assert "healthcheck" not in compose_service("api")  # the image's: GET /readyz


def test_every_service_restarts_and_the_api_is_published() -> None:
    services = compose()["services"]

    assert {s["restart"] for s in services.values()} == {"unless-stopped"}
    assert services["api"]["ports"] == ["8000:8000"]


@pytest.mark.parametrize(
    ("value", "environ", "expected"),
    [
        ("${A:-x}", {}, "x"),
        ("${A:-x}", {"A": ""}, "x"),
        ("${A-x}", {"A": ""}, ""),
        ("${A:-x}", {"A": "y"}, "y"),
        ("pre-${A}-$$", {"A": "y"}, "pre-y-$"),
    ],
)
def test_interpolation_follows_compose(value: str, environ: dict[str, str], expected: str) -> None:
    assert interpolate(value, environ) == expected


# -- Dockerfile -----------------------------------------------------------------------------------


def test_the_image_user_can_create_the_default_store() -> None:
    instructions = dockerfile()
    user_at = _index(instructions, lambda i: i.keyword == "USER")
    user = instructions[user_at].text
    workdir = PurePosixPath([i.text for i in instructions[:user_at] if i.keyword == "WORKDIR"][-1])
    env = {k: v for i in instructions if i.keyword == "ENV" for k, v in i.env().items()}
    url = env.get("LEDGER_DATABASE_URL", Settings.model_fields["database_url"].default)
    directory = (workdir / store_env(url)["SQLITE_DBNAME"]).parent

    # Then a RUN before USER (as root) makes that directory and gives it to the user
    setup = " ".join(i.text for i in instructions[:user_at] if i.keyword == "RUN")
    assert re.search(rf"mkdir -p {re.escape(str(directory))}(\s|$)", setup), setup
    assert re.search(rf"chown (-R )?{user}(:\S+)? {re.escape(str(directory))}(\s|$)", setup)
    assert re.search(rf"useradd .*\b{user}\b", setup)
    assert user != "root"


def test_the_image_checks_readiness_with_the_probe() -> None:
    healthchecks = [i for i in dockerfile() if i.keyword == "HEALTHCHECK"]

    assert len(healthchecks) == 1
    assert healthchecks[0].exec_form() == ["python", "-m", "api.probe"]
    assert "--interval=" in healthchecks[0].text


def test_dependencies_are_installed_in_a_layer_before_the_source_is_copied() -> None:
    instructions = dockerfile()
    copies = [(n, i.text.split()) for n, i in enumerate(instructions) if i.keyword == "COPY"]
    runs = [(n, i.text) for n, i in enumerate(instructions) if i.keyword == "RUN"]

    (first_at, first), (source_at, source) = copies
    assert first == ["pyproject.toml", "./"]  # the requirements alone...
    assert source == [".", "."]  # ...then everything
    deps = [text for n, text in runs if first_at < n < source_at]
    assert any("pip install -r" in text and "pyproject.toml" in text for text in deps)
    project = [text for n, text in runs if n > source_at and "pip install" in text]
    assert project
    assert all("--no-deps" in text for text in project)


def test_the_image_serves_by_default_on_every_interface() -> None:
    instructions = dockerfile()
    env = {k: v for i in instructions if i.keyword == "ENV" for k, v in i.env().items()}
    cmd = [i for i in instructions if i.keyword == "CMD"][-1]

    assert cmd.exec_form() == ["ledger", "serve"]
    assert (env["LEDGER_HOST"], env["LEDGER_PORT"]) == ("0.0.0.0", "8000")  # noqa: S104
    assert [i.text for i in instructions if i.keyword == "EXPOSE"] == ["8000"]
