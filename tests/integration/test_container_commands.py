"""The container command lines, run here (Docker cannot run where the tests run).

The image's default command in its working directory with the image's environment, and the
compose services' commands with the compose file's defaults (the store pointed at the test
database instead of the ``postgres`` host), each judged by the image's own healthcheck command.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from projections.entrypoints import status
from tests.support.container import compose_service, dockerfile, local_argv
from tests.support.live_server import free_port, pg_store_url

WAIT_SECONDS = 60.0


def _image_env() -> dict[str, str]:
    return {k: v for i in dockerfile() if i.keyword == "ENV" for k, v in i.env().items()}


def _base_env(**overrides: str) -> dict[str, str]:
    """This machine's environment without LEDGER_* or PROMETHEUS_* settings, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEDGER_", "PROMETHEUS_"))}
    return {**env, **overrides}


def _healthcheck(env: Mapping[str, str]) -> list[str]:
    (check,) = [i for i in dockerfile() if i.keyword == "HEALTHCHECK"]
    return local_argv(check.exec_form())


def _wait_healthy(process: subprocess.Popen[bytes], env: Mapping[str, str], log: Path) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, f"exited {process.returncode}:\n{log.read_text()[-3000:]}"
        probe = subprocess.run(_healthcheck(env), env=dict(env), capture_output=True, check=False)  # noqa: S603
        if probe.returncode == 0:
            return
        time.sleep(0.3)
    raise AssertionError(f"never healthy:\n{log.read_text()[-3000:]}")


@contextmanager
def _running(
    argv: list[str], env: Mapping[str, str], cwd: Path, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - the container's own command line
            local_argv(argv), env=dict(env), cwd=cwd, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        returncode = process.wait(WAIT_SECONDS)
    # 0, or uvicorn's own re-raise of the SIGTERM it handled (a single `ledger serve` does that)
    assert returncode in {0, -signal.SIGTERM}, log.read_text()[-3000:]


def test_the_image_command_serves_its_default_store_from_its_workdir(tmp_path: Path) -> None:
    instructions = dockerfile()
    workdir = (
        tmp_path / PurePosixPath([i.text for i in instructions if i.keyword == "WORKDIR"][-1]).name
    )
    (workdir / "var").mkdir(parents=True)  # what the image's RUN made, owned by its user
    env = _base_env(**_image_env())
    env.update(LEDGER_HOST="127.0.0.1", LEDGER_PORT=str(free_port()))  # not every interface here
    cmd = [i for i in instructions if i.keyword == "CMD"][-1].exec_form()

    with _running(cmd, env, workdir, tmp_path / "serve.log") as server:
        _wait_healthy(server, env, tmp_path / "serve.log")

    assert (workdir / "var" / "ledger.sqlite3").is_file()


def test_the_compose_services_start_with_the_files_defaults(
    postgres_url: str, pg_schema: str, tmp_path: Path
) -> None:
    api, worker = compose_service("api"), compose_service("projections")
    store = pg_store_url(postgres_url, pg_schema)  # instead of the `postgres` service's host
    env = _base_env(**_image_env(), **api["environment"])
    env.update(LEDGER_DATABASE_URL=store, LEDGER_HOST="127.0.0.1", LEDGER_PORT=str(free_port()))

    with _running(api["command"], env, tmp_path, tmp_path / "api.log") as server:
        _wait_healthy(server, env, tmp_path / "api.log")  # compose starts the worker only now
        worker_env = {**env, **_base_env(**worker["environment"]), "LEDGER_DATABASE_URL": store}
        with _running(worker["command"], worker_env, tmp_path, tmp_path / "project.log") as project:
            deadline = time.monotonic() + WAIT_SECONDS
            while {entry["status"] for entry in status(store)} != {"running"}:
                assert project.poll() is None, (tmp_path / "project.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "the worker never reported running"
                time.sleep(0.2)
