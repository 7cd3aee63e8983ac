"""Waiting for server worker processes: their listening sockets and a bounded wait."""

from __future__ import annotations

import os
import time

__all__ = ["WAIT_SECONDS", "listeners", "wait_for"]

WAIT_SECONDS = 60.0


def listeners(port: int) -> int:
    """Sockets listening on ``port`` on this machine (from /proc, no tools needed)."""
    hex_port = f":{port:04X}"
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        with open(table) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                if fields[1].endswith(hex_port) and fields[3] == "0A":  # 0A = LISTEN
                    count += 1
    return count


def wait_for(predicate: object, what: str) -> None:
    """Poll ``predicate`` until it is true, at most ``WAIT_SECONDS``."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
