"""``/v1/journal``, ``/v1/trial-balance`` and ``/v1/wallets/{wallet_id}/usage``.

For now these fold the event log on every call (``ledger.audit``); the read models in
``projections`` take over with the same shapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, cast

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Schema
from litestar.params import QueryParameter
from litestar.response import Stream

from api.auth import AUDIT, READ
from api.exports import CSV_COLUMNS, CSV_MEDIA_TYPE, journal_csv
from api.openapi import BEARER, problems
from api.rendering import render
from api.routes.params import FromTime, PathId, ToTime, parse_time
from api.schemas.audit import JournalOut, TrialBalanceOut, UsageOut
from ledger.audit import journal, trial_balance, usage_series
from ledger.service import CreditLedger

__all__ = ["AUDIT_ROUTES", "AuditController", "UsageController", "wants_csv"]

_JSON = "application/json"
_CSV = "text/csv"


def wants_csv(request: Request[Any, Any, Any]) -> bool:
    """Whether the ``Accept`` header prefers CSV to JSON (JSON when it says nothing)."""
    return request.accept.best_match([_JSON, _CSV], default=_JSON) == _CSV


@dataclass
class _JournalOperation(Operation):
    """The journal's operation: its 200 answer is JSON, or CSV when asked for."""

    def __post_init__(self) -> None:
        answer = (self.responses or {}).get("200")
        if isinstance(answer, OpenAPIResponse) and answer.content is not None:
            columns = ", ".join(CSV_COLUMNS)
            answer.content[_CSV] = OpenAPIMediaType(
                schema=Schema(
                    type=OpenAPIType.STRING,
                    description=f"With `Accept: text/csv`: a header row ({columns}), "
                    "then every matching row after `after` (`limit` does not apply).",
                )
            )


class AuditController(Controller):
    """The double-entry journal and the trial balance (auditors and admins)."""

    path = "/v1"
    tags = ["Audit"]
    guards = [AUDIT]
    security = BEARER

    @get(
        "/journal",
        operation_id="getJournal",
        summary="Read the journal",
        sync_to_thread=True,
        operation_class=_JournalOperation,
        responses=problems(401, 403, 422),
    )
    def get_journal(
        self,
        request: Request[Any, Any, Any],
        ledger: NamedDependency[CreditLedger],
        *,
        wallet_id: Annotated[str | None, QueryParameter(description="Only this wallet.")] = None,
        account: Annotated[str | None, QueryParameter(description="Only this account.")] = None,
        from_: FromTime = None,
        to: ToTime = None,
        after: Annotated[
            int, QueryParameter(ge=0, description="A position: rows of later events only.")
        ] = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    ) -> Response[JournalOut]:
        """Journal rows, two per posting (debit leg, credit leg), in log order.

        ``from``/``to`` filter ``occurred_at`` in ``[from, to)``. A page holds whole events
        and ``next_after`` continues it. With ``Accept: text/csv`` the rows come as a streamed
        CSV export of everything after ``after``: header row first, ``event`` flattened to
        ``event_wallet_id``, ``event_version`` and ``event_type``.
        """
        filters: dict[str, Any] = {
            "wallet_id": wallet_id,
            "account": account,
            "from_": parse_time("from", from_),
            "to": parse_time("to", to),
            "after": after,
        }
        if wants_csv(request):
            # The rows are read page by page while the body is sent (each page in a thread).
            stream = Stream(
                journal_csv(ledger, **filters),
                media_type=CSV_MEDIA_TYPE,
                headers={"Content-Disposition": 'attachment; filename="journal.csv"'},
            )
            return cast("Response[JournalOut]", stream)
        return Response(render(journal(ledger, **filters, limit=limit), JournalOut))

    @get(
        "/trial-balance",
        operation_id="getTrialBalance",
        summary="Read the trial balance",
        sync_to_thread=True,
        responses=problems(401, 403, 422),
    )
    def get_trial_balance(
        self,
        ledger: NamedDependency[CreditLedger],
        as_of: Annotated[
            str | None,
            QueryParameter(
                format="date-time",
                description="Postings dated at or before this time (RFC 3339; default: now).",
            ),
        ] = None,
        unit: Annotated[
            str | None, QueryParameter(description="Only wallets of this unit.")
        ] = None,
    ) -> TrialBalanceOut:
        """Debit and credit totals per account; ``balanced`` is whether they are equal."""
        at = parse_time("as_of", as_of) or ledger.now()
        return render(trial_balance(ledger, as_of=at, unit=unit), TrialBalanceOut)


class UsageController(Controller):
    """What a wallet spent, per time window and subject group."""

    path = "/v1/wallets/{wallet_id:str}/usage"
    tags = ["Usage"]
    guards = [READ]
    security = BEARER

    @get(
        "/",
        operation_id="getWalletUsage",
        summary="Read a wallet's usage",
        sync_to_thread=True,
        responses=problems(401, 403, 404, 422),
    )
    def get_usage(
        self,
        ledger: NamedDependency[CreditLedger],
        wallet_id: PathId,
        *,
        from_: FromTime = None,
        to: ToTime = None,
        window: Annotated[
            Literal["hour", "day", "month"], QueryParameter(description="Window size (UTC).")
        ] = "day",
        group_by: Annotated[
            list[str] | None,
            QueryParameter(
                description="Subject keys to group by (user_id, team_id, agent_id, project_id, "
                "feature, model): comma-separated, repeated, or both."
            ),
        ] = None,
    ) -> UsageOut:
        """Credits debited (debits and hold captures) and how many, per UTC window and group.

        ``from``/``to`` filter the usage time in ``[from, to)``.
        """
        keys = list(dict.fromkeys(k for value in group_by or [] for k in value.split(",") if k))
        series = usage_series(
            ledger,
            wallet_id=wallet_id,
            from_=parse_time("from", from_),
            to=parse_time("to", to),
            window=window,
            group_by=keys,
        )
        return render(series, UsageOut)


AUDIT_ROUTES = [AuditController, UsageController]
