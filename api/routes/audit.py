"""``/v1/journal``, ``/v1/trial-balance`` and ``/v1/wallets/{wallet_id}/usage``.

Answered from the read models (:mod:`projections.queries`, the same shapes as the log scan
of ``ledger.app.audit``, which stays the reference ``ledger reconcile`` checks them against).
Each answer describes the log up to the position the views have reached; ``?min_position=``
first waits for a position (read-your-writes, see :class:`api.read_models.ReadModels`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, cast

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Schema
from litestar.params import QueryParameter
from litestar.response import Stream

from api.middleware.auth import AUDIT, READ
from api.openapi import BEARER, problems
from api.read_models import ReadModels
from api.rendering import render
from api.routes.params import (
    PLAIN_INTEGER,
    PLAIN_STRING,
    FromTime,
    MinPosition,
    PathId,
    Position,
    ToTime,
    parse_range,
    parse_time,
)
from api.schemas.audit import JournalOut, TrialBalanceOut, UsageOut
from ledger.app.audit import MAX_LEG
from ledger.app.service import CreditLedger
from ledger.domain.state import SUBJECT_KEYS
from ledger.domain.validation import fail
from projections.catalog import BALANCES, JOURNAL, UNCOLLECTED, USAGE
from projections.engine.dialect import hour_start
from projections.export import CSV_COLUMNS, journal_csv, usage_csv
from projections.queries import journal, trial_balance, usage_series

__all__ = ["AUDIT_ROUTES", "HOUR_BOUNDARY", "AuditController", "UsageController", "wants_csv"]

_JSON = "application/json"
_CSV = "text/csv"  # litestar adds "; charset=utf-8" to text media types itself
HOUR_BOUNDARY = "usage is kept per hour: from/to must be on a UTC hour boundary"
UsageFrom = Annotated[
    str | None,
    QueryParameter(
        name="from",
        format="date-time",
        description="Only usage at or after this time (RFC 3339 with an offset), on a UTC "
        "hour boundary: usage is kept per hour.",
        schema_extra=PLAIN_STRING,
    ),
]
UsageTo = Annotated[
    str | None,
    QueryParameter(
        format="date-time",
        description="Only usage before this time (RFC 3339 with an offset), on a UTC hour "
        "boundary: usage is kept per hour; not earlier than `from`.",
        schema_extra=PLAIN_STRING,
    ),
]


def wants_csv(request: Request[Any, Any, Any]) -> bool:
    """Whether the ``Accept`` header prefers CSV to JSON (JSON when it says nothing)."""
    return request.accept.best_match([_JSON, _CSV], default=_JSON) == _CSV


def _offer_csv(operation: Operation, description: str) -> None:
    """Document the CSV form of an operation's 200 answer beside its JSON."""
    answer = (operation.responses or {}).get("200")
    if isinstance(answer, OpenAPIResponse) and answer.content is not None:
        answer.content[_CSV] = OpenAPIMediaType(
            schema=Schema(type=OpenAPIType.STRING, description=description)
        )


@dataclass
class _JournalOperation(Operation):
    """The journal's operation: its 200 answer is JSON, or CSV when asked for."""

    def __post_init__(self) -> None:
        columns = ", ".join(CSV_COLUMNS)
        _offer_csv(
            self,
            f"With `Accept: text/csv`: a header row ({columns}), "
            "then every matching row after `after` (`limit` does not apply).",
        )


