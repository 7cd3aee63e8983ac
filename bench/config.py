"""Server setups (``--config``): workers, write path, server command, pool, auth."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Config", "parse_config"]


@dataclass(frozen=True)
class Config:
    """One server setup; each runs every scenario against the same database."""

    index: int
    workers: int = 1
    group_commit: bool = True
    server: str = "ledger"  # ledger: `ledger serve`; uvicorn: uvicorn CLI, no access log
    pool_size: int | None = None
    max_overflow: int | None = None
    auth: str = "service"  # service: a stored service key; bootstrap: the bootstrap key
    pre_ping: bool = True  # the store's default; n sets LEDGER_POSTGRES_PRE_PING=n
    fast_io: bool = False  # server=uvicorn only: uvloop + httptools (must be importable)
    project: bool = True  # `ledger project` runs beside the server (n: no projection worker)
    cork: bool = True  # n: LEDGER_CORK_RESPONSES=n, uvicorn's two writes per response

    @property
    def label(self) -> str:
        parts = [f"w{self.workers}", "gc" if self.group_commit else "direct", self.server]
        if self.pool_size is not None:
            parts.append(f"pool{self.pool_size}+{self.max_overflow or 0}")
        if self.auth != "service":
            parts.append(self.auth)
        if not self.pre_ping:
            parts.append("noping")
        if self.fast_io:
            parts.append("uvloop")
        if not self.project:
            parts.append("noproj")
        if not self.cork:
            parts.append("nocork")
        return "-".join(parts)


def parse_config(index: int, spec: str) -> Config:
    """``workers=2,gc=n,server=uvicorn,pool=16,overflow=8,auth=bootstrap,preping=n,fastio=y,cork=n``."""
    values: dict[str, Any] = {}
    for item in filter(None, (p.strip() for p in spec.split(","))):
        name, _, value = item.partition("=")
        if name == "workers":
            values["workers"] = int(value)
        elif name in {"gc", "preping", "fastio", "project", "cork"}:
            field_name = {
                "gc": "group_commit",
                "preping": "pre_ping",
                "fastio": "fast_io",
                "project": "project",
                "cork": "cork",
            }[name]
            values[field_name] = value.lower() in {"y", "yes", "1", "on", "true"}
        elif name == "server" and value in {"ledger", "uvicorn"}:
            values["server"] = value
        elif name == "pool":
            values["pool_size"] = int(value)
        elif name == "overflow":
            values["max_overflow"] = int(value)
        elif name == "auth" and value in {"service", "bootstrap"}:
            values["auth"] = value
        else:
            raise SystemExit(f"bench: bad --config item {item!r}")
    config = Config(index=index, **values)
    if config.fast_io and config.server != "uvicorn":
        raise SystemExit("bench: fastio=y needs server=uvicorn")
    return config
