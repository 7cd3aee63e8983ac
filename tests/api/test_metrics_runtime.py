"""Process and Python series in ``/metrics``, and the multiprocess directory of several workers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.metrics_multiprocess import MULTIPROC_ENV, WorkerProcessCollector, multiprocess_dir
from tests.support.api import running_api


def test_metrics_show_process_and_python_series() -> None:
    with running_api() as api:
        text = api.get("/metrics", key=None).text

    names = {family.name for family in text_string_to_metric_families(text)}
    assert {"process_cpu_seconds", "process_resident_memory_bytes", "process_open_fds"} <= names
    assert {"python_info", "python_gc_objects_collected"} <= names


def test_an_operators_directory_is_emptied_of_an_earlier_runs_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    for name in ("counter_4242.db", "histogram_4242.db", "worker-4242"):
        (directory / name).write_bytes(b"from the run before")
    (directory / "README").write_text("not ours")
    monkeypatch.setenv(MULTIPROC_ENV, str(directory))

    with multiprocess_dir() as used:
        assert used == directory
        assert sorted(p.name for p in directory.iterdir()) == ["README"]
    assert os.environ[MULTIPROC_ENV] == str(directory)  # the operator's setting stays


def test_without_a_directory_a_temporary_one_is_made_and_removed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)

    with multiprocess_dir() as used:
        assert os.environ[MULTIPROC_ENV] == str(used)  # inherited by the workers
        assert used.is_dir()

    assert not used.exists()
    assert MULTIPROC_ENV not in os.environ


def test_process_series_are_labelled_per_live_worker(tmp_path: Path) -> None:
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead = int(finished.stdout)
    for pid in (os.getpid(), dead):
        (tmp_path / f"worker-{pid}").touch()

    families = {f.name: f for f in WorkerProcessCollector(tmp_path).collect()}

    cpu = families["process_cpu_seconds"]
    assert [s.labels["pid"] for s in cpu.samples] == [str(os.getpid())]
    assert cpu.samples[0].value > 0