@dataclass
class _UsageOperation(Operation):
    """The usage operation: its 200 answer is JSON, or CSV when asked for."""

    def __post_init__(self) -> None:
        _offer_csv(
            self,
            "With `Accept: text/csv`: a header row (window_start, each group_by key, "
            "debited, count), then one row per window and group, as in `series`.",
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
        responses=problems(401, 403, 422, 503),
    )
    def get_journal(
        self,
        request: Request[Any, Any, Any],
        read_models: NamedDependency[ReadModels],
        *,
        wallet_id: Annotated[str | None, QueryParameter(description="Only this wallet.")] = None,
        account: Annotated[str | None, QueryParameter(description="Only this account.")] = None,
        from_: FromTime = None,
        to: ToTime = None,
        after: Position = 0,
        after_leg: Annotated[
            int | None,
            QueryParameter(
                ge=0,
                le=MAX_LEG,
                description="With `after`: continue inside that event, after this leg (the "
                "`next_after_leg` of a page that ended inside an event).",
                schema_extra=PLAIN_INTEGER,
            ),
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
        min_position: MinPosition = 0,
    ) -> Response[JournalOut]:
        """Journal rows, two per posting (debit leg, credit leg), in log order.

        ``from``/``to`` filter ``occurred_at`` in ``[from, to)`` (``from`` later than ``to``:
        422). A page holds at most ``limit`` rows: whole events while they fit, so it may
        hold fewer; only an event with more legs than ``limit`` is split across pages.
        Continue with ``after=next_after``, plus ``after_leg=next_after_leg`` when that is
        not null (the page ended inside an event). With ``Accept: text/csv`` the rows come
        as a streamed CSV export of everything after the cursor: header row first, ``event``
        flattened to ``event_wallet_id``, ``event_version`` and ``event_type``.

        Answered from the journal read model, up to the position it has reached; pass
        ``min_position`` (a command's ``Ledger-Position``) to include that command's rows.
        """
        from_time, to_time = parse_range(from_, to)
        filters: dict[str, Any] = {
            "wallet_id": wallet_id,
            "account": account,
            "from_": from_time,
            "to": to_time,
            "after": after,
            "after_leg": after_leg,
        }
        read_models.wait_for(min_position, [JOURNAL.name])
        views = read_models.views
        if wants_csv(request):
            # The rows are read page by page while the body is sent (each page in a thread).
            stream = Stream(
                journal_csv(views, **filters),
                media_type=_CSV,
                headers={"Content-Disposition": 'attachment; filename="journal.csv"'},
            )
            return cast("Response[JournalOut]", stream)
        return Response(render(journal(views, **filters, limit=limit), JournalOut))

    @get(
        "/trial-balance",
        operation_id="getTrialBalance",
        summary="Read the trial balance",
        sync_to_thread=True,
        responses=problems(401, 403, 422, 503),
    )
    def get_trial_balance(
        self,
        ledger: NamedDependency[CreditLedger],
        read_models: NamedDependency[ReadModels],
        as_of: Annotated[
            str | None,
            QueryParameter(
                format="date-time",
                description="Postings dated at or before this time (RFC 3339; default: now).",
                schema_extra=PLAIN_STRING,
            ),
        ] = None,
        unit: Annotated[
            str | None, QueryParameter(description="Only wallets of this unit.")
        ] = None,
        min_position: MinPosition = 0,
    ) -> TrialBalanceOut:
        """Debit and credit totals per account; ``balanced`` is whether they are equal.

        Answered from the balances and journal read models, up to the position they have
        reached; pass ``min_position`` (a command's ``Ledger-Position``) to include it.
        """
        at = parse_time("as_of", as_of) or ledger.now()
        read_models.wait_for(min_position, [BALANCES.name, JOURNAL.name])
        return render(trial_balance(read_models.views, as_of=at, unit=unit), TrialBalanceOut)


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
        operation_class=_UsageOperation,
        responses=problems(401, 403, 404, 422, 503),
    )
    def get_usage(
        self,
        request: Request[Any, Any, Any],
        ledger: NamedDependency[CreditLedger],
        read_models: NamedDependency[ReadModels],
        wallet_id: PathId,
        *,
        from_: UsageFrom = None,
        to: UsageTo = None,
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
        min_position: MinPosition = 0,
    ) -> Response[UsageOut]:
        """Credits debited (debits and hold captures) and how many, per UTC window and group,
        and the credits of billed usage that could not be collected (``uncollected``: beyond
        the wallet's overdraft; recorded, never charged).

        ``from``/``to`` filter the usage time in ``[from, to)``. Usage is kept per UTC hour,
        so both must be on an hour boundary (``2026-01-01T05:00:00Z``, or ``06:30+01:30``);
        any other time is refused with 422 ``validation_error`` naming the parameter, as
        rounding it would change the answer. Answered from the usage read model, up to the
        position it has reached; pass ``min_position`` (a ``Ledger-Position``) to include it.
        With ``Accept: text/csv`` the same series comes as CSV: ``window_start``, each
        ``group_by`` key (empty where the subject lacked it), ``debited``, ``count``.
        """
        keys = list(dict.fromkeys(k for value in group_by or [] for k in value.split(",") if k))
        for key in keys:
            if key not in SUBJECT_KEYS:
                raise fail("group_by", f"unknown key {key!r}")
        from_time, to_time = parse_range(from_, to)
        bounds = {"from": from_time, "to": to_time}
        for name, bound in bounds.items():
            if bound is not None and bound != hour_start(bound):
                raise fail(name, HOUR_BOUNDARY)
        ledger.load_wallet(wallet_id)  # 404 wallet_not_found, which the views cannot tell
        read_models.wait_for(min_position, [USAGE.name, UNCOLLECTED.name])
        series = usage_series(
            read_models.views,
            wallet_id=wallet_id,
            from_=bounds["from"],
            to=bounds["to"],
            window=window,
            group_by=keys,
        )
        if wants_csv(request):
            text = usage_csv(series["series"], keys)
            return cast("Response[UsageOut]", Response(text, media_type=_CSV))
        return Response(render(series, UsageOut))


AUDIT_ROUTES = [AuditController, UsageController]
