"""``POST /v1/batch`` (contract 1.1): up to 1,000 spending operations, one result each.

Every operation goes straight into the ledger's committer, as its single endpoint's command
would: all are queued in order, then awaited together (``api.awaiting.answer_all``), so a
batch of 100 debits costs one HTTP request and, on a quiet server, one committed batch.
Each is decided on its own (a refusal undoes nothing else); operations on one wallet are
decided in the order given. In a fleet, operations on a shard another process owns are
sent to that owner over the owner channel, as a single endpoint's would be (decision 0016).
See docs/decisions/0025-batch-endpoint.md.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, post
from litestar.params import Body
from litestar.status_codes import HTTP_200_OK

from api.awaiting import SPENDING_OPT, Call, answer_all, spending_ledger
from api.forwarding import owners_of
from api.middleware.auth import Principal
from api.middleware.metrics import metrics_of
from api.openapi import BEARER, POSITION_HEADERS, problems
from api.rendering import POSITION_HEADER
from api.routes.params import IdempotencyKey
from api.schemas.batch import (
    OPERATION_TYPES,
    OPERATIONS_SCHEMA,
    BatchIn,
    BatchOut,
    BatchResult,
    CaptureOperation,
    DebitOperation,
    Envelope,
    HoldOperation,
    ReleaseOperation,
    envelopes,
)
from api.spending import CAPTURE, DEBIT, PLACE_HOLD, RELEASE, Spending
from api.validation import check_free_form, decode_strict
from ledger.app.commands import Command, ReleaseHold

__all__ = ["BATCH_ROUTES", "BatchController"]

_SPENDING: dict[str, Spending] = {
    "debit": DEBIT,
    "hold": PLACE_HOLD,
    "capture": CAPTURE,
    "release": RELEASE,
}


def _command(envelope: Envelope, raw: msgspec.Raw) -> Command:
    """The operation's command, built as its single endpoint builds it from its body.

    Raises:
        ValidationFailed: The operation's fields, as its single endpoint would refuse them.
    """
    operation = decode_strict(bytes(raw), OPERATION_TYPES[envelope.op])
    check_free_form(operation, "")  # the metadata limits, as api.validation.check_request
    key = envelope.idempotency_key
    if isinstance(operation, ReleaseOperation):
        return ReleaseHold(
            wallet_id=operation.wallet_id, hold_id=operation.hold_id, idempotency_key=key
        )
    if isinstance(operation, CaptureOperation):
        return operation.to_command(operation.wallet_id, operation.hold_id, key)
    if isinstance(operation, DebitOperation | HoldOperation):
        return operation.to_command(operation.wallet_id, key)
    raise AssertionError(f"no command for {envelope.op!r}")


class BatchController(Controller):
    """Many spending decisions in one request."""

    path = "/v1/batch"
    tags = ["Batch"]
    security = BEARER

    @post(
        "/",
        operation_id="runBatch",
        opt=dict(SPENDING_OPT),
        response_headers=POSITION_HEADERS,
        summary="Decide many spending operations",
        status_code=HTTP_200_OK,
        responses=problems(401, 403, 415, 422),
    )
    async def batch(
        self,
        request: Request[Principal, Any, Any],
        data: Annotated[BatchIn, Body(schema_extra=OPERATIONS_SCHEMA)],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[BatchOut]:
        """Debit, hold, capture and release, up to 1,000 operations in one request.

        Each operation is the envelope (``op``, ``wallet_id``, ``idempotency_key``, and
        ``hold_id`` for ``capture`` and ``release``) plus its single endpoint's body, and is
        answered with exactly what that endpoint would answer: ``status`` and ``body`` (a
        problem document for a refusal), ``"replayed": true`` for a repeated key,
        ``position`` for the ``Ledger-Position`` it recorded. Operations are decided
        independently, those on one wallet in the order given; a retried batch decides
        nothing twice. A malformed batch (not a list, over 1,000 operations, an unknown
        ``op``, a missing key) is refused whole (422), nothing decided.
        ``Ledger-Position`` is the highest position the batch recorded. The request's own
        ``Idempotency-Key`` is accepted and not needed (the operations' keys decide).
        """
        ledger = spending_ledger(request)
        del idempotency_key  # accepted by convention; each operation's key deduplicates
        addressed = envelopes(data)
        calls: list[Call] = []
        for envelope, raw in zip(addressed, data.operations, strict=True):
            spending = _SPENDING[envelope.op]
            try:
                calls.append(spending.queue(ledger, _command(envelope, raw)))
            except Exception as refused:  # answered alone, as its endpoint would answer
                calls.append(_refused(refused))
        owners = owners_of(request.scope, [envelope.wallet_id for envelope in addressed])
        answers = await answer_all(ledger, calls, request.user, owners)
        results = [
            _SPENDING[envelope.op].result(index, answer)
            for index, (envelope, answer) in enumerate(zip(addressed, answers, strict=True))
        ]
        _count(request, addressed, results)
        positions = [r.position for r in results if r.position is not None]
        headers = {POSITION_HEADER: str(max(positions))} if positions else {}
        return Response(BatchOut(results), status_code=HTTP_200_OK, headers=headers)


def _refused(error: Exception) -> Call:
    def call(_: Any) -> Any:
        raise error

    return call


def _count(
    request: Request[Any, Any, Any], addressed: list[Envelope], results: list[BatchResult]
) -> None:
    """One ``ledger_decisions_total`` count per operation, as its single endpoint counts."""
    metrics = metrics_of(request.app.state)
    for envelope, result in zip(addressed, results, strict=True):
        spending = _SPENDING[envelope.op]
        outcome = spending.outcome(result)
        if outcome is not None:
            metrics.observe_decision(spending.operation, outcome)


BATCH_ROUTES = [BatchController]
