"""py-spy over the server during an extra hot-wallet run, summarised by thread and frame."""

from __future__ import annotations

import argparse
import secrets
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.checks import Acked
from bench.common import log
from bench.config import Config
from bench.scenarios import SCENARIOS, run_wrk
from bench.server import Server

__all__ = ["profile_hot", "summarize_profile"]

PROFILE_RATE = 100  # py-spy samples per second


def profile_hot(
    server: Server,
    key: str,
    options: argparse.Namespace,
    *,
    config: Config,
    workdir: Path,
    acked: Acked,
) -> dict[str, Any] | None:
    """py-spy over the server during an extra (unreported) run of ``--profile-scenario``
    (the hot wallet by default)."""
    py_spy = Path(sys.executable).parent / "py-spy"
    if not py_spy.exists():
        log("py-spy is not installed in .venv: skipping the profile")
        return None
    seconds = max(3, min(10, int(options.seconds) - 2))
    out = workdir / f"profile-{config.index}.txt"
    cmd = [str(py_spy), "record", "-p", str(server.process.pid), "-d", str(seconds)]
    cmd += ["-r", str(PROFILE_RATE), "-o", str(out), "--format", "raw", "--gil"]
    cmd += ["--nonblocking", "--subprocesses"]
    scenario = SCENARIOS[options.profile_scenario]
    with ThreadPoolExecutor(max_workers=1) as pool:
        load = pool.submit(
            run_wrk,
            server,
            scenario,
            f"p{config.index}-{secrets.token_hex(3)}",
            key,
            options,
            seconds=seconds + 2,
            config=config,
        )
        time.sleep(1)
        spy = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
        wrk = load.result()
    acked.add(scenario, config, wrk, batch_ops=options.batch_ops)
    if spy.returncode != 0 or not out.exists():
        log(f"py-spy failed ({spy.returncode}): {spy.stderr.strip()[-500:]}")
        return None
    summary = summarize_profile(out, options.profile_top, seconds=seconds, rate=PROFILE_RATE)
    return {"profile": config.label, "scenario": scenario.name, "seconds": seconds, **summary}


_ROLES = (
    ("Committer._loop", "committer thread (decide + commit batches)"),
    ("run_forever", "event loop (HTTP parsing, litestar async middleware, responses)"),
    ("Runner.run", "event loop (HTTP parsing, litestar async middleware, responses)"),
    ("WorkerThread.run", "anyio worker threads (API-key check, sync handlers)"),
    ("_worker (concurrent", "executor threads"),
)


# Frames every sample of a thread shares (thread start, the event loop, the CLI): they say
# nothing about where the time goes, so the inclusive list leaves them out.
_PLUMBING = (
    "threading.py",
    "asyncio/runners.py",
    "asyncio/base_events.py",
    "uvicorn/main.py",
    "uvicorn/_compat.py",
    "uvicorn/server.py",
    "api/cli.py",
    "api/serve.py",
    "<module>",
    "concurrent/futures/thread.py",
    "anyio/_backends/_asyncio.py:1113",
)


def _role(frames: list[str]) -> str:
    for marker, role in _ROLES:
        if any(marker in frame for frame in frames):
            return role
    return "other threads / unattributed"


def summarize_profile(path: Path, top: int, *, seconds: int, rate: int) -> dict[str, Any]:
    """Shares of the GIL-holding samples (``py-spy --gil``): where the Python CPU goes.

    ``gil_held_pct`` per process is samples / (seconds x rate): roughly how much of the time
    that process's GIL was held, so near 100 % means the process is bound by its one GIL.
    """
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    per_process: Counter[str] = Counter()
    per_role: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        process = "server"
        if frames[0].startswith("process "):
            process = frames[0].split(":", 1)[0]
            frames = frames[1:]
        frames = [f for f in frames if f]
        if not frames:
            continue
        total += n
        per_process[process] += n
        per_role[_role(frames)] += n
        own[frames[-1]] += n
        for frame in set(frames):
            if not any(marker in frame for marker in _PLUMBING):
                inclusive[frame] += n

    def share(counter: Counter[str]) -> list[list[Any]]:
        return [[f, round(100.0 * c / max(total, 1), 1)] for f, c in counter.most_common(top)]

    return {
        "gil_samples": total,
        "gil_held_pct": {p: round(100.0 * n / (seconds * rate), 1) for p, n in per_process.items()},
        "by_thread_pct": {
            r: round(100.0 * n / max(total, 1), 1) for r, n in per_role.most_common()
        },
        "top_self_pct": share(own),
        "top_inclusive_pct": share(inclusive),
    }
