"""Server settings, read once from the environment (``LEDGER_*``)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from projections.alerts.http import Egress

__all__ = ["MIN_BOOTSTRAP_KEY_LENGTH", "Settings"]

MIN_BOOTSTRAP_KEY_LENGTH = 32
"""A bootstrap admin key is a password for everything: refuse ones short enough to guess."""


class Settings(BaseSettings):
    """Everything the API process needs to start; immutable once read.

    Each field is read from ``LEDGER_<NAME>`` (for example ``LEDGER_DATABASE_URL``).
    """

    # hide_input_in_errors: a rejected bootstrap key must not be echoed into startup logs.
    model_config = SettingsConfigDict(
        env_prefix="LEDGER_", frozen=True, extra="ignore", hide_input_in_errors=True
    )

    database_url: str = "sqlite:///var/ledger.sqlite3"
    """Where events live: ``memory://``, ``sqlite:///path`` or ``postgresql://...``."""
    host: str = "127.0.0.1"
    """Interface the server binds to."""
    port: int = Field(default=8000, ge=1, le=65535)
    """TCP port the server listens on."""
    workers: int = Field(default=1, ge=1)
    """Server processes; each opens its own ledger (the store arbitrates between them)."""
    shards: int | None = Field(default=None, ge=1, le=1024)
    """Event stores the wallets are spread over (``ledger.app.shards``). Recorded in the store by
    the first process that is given more than one; later processes read it from there, and
    one given a different count refuses to start. Unset: whatever the store has (1 if new)."""
    internal_url: str | None = None
    """Where the other API processes of a fleet reach this one (``http://host:port``). Set,
    on PostgreSQL: the process takes part in shard leases and forwards wallet commands to
    each shard's owner (docs/decisions/0016-shard-owners.md). Unset: it decides everything
    itself, as a single process does."""
    channel_port: int = Field(default=0, ge=0, le=65535)
    """Port of this process's owner channel (fleet only; decision 0016), on the internal
    URL's host: other processes send it the spending commands of the shards it owns. 0: a
    free port, announced to the others through the lease table."""
    owner_channel: bool = True
    """Serve and announce the owner channel (fleet only). False: the others forward this
    process's spending commands as HTTP, as before the channel (for comparisons)."""
    shard_lease_seconds: float = Field(default=3.0, ge=1.0, le=60.0)
    """How long a shard's lease lasts without renewal (renewed every second): the longest
    a dead owner's shards stay with it when nobody notices it refusing connections."""
    bootstrap_admin_key: SecretStr | None = None
    """An admin API key accepted without being stored, to issue the first real keys."""
    max_body_bytes: int = Field(default=1_048_576, ge=1)
    """Largest request body accepted; larger ones are refused with 413 before parsing."""
    metrics_public: bool = True
    """Serve ``/metrics`` without a key (scrapers usually have none); false: admin or auditor."""
    projections_in_process: bool | None = None
    """Keep the read models current from a thread of each API process. Unset: true for
    ``sqlite://`` and ``memory://`` stores, false for ``postgresql://`` (where a separate
    ``ledger project`` worker does it)."""
    access_log: bool = False
    """Log every request line (uvicorn's access log). Off by default: it costs about a
    quarter of the server's throughput (docs/performance.md); request metrics stay on."""
    cork_responses: bool = True
    """Write each response's headers and body in one ``send`` (:mod:`api.corking`) instead
    of uvicorn's two; off only to measure the difference."""
    projection_wait_seconds: float = Field(default=2.0, ge=0, le=30)
    """How long a read with ``?min_position=`` waits for the read models to reach it before
    answering 503 ``projection_lagging``."""
    projection_step_interval_seconds: float = Field(default=0.05, ge=0, le=5)
    """The least time between two steps of the ``ledger project`` worker when it is not
    behind: one step then carries the events of many commits, so the read models cost far
    fewer statements and transactions per event and take less CPU from the writers, for at
    most this much more lag (decision 0026). 0: a step on every notification."""

    rate_limit_per_second: float = Field(default=2000.0, ge=0)
    """Requests a second each API key may send on average, per API process
    (``api.middleware.rate_limit``); 0 switches rate limiting off."""
    rate_limit_burst: int = Field(default=4000, ge=1)
    """Requests a key may send at once before the rate applies."""

    webhook_proxy: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    """An HTTP proxy every webhook delivery goes through (``http://proxy:3128``). Unset: they
    go straight to their URLs; the environment's ``HTTP(S)_PROXY`` is never used."""
    webhook_allow_link_local: bool = False
    """Allow webhook URLs on link-local addresses (169.254.0.0/16, where cloud metadata
    services answer, and fe80::/10); refused by default."""

    def webhook_egress(self) -> Egress:
        """Where webhook deliveries may go (``projections.alerts_http``)."""
        return Egress(proxy=self.webhook_proxy, allow_link_local=self.webhook_allow_link_local)

    @field_validator("bootstrap_admin_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_BOOTSTRAP_KEY_LENGTH:
            raise ValueError(f"must be at least {MIN_BOOTSTRAP_KEY_LENGTH} characters")
        return value
