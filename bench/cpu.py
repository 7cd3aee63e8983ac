"""CPU accounting from /proc: the server, PostgreSQL, the load generator and the rest."""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CpuWatch", "postmaster_pid"]

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _proc_table() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, utime + stime ticks) for every process."""
    table: dict[int, tuple[int, int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields_ = stat[stat.rindex(")") + 2 :].split()
        table[int(entry.name)] = (int(fields_[1]), int(fields_[11]) + int(fields_[12]))
    return table


def _tree_ticks(table: dict[int, tuple[int, int]], root: int | None) -> int:
    if root is None or root not in table:
        return 0
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += table[pid][1]
        stack.extend(children.get(pid, []))
    return total


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


@dataclass
class CpuWatch:
    """CPU used by the server, PostgreSQL, the load generator and everything else."""

    server_pid: int | None
    postmaster_pid: int | None
    worker_pid: int | None = None  # the projection worker beside the ledger's server
    wall: float = 0.0
    before: dict[str, float] = field(default_factory=dict)

    def _sample(self) -> dict[str, float]:
        table = _proc_table()
        busy, total = _machine_ticks()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {
            "server": _tree_ticks(table, self.server_pid) / CLK_TCK,
            "postgres": _tree_ticks(table, self.postmaster_pid) / CLK_TCK,
            "projection_worker": _tree_ticks(table, self.worker_pid) / CLK_TCK,
            "load_generator": children.ru_utime + children.ru_stime,
            "machine_busy": busy / CLK_TCK,
            "machine_total": total / CLK_TCK,
        }

    def start(self) -> None:
        self.wall = time.monotonic()
        self.before = self._sample()

    def stop(self) -> dict[str, float]:
        """Percent of ONE core each used (the machine has ``nproc`` x 100 %)."""
        after = self._sample()
        wall = time.monotonic() - self.wall
        used = {k: after[k] - self.before[k] for k in after}
        cores = os.cpu_count() or 1
        machine = 100.0 * cores * used["machine_busy"] / max(used["machine_total"], 1e-9)
        named = ("server", "postgres", "projection_worker", "load_generator")
        pct = {k: round(100.0 * used[k] / wall, 1) for k in named}
        pct["machine"] = round(machine, 1)
        pct["other_processes"] = round(max(0.0, machine - sum(pct[k] for k in named)), 1)
        return pct


def postmaster_pid(pg_data: str | None) -> int | None:
    if not pg_data:
        return None
    try:
        return int((Path(pg_data) / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None
