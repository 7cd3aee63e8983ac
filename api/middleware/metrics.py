"""Prometheus metrics of one app: HTTP traffic, ledger decisions and contention retries.

Each app owns a ``CollectorRegistry`` (:class:`Metrics`), so the many apps a test run builds
never clash over metric names in prometheus-client's global registry. The names are listed in
``docs/decisions/0008-prometheus-client.md``:

* ``ledger_http_requests_total{method, route, status}`` and
  ``ledger_http_request_duration_seconds{method, route, status}`` (a histogram), recorded by
  :class:`MetricsMiddleware`, the outermost middleware. ``route`` is the route's template
  (``/v1/wallets/{wallet_id}/debits``), never the raw path, so ids cannot explode the label
  set; requests no route matches (litestar answers those before any middleware) are not counted.
* ``ledger_decisions_total{operation, outcome}``: one per answered command of a route marked
  with :func:`decision`; ``outcome`` is ``ok``, ``replayed`` (an idempotent repeat) or the
  problem's ``code`` (``insufficient_credits``, ``validation_error``, ...). Refusals of the
  key itself (``unauthenticated``, ``forbidden``) are not decisions and are not counted.
* ``ledger_contention_retries_total{operation}``: each time a command's save collided with
  another writer and was decided again, fed by the ledger's ``on_conflict`` hook.

``operation`` is the ledger command in snake_case (``debit``, ``capture_hold``), the same in
both ledger metrics.

* ``process_*`` and ``python_*``: prometheus-client's process, platform and garbage-collector
  collectors. With several workers (multiprocess mode, :mod:`api.metrics_multiprocess`) a
  scrape sums every worker's ``ledger_*`` samples and shows ``process_*`` per worker (``pid``).

* ``ledger_projection_position{projection}``, ``ledger_projection_lag_events{projection}`` and
  ``ledger_projection_lag_seconds{projection}``: gauges read from the read models' status at
  scrape time (:class:`ProjectionCollector`), so they are current whichever process projects.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, cast

import msgspec
from litestar.datastructures import State
from litestar.enums import ScopeType
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from api import metrics_multiprocess as multiprocess
from api.errors import PROBLEM_MEDIA_TYPE, to_problem
from api.rendering import REPLAYED_HEADER

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "DECISION",
    "EXPOSITION_MEDIA_TYPE",
    "METRICS_KEY",
    "NOT_DECISIONS",
    "Metrics",
    "MetricsMiddleware",
    "ProjectionCollector",
    "decision",
    "metrics_of",
    "operation_name",
]

# The ``*_created`` series (when each label set first appeared) double the series count and
# nothing here reads them. prometheus-client keeps this switch per process.
disable_created_metrics()  # type: ignore[no-untyped-call]

METRICS_KEY = "metrics"
DECISION = "decision"
"""Route ``opt`` key naming the ledger operation a route decides (see :func:`decision`)."""
EXPOSITION_MEDIA_TYPE = CONTENT_TYPE_LATEST.split("; charset=")[0]
"""The text format's media type; litestar appends ``; charset=utf-8`` to ``text/*`` itself."""
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
NOT_DECISIONS = frozenset({"unauthenticated", "forbidden"})
"""Problem codes that refuse the caller's key, not the command: not counted as decisions."""
_MAX_PROBLEM_BYTES = 65_536
_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


log = logging.getLogger(__name__)


def operation_name(command: str) -> str:
    """A command class name in snake_case: ``CaptureHold`` -> ``capture_hold``."""
    return _CAMEL_HUMP.sub("_", command).lower()


def decision(command: type) -> dict[str, str]:
    """Route ``opt`` marking a route that runs the ledger command ``command`` (a class)."""
    return {DECISION: operation_name(command.__name__)}


class ProjectionCollector(Collector):
    """Projection gauges computed when scraped, from ``source`` (the read models' status).

    Without a source (the app is not started) or when the status cannot be read, the
    gauges have no samples; the scrape itself never fails.
    """

    def __init__(self) -> None:
        self.source: Callable[[], list[dict[str, Any]]] | None = None

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        labels = ["projection"]
        return (
            GaugeMetricFamily(
                "ledger_projection_position",
                "Last ledger position (notification id) the live read model has applied.",
                labels=labels,
            ),
            GaugeMetricFamily(
                "ledger_projection_lag_events",
                "Ledger head minus the read model's position (0 when caught up).",
                labels=labels,
            ),
            GaugeMetricFamily(
                "ledger_projection_lag_seconds",
                "Age of the oldest event the read model has not applied yet (0 when caught up).",
                labels=labels,
            ),
        )

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield from self._families()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        position, lag, lag_seconds = self._families()
        entries: list[dict[str, Any]] = []
        if self.source is not None:
            try:
                entries = self.source()
            except Exception:  # a scrape must answer even when the views do not
                log.warning("projection status is not available for metrics", exc_info=True)
        for entry in entries:
            name = [str(entry["name"])]
            position.add_metric(name, float(entry["position"]))
            lag.add_metric(name, float(entry["lag"]))
            lag_seconds.add_metric(name, float(entry.get("lag_seconds") or 0.0))
        yield from (position, lag, lag_seconds)


