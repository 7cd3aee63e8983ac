"""The spending operations' answers, declared once for their single endpoints and the batch.

Each :class:`Spending` names a ledger command, the ``*_later`` method that queues it, and how
its answer is rendered: the response Struct and the success status. A single endpoint
answers with :meth:`Spending.respond` (its status, body and headers; a refusal raises and
becomes a problem document); ``POST /v1/batch`` answers each operation with
:meth:`Spending.result`, the same status and body (a refusal's problem document as the body),
``replayed`` for the ``Idempotent-Replayed`` header and ``position`` for ``Ledger-Position``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from litestar import Response
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from api.awaiting import Queued
from api.errors import to_problem
from api.middleware.metrics import NOT_DECISIONS, operation_name
from api.rendering import render, respond
from api.schemas.batch import BatchResult
from api.schemas.debits import DebitOut
from api.schemas.holds import CaptureOut, PlacedHoldOut, ReleaseOut
from ledger.app.commands import CaptureHold, Command, Debit, PlaceHold, ReleaseHold
from ledger.app.executor import Outcome
from ledger.app.service import CreditLedger

__all__ = ["CAPTURE", "DEBIT", "PLACE_HOLD", "RELEASE", "Spending"]

log = logging.getLogger(__name__)

Later = Callable[..., "Future[Outcome]"]


@dataclass(frozen=True)
class Spending:
    """One spending operation: its command, how it is queued and how it answers."""

    command: type[Command]
    later: Callable[[CreditLedger], Later]
    body_type: type[Any]
    status: int

    @property
    def operation(self) -> str:
        """Its name in ``ledger_decisions_total`` (``debit``, ``capture_hold``)."""
        return operation_name(self.command.__name__)

    def queue(self, ledger: CreditLedger, command: Command) -> Queued:
        """A call for :func:`api.awaiting.answer_all`: ``command`` queued with a fence (or
        sent to its shard's owner)."""
        return Queued(self.later(ledger), command)

    def respond(self, outcome: Outcome) -> Response[Any]:
        """The single endpoint's response."""
        return respond(outcome, self.body_type, self.status)

    def result(self, index: int, answer: Outcome | Exception) -> BatchResult:
        """The batch result of one operation: the single endpoint's status and body."""
        if isinstance(answer, Outcome):
            body = render(answer.body, self.body_type)
            position = None if answer.replayed else answer.position
            return BatchResult(index, self.status, body, answer.replayed, position)
        problem = to_problem(answer)
        if problem.status >= 500 and problem.code == "internal_error":
            log.error("batch operation %d failed", index, exc_info=answer)
        return BatchResult(index, problem.status, problem.body())

    def outcome(self, result: BatchResult) -> str | None:
        """Its ``outcome`` label in ``ledger_decisions_total``; None if not a decision."""
        if result.status < 400:
            return "replayed" if result.replayed else "ok"
        code = str(result.body["code"])
        return None if code in NOT_DECISIONS else code


DEBIT = Spending(Debit, lambda ledger: ledger.debit_later, DebitOut, HTTP_201_CREATED)
PLACE_HOLD = Spending(
    PlaceHold, lambda ledger: ledger.place_hold_later, PlacedHoldOut, HTTP_201_CREATED
)
CAPTURE = Spending(CaptureHold, lambda ledger: ledger.capture_hold_later, CaptureOut, HTTP_200_OK)
RELEASE = Spending(ReleaseHold, lambda ledger: ledger.release_hold_later, ReleaseOut, HTTP_200_OK)
