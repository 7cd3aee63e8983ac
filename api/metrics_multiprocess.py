"""Metrics of several API worker processes in one scrape: prometheus-client's multiprocess mode.

Each worker keeps its own counters, so with ``ledger serve --workers N`` a scrape (answered by
whichever worker the kernel picked) used to show that one worker's share. In multiprocess mode
every worker writes its samples to memory-mapped files in ``PROMETHEUS_MULTIPROC_DIR`` and a
scrape sums them all (:func:`multiprocess_registry`).

* ``ledger serve`` sets the directory up for more than one worker (:func:`multiprocess_dir`):
  the operator's ``PROMETHEUS_MULTIPROC_DIR`` emptied of an earlier run's files, or a fresh
  temporary directory removed at exit. The variable must be set before a worker imports
  prometheus-client, which is why the supervisor does it before starting them.
* ``process_*`` series are read per live worker from ``/proc`` with a ``pid`` label
  (:class:`WorkerProcessCollector`): one process's CPU and memory summed with another's would
  be a number of nothing. ``python_info`` is the same for all. Garbage-collector series
  (``python_gc_*``) are per process and only shown with one worker.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    PlatformCollector,
    ProcessCollector,
    multiprocess,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

__all__ = [
    "MULTIPROC_ENV",
    "WorkerProcessCollector",
    "announce_worker",
    "enabled",
    "multiprocess_dir",
    "multiprocess_registry",
]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""prometheus-client's own switch: set, every metric value lives in a file there."""
_WORKER_FILE = re.compile(r"^worker-(\d+)$")


def enabled() -> bool:
    """Whether this process records its metrics in the shared directory."""
    return bool(os.environ.get(MULTIPROC_ENV))


def announce_worker() -> None:
    """Leave this process's pid in the directory, so a scrape shows its ``process_*`` series
    even before it has counted anything (counters make their files on first use)."""
    (Path(os.environ[MULTIPROC_ENV]) / f"worker-{os.getpid()}").touch()


class WorkerProcessCollector(Collector):
    """``process_*`` of every live worker that announced itself, each with a ``pid`` label."""

    def __init__(self, directory: Path, proc: str = "/proc") -> None:
        self.directory = directory
        self.proc = proc

    def _live_pids(self) -> list[int]:
        pids = []
        for entry in os.listdir(self.directory):
            match = _WORKER_FILE.match(entry)
            if match and os.path.exists(os.path.join(self.proc, match.group(1))):
                pids.append(int(match.group(1)))
        return sorted(pids)

    def collect(self) -> Iterator[Metric]:
        merged: dict[str, Metric] = {}
        for pid in self._live_pids():
            collector = ProcessCollector(pid=lambda pid=pid: pid, proc=self.proc, registry=None)  # type: ignore[misc]
            for family in collector.collect():
                target = merged.setdefault(
                    family.name, Metric(family.name, family.documentation, family.type)
                )
                for sample in family.samples:
                    target.add_sample(sample.name, {**sample.labels, "pid": str(pid)}, sample.value)
        yield from merged.values()


def multiprocess_registry(*collectors: Collector) -> CollectorRegistry:
    """A registry for one scrape: every worker's samples summed, plus ``collectors``."""
    directory = Path(os.environ[MULTIPROC_ENV])
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    registry.register(WorkerProcessCollector(directory))
    PlatformCollector(registry=registry)
    for collector in collectors:
        registry.register(collector)
    return registry


@contextmanager
def multiprocess_dir() -> Iterator[Path]:
    """``PROMETHEUS_MULTIPROC_DIR`` for the workers started inside the block.

    The operator's directory (if the variable is set) is created if need be and emptied of an
    earlier run's files, which would otherwise be added to this run's counts; without one, a
    temporary directory is made and removed afterwards.
    """
    configured = os.environ.get(MULTIPROC_ENV)
    if configured:
        directory = Path(configured)
        directory.mkdir(parents=True, exist_ok=True)
        for entry in directory.iterdir():
            if entry.suffix == ".db" or _WORKER_FILE.match(entry.name):
                entry.unlink()
        yield directory
        return
    directory = Path(tempfile.mkdtemp(prefix="ledger-metrics-"))
    os.environ[MULTIPROC_ENV] = str(directory)
    try:
        yield directory
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(directory, ignore_errors=True)