class Metrics:
    """The app's metrics, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        # Labelled children by label values: ``labels(...)`` costs a lock and a tuple per call.
        self._request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._decision_children: dict[tuple[str, str], Any] = {}
        labels = ["method", "route", "status"]
        self.http_requests = Counter(
            "ledger_http_requests_total",
            "HTTP requests answered, by route template, method and status.",
            labels,
            registry=self.registry,
        )
        self.http_duration = Histogram(
            "ledger_http_request_duration_seconds",
            "Time from receiving a request to sending the last byte of its answer.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.decisions = Counter(
            "ledger_decisions_total",
            "Ledger commands answered, by operation and outcome (ok, replayed or error code).",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self.contention_retries = Counter(
            "ledger_contention_retries_total",
            "Saves that collided with another writer and were decided again, by operation.",
            ["operation"],
            registry=self.registry,
        )
        self.projections = ProjectionCollector()
        self.registry.register(self.projections)
        if multiprocess.enabled():
            multiprocess.announce_worker()  # its process_* series, see exposition()
        else:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
            GCCollector(registry=self.registry)

    def on_conflict(self, command: str) -> None:
        """The ledger's ``on_conflict`` hook: count one contention retry of ``command``."""
        self.contention_retries.labels(operation=operation_name(command)).inc()

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request and its latency."""
        key = (method, route, status)
        children = self._request_children.get(key)
        if children is None:
            labels = {"method": method, "route": route, "status": str(status)}
            children = (self.http_requests.labels(**labels), self.http_duration.labels(**labels))
            _remember(self._request_children, key, children)
        children[0].inc()
        children[1].observe(seconds)

    def observe_decision(self, operation: str, outcome: str) -> None:
        """Count one answered command."""
        key = (operation, outcome)
        child = self._decision_children.get(key)
        if child is None:
            child = self.decisions.labels(operation=operation, outcome=outcome)
            _remember(self._decision_children, key, child)
        child.inc()

    def exposition(self) -> bytes:
        """Everything in the registry, in the Prometheus text format; with several workers,
        every worker's samples (this process's registry holds its own share only)."""
        if multiprocess.enabled():
            return generate_latest(multiprocess.multiprocess_registry(self.projections))
        return generate_latest(self.registry)


_MAX_CHILDREN = 4096
"""Label sets remembered (a method is whatever a client sends: keep the memory bounded)."""


def _remember(children: dict[Any, Any], key: Any, child: Any) -> None:
    if len(children) < _MAX_CHILDREN:
        children[key] = child


def metrics_of(state: State) -> Metrics:
    """The metrics of the app whose state this is."""
    return cast("Metrics", state[METRICS_KEY])


class _Answer:
    """What the middleware saw of a response on its way out."""

    __slots__ = ("code", "problem_body", "replayed", "status")

    def __init__(self) -> None:
        self.status: int | None = None
        self.replayed = False
        self.code: str | None = None
        self.problem_body: bytearray | None = None

    def see(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            headers = {k.decode("latin-1").lower(): v for k, v in message.get("headers", [])}
            self.replayed = headers.get(REPLAYED_HEADER.lower()) == b"true"
            media_type = headers.get("content-type", b"").decode("latin-1")
            if media_type.startswith(PROBLEM_MEDIA_TYPE):
                self.problem_body = bytearray()
        elif (
            message["type"] == "http.response.body"
            and self.problem_body is not None
            and len(self.problem_body) < _MAX_PROBLEM_BYTES
        ):
            self.problem_body += message.get("body", b"")

    def outcome(self) -> str:
        """``ok``, ``replayed`` or the problem's code."""
        status = self.status or 500
        if status < 400:
            return "replayed" if self.replayed else "ok"
        if self.code is None and self.problem_body is not None:
            try:
                body: Any = msgspec.json.decode(bytes(self.problem_body))
                self.code = str(body["code"])
            except (msgspec.DecodeError, KeyError, TypeError):
                self.code = None
        return self.code or f"http_{status}"


class MetricsMiddleware:
    """ASGI middleware counting every answered request; put it outermost.

    Exceptions raised by inner middleware (authentication) reach it before litestar's outer
    exception handler renders them; they are counted with the status that handler will answer.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        metrics = metrics_of(scope["app"].state)
        answer = _Answer()
        started = time.perf_counter()

        async def watched_send(message: Message) -> None:
            answer.see(message)
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except Exception as exc:
            problem = to_problem(exc)
            answer.status = answer.status or problem.status
            answer.code = problem.code
            raise
        finally:
            status = answer.status or 500
            route = scope.get("path_template") or "unmatched"
            metrics.observe_request(scope["method"], route, status, time.perf_counter() - started)
            operation = scope["route_handler"].opt.get(DECISION)
            if operation is not None:
                outcome = answer.outcome()
                if outcome not in NOT_DECISIONS:
                    metrics.observe_decision(str(operation), outcome)
