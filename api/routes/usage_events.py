"""``/v1/usage-events``: batch ingest of usage, each event recorded exactly once."""

from __future__ import annotations

from litestar import Controller, Response, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK

from api.middleware.auth import SPEND
from api.middleware.metrics import decision
from api.openapi import BEARER, POSITION_HEADERS, problems
from api.rendering import respond
from api.routes.params import IdempotencyKey
from api.schemas.usage_events import UsageEventsIn, UsageEventsOut, shaped_events
from ledger.app.commands import IngestUsage
from ledger.app.service import CreditLedger

__all__ = ["USAGE_EVENT_ROUTES", "UsageEventController"]


class UsageEventController(Controller):
    """Usage events: metered always, billed when they say ``bill: true``."""

    path = "/v1/usage-events"
    tags = ["Usage events"]
    guards = [SPEND]
    security = BEARER

    @post(
        "/",
        operation_id="ingestUsageEvents",
        opt=decision(IngestUsage),
        response_headers=POSITION_HEADERS,
        summary="Record a batch of usage events",
        status_code=HTTP_200_OK,
        sync_to_thread=True,
        responses=problems(401, 403, 422, 503),
    )
    def ingest(
        self,
        ledger: NamedDependency[CreditLedger],
        data: JSONBody[UsageEventsIn],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[UsageEventsOut]:
        """Record up to 1,000 usage events, each once per ``(wallet_id, event_id)``.

        A repeat of an id (recorded before, or earlier in the batch) counts in
        ``duplicates`` and changes nothing, so a batch retried after a timeout is answered
        without double counting. Each bad event is rejected alone (``rejected``, with its
        index and a stable code); the good ones are kept. Events more than 5 minutes in the
        future are rejected (``occurred_at_in_future``); events older than the grace window
        (24 h by default) are kept and counted as ``late``. ``bill: true`` rates the event
        with the wallet's price book and debits it: usage already happened, so it is never
        refused; what the grants cannot cover becomes debt up to the overdraft limit and the
        rest is recorded as uncollected (the answer's ``uncollected`` and
        ``uncollected_events``). Budgets are charged but never refuse. Token quantities
        follow the rating rules: ``input_tokens`` is uncached input only (OpenAI's
        ``prompt_tokens`` minus ``cached_tokens``; Anthropic's ``input_tokens`` as they are),
        ``cached_input_tokens`` the cached input.

        ``Idempotency-Key`` is accepted and not needed: the per-event ids make a retried
        batch safe, and its answer then counts the events as duplicates. More than 1,000
        events → 422 ``validation_error`` naming ``events``, nothing recorded.
        """
        del idempotency_key  # accepted by contract; the event ids deduplicate (see above)
        outcome = ledger.ingest_usage(IngestUsage(events=shaped_events(data.events)))
        return respond(outcome, UsageEventsOut, HTTP_200_OK)


USAGE_EVENT_ROUTES = [UsageEventController]
