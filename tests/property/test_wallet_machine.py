"""A stateful test: the real application beside a deliberately simple model of one wallet.

``WalletMachine`` drives a :class:`~ledger.app.service.CreditLedger` (in-memory store, a
``FakeClock``) with random grants, debits, holds (place, capture partial/full/overage,
release, reuse of an id), billed usage events (ingest: never refused; debt, then
uncollected), refunds, voids, budgets (set/remove, hard/soft, day/month/total,
two time zones), allowances (set/change/remove, day/week/month/year, capped, uncapped or no
rollover, starts and ends before or after now), clock moves (some landing exactly on an
expiry, a period boundary or an allowance's next period) and sweeps. Before each command
the ``Model`` predicts success or the exact error code (plus the error's contract details),
and the amounts; the rule asserts both agree.

The model is plain data written from design.md and docs/decisions (0006 how budgets count,
0007 debt is settled by the next grant at once, and by credits coming back to grants; 0018
allowances, with their model in ``tests/property/allowance_model.py``), not from the
ledger's code: its own consumption order (``model_before``), refunds as a slice of the
debit's "tape", and budgets counted from a list of spends (``Model.spent``) instead of a
running counter. After every step the invariants fold every posting of the wallet's events
and check double entry, conservation, per-account balances, non-negativity and model
agreement.

Bugs this machine found in ``ledger/`` were fixed; each keeps a regression test at the end.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from ledger.app.commands import (
    CaptureHold,
    Debit,
    GrantCredits,
    OpenWallet,
    PlaceHold,
    PutPriceBook,
    Refund,
    ReleaseHold,
    RemoveAllowance,
    RemoveBudget,
    SetAllowance,
    SetBudget,
    VoidGrant,
)
from ledger.app.executor import Outcome
from ledger.app.service import CreditLedger
from ledger.domain.errors import LedgerError
from ledger.domain.ids import receipt_id, wallet_uuid
from ledger.domain.wallet import Wallet
from tests.property.allowance_model import (
    MAllowance,
    allowance_grant_id,
    boundary_at_or_after,
    carry,
    next_boundary,
    start_of,
)
from tests.support.builders import T0, FakeClock, make_ledger

R = TypeVar("R")

WALLET = "w"
UNIT = "credits"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_HOLD = timedelta(days=7)
DEFAULT_HOLD = timedelta(minutes=15)

# A small universe so that scopes and subjects meet often.
SUBJECTS: list[dict[str, str]] = [
    {},
    {"user_id": "alice"},
    {"user_id": "bob"},
    {"user_id": "alice", "model": "m1"},
    {"user_id": "bob", "team_id": "t1"},
]
SCOPES: list[dict[str, str]] = [
    {},
    {"user_id": "alice"},
    {"user_id": "bob"},
    {"model": "m1"},
    {"team_id": "t1"},
]
BUDGET_IDS = ["b1", "b2", "b3"]
# The model's period arithmetic (local midnight, the 1st) is only right for zones without DST;
# DST zones are covered by tests/property/test_periods_properties.py.
TIMEZONES = ["UTC", "Asia/Kolkata"]
USAGE_MODEL = "m"
USAGE_RATE = {"model": USAGE_MODEL, "input_per_million": 1_000_000, "output_per_million": 0}
CATEGORIES = ["paid", "promotional", "trial", "refund", "rollover"]
ALLOWANCE_IDS = ["a1", "a2"]
ROLLOVERS: list[dict[str, int | None] | None] = [None, {"max_amount": 50}, {"max_amount": None}]


# -- the model ------------------------------------------------------------------------------


class Refused(Exception):
    """The model predicts the command is refused with ``code`` (and these error details)."""

    def __init__(self, code: str, **details: Any) -> None:
        super().__init__(code)
        self.code = code
        self.details = details


@dataclass
class MGrant:
    grant_id: str
    created: int
    category: str
    priority: int
    cost_basis: int | None
    amount: int
    effective_at: datetime
    expires_at: datetime | None
    remaining: int
    held: int = 0
    debt_settled: int = 0
    expired: bool = False
    voided: bool = False

    def ended(self, at: datetime) -> bool:
        """Voided, or expired (expiry is exclusive: a grant has ended *at* expires_at)."""
        return (
            self.voided or self.expired or (self.expires_at is not None and at >= self.expires_at)
        )

    def active(self, at: datetime) -> bool:
        return self.effective_at <= at and not self.ended(at)

    def free(self) -> bool:
        return self.category in {"promotional", "trial"} or self.cost_basis == 0

    def status(self, at: datetime) -> str:
        if self.voided:
            return "voided"
        if self.ended(at):
            return "expired"
        if at < self.effective_at:
            return "pending"
        if self.remaining == 0 and self.held == 0:
            return "depleted"
        return "active"


def model_before(a: MGrant, b: MGrant) -> int:
    """Policy v1 from design.md, rule by rule (negative: ``a`` is consumed first)."""
    never = datetime.max.replace(tzinfo=UTC)
    rules: list[tuple[Any, Any]] = [
        (a.priority, b.priority),  # 1. lower priority first (0 is most urgent)
        (a.expires_at or never, b.expires_at or never),  # 2. earlier expiry, never last
        (not a.free(), not b.free()),  # 3. promotional/trial/zero cost before paid
        (a.effective_at, b.effective_at),  # 4. earlier effective_at,
        (a.created, b.created),  # then earlier creation,
        (a.grant_id, b.grant_id),  # then grant_id
    ]
    for mine, theirs in rules:
        if mine != theirs:
            return -1 if mine < theirs else 1
    return 0


@dataclass
class MHold:
    amount: int
    pieces: list[tuple[str, int]]  # (grant_id, amount) in the order they were reserved
    subject: dict[str, str]
    expires_at: datetime


@dataclass
class MSpend:
    """One charge against budgets: a debit, or a capture (its whole captured amount)."""

    at: datetime
    subject: dict[str, str]
    amount: int
    refunded: int = 0


@dataclass
class MDebit:
    amount: int
    pieces: list[tuple[str, int]]
    spend: MSpend


@dataclass
class MBudget:
    scope: dict[str, str]
    limit: int
    period: str
    timezone: str
    mode: str


def matches(scope: dict[str, str], subject: dict[str, str]) -> bool:
    return all(subject.get(key) == value for key, value in scope.items())


def period_start(budget: MBudget, at: datetime) -> datetime:
    """Calendar periods in the budget's zone: local midnight, or the 1st of the month."""
    if budget.period == "total":
        return EPOCH
    local = at.astimezone(ZoneInfo(budget.timezone))
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if budget.period == "month":
        start = start.replace(day=1)
    return start.astimezone(UTC)


@dataclass
class Model:
    """What the wallet should hold, as plain data; ``version`` counts recorded events."""

    overdraft_limit: int
    grants: dict[str, MGrant] = field(default_factory=dict)
    created: int = 0
    holds: dict[str, MHold] = field(default_factory=dict)  # open holds
    hold_status: dict[str, str] = field(default_factory=dict)  # every hold ever placed
    budgets: dict[str, MBudget] = field(default_factory=dict)
    spends: list[MSpend] = field(default_factory=list)
    debits: dict[str, MDebit] = field(default_factory=dict)
    allowances: dict[str, MAllowance] = field(default_factory=dict)
    debt: int = 0
    uncollected: int = 0
    issued: dict[str, int] = field(default_factory=dict)
    consumed: int = 0
    expired: int = 0
    voided: int = 0
    version: int = 1  # WalletOpened

    # -- helpers ---------------------------------------------------------------------------

    def record(self) -> None:
        self.version += 1

    def destination(self, grant_id: str, at: datetime) -> str:
        """Credits returning to a grant go back to it, or to breakage once it has ended."""
        grant = self.grants[grant_id]
        if grant.voided:
            return "voided"
        if grant.ended(at):
            return "expired"
        return "grant"

    def settle_returned(self, returned: list[dict[str, Any]]) -> None:
        """Credits that came back to grants pay debt first, one settlement per grant (0007)."""
        per_grant: dict[str, int] = {}
        for piece in returned:
            if piece["to"] == "grant":
                per_grant[piece["grant_id"]] = per_grant.get(piece["grant_id"], 0) + piece["amount"]
        for grant_id, amount in per_grant.items():
            settle = min(self.debt, amount)
            if settle:
                grant = self.grants[grant_id]
                grant.remaining -= settle
                grant.debt_settled += settle
                self.debt -= settle
                self.record()

    def give_back(self, grant_id: str, amount: int, at: datetime) -> str:
        """Credits back to a grant, or to breakage once it has ended (settling is separate)."""
        where = self.destination(grant_id, at)
        if where == "grant":
            self.grants[grant_id].remaining += amount
        elif where == "expired":
            self.expired += amount
        else:
            self.voided += amount
        return where

    def release(self, pieces: list[tuple[str, int]], at: datetime) -> list[dict[str, Any]]:
        released = []
        for grant_id, amount in pieces:
            self.grants[grant_id].held -= amount
            to = self.give_back(grant_id, amount, at)
            released.append({"grant_id": grant_id, "amount": amount, "to": to})
        return released

    def advance(self, at: datetime) -> int:
        """Record everything due by ``at`` in time order; count the events. At one instant:
        hold expiries, then grant expiries (an allowance's latest period grant first rolls
        over), then new allowance periods; ties by id (decision 0018)."""
        before = self.version
        while (item := self.next_due(at)) is not None:
            when, kind, object_id = item
            if kind == 0:
                released = self.release(self.holds.pop(object_id).pieces, when)
                self.hold_status[object_id] = "expired"
                self.record()
                self.settle_returned(released)
            elif kind == 1:
                self.roll_over(object_id, when)
                grant = self.grants[object_id]
                self.expired += grant.remaining
                grant.remaining = 0
                grant.expired = True
                self.record()
            else:
                self.grant_period(object_id)
        return self.version - before

    def next_due(self, at: datetime) -> tuple[datetime, int, str] | None:
        due = [(h.expires_at, 0, hid) for hid, h in self.holds.items() if h.expires_at <= at]
        due += [
            (g.expires_at, 1, gid)
            for gid, g in self.grants.items()
            if g.expires_at is not None and g.expires_at <= at and not (g.expired or g.voided)
        ]
        due += [
            (a.next_start, 2, aid)
            for aid, a in self.allowances.items()
            if a.next_start is not None and a.next_start <= at
        ]
        return min(due, default=None)

    def add_grant(self, grant: MGrant) -> None:
        """A new grant, recorded; it pays debt first, at once (decision 0007)."""
        self.created += 1
        grant.created = self.created
        self.grants[grant.grant_id] = grant
        self.record()
        settle = min(self.debt, grant.remaining)
        if settle:
            grant.remaining -= settle
            grant.debt_settled += settle
            self.debt -= settle
            self.record()

    def grant_period(self, allowance_id: str) -> None:
        """The allowance's due period: ``amount`` from the period start to its end."""
        allowance = self.allowances[allowance_id]
        start = allowance.next_start
        assert start is not None
        end = next_boundary(allowance.period, allowance.timezone, start)
        period_grant = allowance_grant_id(allowance_id, start)
        self.issued[allowance.category] = self.issued.get(allowance.category, 0) + allowance.amount
        self.add_grant(
            MGrant(
                grant_id=period_grant,
                created=0,
                category=allowance.category,
                priority=allowance.priority,
                cost_basis=None,
                amount=allowance.amount,
                effective_at=start,
                expires_at=end,
                remaining=allowance.amount,
            )
        )
        allowance.last_grant, allowance.last_rollover = period_grant, allowance.rollover
        event("allowance: period granted")
        ends_at = allowance.ends_at
        allowance.next_start = None if ends_at is not None and end >= ends_at else end

    def roll_over(self, expiring: str, when: datetime) -> None:
        """The latest period grant of an allowance that goes on straight into its next
        period carries what is left, up to the cap it was granted with, into ``rollover``
        credits (free if it was free) lasting to the end of that period."""
        owner = next(
            (
                (allowance_id, allowance)
                for allowance_id, allowance in self.allowances.items()
                if allowance.last_grant == expiring and allowance.next_start == when
            ),
            None,
        )
        if owner is None:
            return
        allowance_id, allowance = owner
        source = self.grants[expiring]
        amount = carry(source.remaining, allowance.last_rollover)
        if not amount:
            return
        event("allowance: rolled over")
        source.remaining -= amount
        self.add_grant(
            MGrant(
                grant_id=allowance_grant_id(allowance_id, when, rollover=True),
                created=0,
                category="rollover",
                priority=allowance.priority,
                cost_basis=0 if source.free() else None,
                amount=amount,
                effective_at=when,
                expires_at=next_boundary(allowance.period, allowance.timezone, when),
                remaining=amount,
            )
        )

    def available(self, at: datetime) -> int:
        return sum(g.remaining for g in self.grants.values() if g.active(at)) - self.debt

    def allocate(self, amount: int, at: datetime) -> tuple[list[tuple[str, int]], int]:
        usable = [g for g in self.grants.values() if g.active(at) and g.remaining > 0]
        pieces, left = [], amount
        for grant in sorted(usable, key=functools.cmp_to_key(model_before)):
            if left == 0:
                break
            take = min(left, grant.remaining)
            pieces.append((grant.grant_id, take))
            left -= take
        return pieces, left

    def spent(self, budget: MBudget, at: datetime) -> int:
        """Spends in the current period matching the scope, net of refunds, plus open holds."""
        start = period_start(budget, at)
        charged = sum(
            s.amount - s.refunded
            for s in self.spends
            if s.at >= start and matches(budget.scope, s.subject)
        )
        held = sum(
            h.amount
            for h in self.holds.values()
            if at < h.expires_at and matches(budget.scope, h.subject)
        )
        return charged + held

    def check_budgets(
        self, subject: dict[str, str], amount: int, at: datetime
    ) -> list[dict[str, Any]]:
        """Hard budgets refuse (first by id), soft ones warn; a zero amount never refuses."""
        warnings = []
        for budget_id in sorted(self.budgets):
            budget = self.budgets[budget_id]
            if not matches(budget.scope, subject):
                continue
            if amount and self.spent(budget, at) + amount > budget.limit:
                if budget.mode == "hard":
                    raise Refused("budget_exceeded", budget_id=budget_id)
                warnings.append({"code": "soft_budget_exceeded", "budget_id": budget_id})
        return warnings

    # -- commands: each raises Refused or applies and returns what the ledger should say ---

    def grant(
        self,
        *,
        grant_id: str,
        amount: int,
        category: str,
        priority: int,
        cost_basis: int | None,
        effective_at: datetime,
        expires_at: datetime | None,
        at: datetime,
    ) -> MGrant:
        if expires_at is not None and expires_at <= effective_at:
            raise Refused("validation_error")
        self.advance(at)
        if expires_at is not None and expires_at <= at:
            raise Refused("validation_error")
        if grant_id in self.grants:
            raise Refused("grant_exists")
        self.created += 1
        grant = MGrant(
            grant_id=grant_id,
            created=self.created,
            category=category,
            priority=priority,
            cost_basis=cost_basis,
            amount=amount,
            effective_at=effective_at,
            expires_at=expires_at,
            remaining=amount,
        )
        self.grants[grant_id] = grant
        self.issued[category] = self.issued.get(category, 0) + amount
        self.record()
        # the next grant first settles debt, at once, even if effective later (decision 0007)
        settle = min(self.debt, amount)
        if settle:
            grant.remaining -= settle
            grant.debt_settled += settle
            self.debt -= settle
            self.record()
        return grant

    def void_grant(self, grant_id: str, at: datetime) -> None:
        self.advance(at)
        grant = self.grants.get(grant_id)
        if grant is None:
            raise Refused("grant_not_found")
        if grant.status(at) in {"voided", "expired"}:
            raise Refused("grant_not_voidable", status=grant.status(at))
        self.voided += grant.remaining
        grant.remaining = 0
        grant.voided = True
        self.record()

    def debit(
        self, amount: int, subject: dict[str, str], at: datetime
    ) -> tuple[MDebit, list[dict[str, Any]]]:
        self.advance(at)
        warnings = self.check_budgets(subject, amount, at)
        available = self.available(at)
        if amount > available:
            raise Refused("insufficient_credits", available=available, requested=amount)
        pieces, shortfall = self.allocate(amount, at)
        assert shortfall == 0
        for grant_id, take in pieces:
            self.grants[grant_id].remaining -= take
        self.consumed += amount
        spend = MSpend(at=at, subject=dict(subject), amount=amount)
        self.spends.append(spend)
        self.record()
        return MDebit(amount, pieces, spend), warnings

    def bill_usage(self, amount: int, subject: dict[str, str], at: datetime) -> MDebit | None:
        """A billed usage event: never refused; grants, then debt up to the overdraft limit,
        the rest uncollected (not posted). Refundable: only what grants paid. None when
        nothing could be billed (then the expiries it noticed and UsageUncollected)."""
        self.advance(at)
        pieces, shortfall = self.allocate(amount, at)
        debt = min(shortfall, max(0, self.overdraft_limit - self.debt))
        billed = amount - shortfall + debt
        self.uncollected += amount - billed
        if billed == 0:
            self.record()  # UsageUncollected
            return None
        for grant_id, take in pieces:
            self.grants[grant_id].remaining -= take
        self.consumed += billed
        spend = MSpend(at=at, subject=dict(subject), amount=billed)
        self.spends.append(spend)
        self.record()  # CreditsDebited
        if debt:
            self.debt += debt
            self.record()  # DebtIncurred
        return MDebit(amount - shortfall, pieces, spend)

    def refund(self, debit_id: str, amount: int | None, at: datetime) -> list[dict[str, Any]]:
        self.advance(at)
        debit = self.debits.get(debit_id)
        if debit is None:
            raise Refused("debit_not_found")
        refundable = debit.amount - debit.spend.refunded
        requested = refundable if amount is None else amount
        if requested > refundable or requested == 0:
            raise Refused("refund_exceeds_debit", refundable=refundable, requested=requested)
        # Lay the debit's pieces end to end; refunds take from the end (last consumed first),
        # so this refund is the window just before what earlier refunds took.
        high = refundable
        low = high - requested
        pieces, position = [], 0
        for grant_id, take in debit.pieces:
            pieces.append((grant_id, position, position + take))
            position += take
        returned = []
        for grant_id, start, end in reversed(pieces):
            overlap = min(end, high) - max(start, low)
            if overlap > 0:
                to = self.give_back(grant_id, overlap, at)
                returned.append({"grant_id": grant_id, "amount": overlap, "to": to})
        self.consumed -= requested
        debit.spend.refunded += requested
        self.record()
        self.settle_returned(returned)
        return returned

    def place_hold(
        self,
        hold_id: str,
        amount: int,
        subject: dict[str, str],
        expires_at: datetime,
        at: datetime,
        *,
        check_id: bool = True,
    ) -> tuple[list[tuple[str, int]], list[dict[str, Any]]]:
        self.advance(at)
        if not at < expires_at <= at + MAX_HOLD:
            raise Refused("validation_error")
        if check_id and hold_id in self.hold_status:  # hold ids are never reused
            raise Refused("hold_exists")
        warnings = self.check_budgets(subject, amount, at)
        available = self.available(at)
        if amount > available:
            raise Refused("insufficient_credits", available=available, requested=amount)
        pieces, _ = self.allocate(amount, at)
        for grant_id, take in pieces:
            self.grants[grant_id].remaining -= take
            self.grants[grant_id].held += take
        self.holds[hold_id] = MHold(amount, pieces, dict(subject), expires_at)
        self.hold_status[hold_id] = "open"
        self.record()
        return pieces, warnings

    def open_hold(self, hold_id: str) -> MHold:
        status = self.hold_status.get(hold_id)
        if status is None:
            raise Refused("hold_not_found")
        if status != "open":
            raise Refused("hold_not_open", status=status)
        return self.holds[hold_id]

    def capture(
        self, hold_id: str, amount: int | None, allow_overage: bool, at: datetime
    ) -> tuple[dict[str, int], list[dict[str, Any]]]:
        self.advance(at)
        hold = self.open_hold(hold_id)
        requested = hold.amount if amount is None else amount
        if requested > hold.amount and not allow_overage:
            raise Refused("capture_exceeds_hold", held=hold.amount, requested=requested)
        overage = max(0, requested - hold.amount)
        # the hold still counts as spent here, so this checks the total after the capture
        warnings = self.check_budgets(hold.subject, overage, at)
        overage_pieces, shortfall = self.allocate(overage, at)
        if self.debt + shortfall > self.overdraft_limit:
            headroom = max(0, self.available(at) + self.overdraft_limit)
            raise Refused("insufficient_credits", available=headroom, requested=overage)
        # capture takes the reserved pieces in order; the rest of the hold is released
        to_capture, kept, rest = min(requested, hold.amount), [], []
        for grant_id, take in hold.pieces:
            part = min(to_capture, take)
            to_capture -= part
            if part:
                kept.append((grant_id, part))
            if take - part:
                rest.append((grant_id, take - part))
        for grant_id, part in kept:
            self.grants[grant_id].held -= part
            self.consumed += part
        released = self.release(rest, at)
        for grant_id, take in overage_pieces:
            self.grants[grant_id].remaining -= take
            self.consumed += take
        del self.holds[hold_id]
        self.hold_status[hold_id] = "captured"
        self.spends.append(MSpend(at=at, subject=dict(hold.subject), amount=requested))
        self.record()
        self.settle_returned(released)
        if shortfall:  # consumption beyond the wallet's credits is debt
            self.debt += shortfall
            self.consumed += shortfall
            self.record()
        result = {
            "captured": requested,
            "released": sum(r["amount"] for r in released),
            "overage": overage,
            "debt_incurred": shortfall,
        }
        return result, warnings

    def release_hold(self, hold_id: str, at: datetime) -> int:
        self.advance(at)
        hold = self.open_hold(hold_id)
        released = self.release(hold.pieces, at)
        del self.holds[hold_id]
        self.hold_status[hold_id] = "released"
        self.record()
        self.settle_returned(released)
        return hold.amount

    def set_budget(
        self,
        budget_id: str,
        *,
        scope: dict[str, str],
        limit: int,
        period: str,
        timezone: str,
        mode: str,
        at: datetime,
    ) -> None:
        """No running count to carry or recount: ``spent`` is always derived from spends."""
        self.advance(at)
        self.budgets[budget_id] = MBudget(dict(scope), limit, period, timezone, mode)
        self.record()

    def remove_budget(self, budget_id: str, at: datetime) -> None:
        self.advance(at)
        if budget_id not in self.budgets:
            raise Refused("budget_not_found")
        del self.budgets[budget_id]
        self.record()

    def set_allowance(self, allowance_id: str, terms: dict[str, Any], at: datetime) -> MAllowance:
        """New terms, from the first period that starts at or after ``starts_at``, is not
        over at ``at``, does not overlap the allowance's latest grant and was never granted;
        the period under way is granted at once when it qualifies."""
        self.advance(at)
        current = self.allowances.get(allowance_id)
        period, timezone = terms["period"], terms["timezone"]
        starts_at = terms["starts_at"] or (at if current is None else current.starts_at)
        ends_at = terms["ends_at"]
        if ends_at is not None and ends_at <= starts_at:
            raise Refused("validation_error")
        not_before = max(starts_at, start_of(period, timezone, at))
        if current is not None and current.last_grant is not None:
            latest_end = self.grants[current.last_grant].expires_at
            assert latest_end is not None
            not_before = max(not_before, latest_end)
        first = boundary_at_or_after(period, timezone, not_before)
        while allowance_grant_id(allowance_id, first) in self.grants:
            first = next_boundary(period, timezone, first)
        allowance = MAllowance(
            amount=terms["amount"],
            category=terms["category"],
            priority=terms["priority"],
            period=period,
            timezone=timezone,
            starts_at=starts_at,
            ends_at=ends_at,
            rollover=terms["rollover"],
            next_start=None if ends_at is not None and first >= ends_at else first,
            last_grant=None if current is None else current.last_grant,
            last_rollover=None if current is None else current.last_rollover,
        )
        self.allowances[allowance_id] = allowance
        self.record()
        self.advance(at)
        return allowance

    def remove_allowance(self, allowance_id: str, at: datetime) -> None:
        self.advance(at)
        if allowance_id not in self.allowances:
            raise Refused("allowance_not_found")
        del self.allowances[allowance_id]
        self.record()

    # -- what reads should show -------------------------------------------------------------

    def view(self, at: datetime) -> dict[str, Any]:
        """The wallet as a read at ``at`` shows it: expiries applied, nothing recorded."""
        seen = copy.deepcopy(self)
        seen.advance(at)
        return {
            "balance": {
                "available": seen.available(at),
                "held": sum(h.amount for h in seen.holds.values()),
                "debt": seen.debt,
            },
            "grants": {
                g.grant_id: {
                    "remaining": g.remaining,
                    "held": g.held,
                    "status": g.status(at),
                    "debt_settled": g.debt_settled,
                }
                for g in seen.grants.values()
            },
            "budgets": {
                budget_id: {
                    "spent": seen.spent(b, at),
                    "limit": b.limit,
                    "mode": b.mode,
                    "scope": b.scope,
                    "period_start": period_start(b, at),
                }
                for budget_id, b in seen.budgets.items()
            },
            "allowances": {aid: a.next_start for aid, a in seen.allowances.items()},
            "version": self.version,
            "uncollected": self.uncollected,
        }


# -- the machine ----------------------------------------------------------------------------

# Mostly small amounts so that most spending succeeds, sometimes large ones that do not.
amounts = st.integers(min_value=1, max_value=150) | st.integers(min_value=1, max_value=1200)


@dataclass(frozen=True)
class GrantSpec:
    """A grant to ask for; times are minutes from now (effective_at) and from effective_at."""

    amount: int
    category: str
    priority: int
    cost_basis: int | None
    effective_in: int | None
    expires_after: int | None


grant_fields: dict[str, st.SearchStrategy[Any]] = {
    "amount": st.integers(min_value=1, max_value=1000),
    "category": st.sampled_from(CATEGORIES),
    "priority": st.sampled_from([0, 50, 100, 100]),
    "cost_basis": st.sampled_from([None, None, 0, 1999]),
    "effective_in": st.none() | st.integers(min_value=-2880, max_value=2880),
    "expires_after": st.none() | st.integers(min_value=-30, max_value=7200),
}
grant_specs = st.builds(GrantSpec, **grant_fields)
# the wallet opens with up to three modest grants effective now: enough to spend, few enough
# that overage captures run into debt
funding_specs = st.builds(
    GrantSpec,
    **{
        **grant_fields,
        "amount": st.integers(min_value=1, max_value=400),
        "effective_in": st.none(),
    },
)
subjects = st.sampled_from(SUBJECTS)


class WalletMachine(RuleBasedStateMachine):
    grants: Bundle[str] = Bundle("grants")
    holds: Bundle[str] = Bundle("holds")
    debits: Bundle[str] = Bundle("debits")

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(T0)
        self.ledger: CreditLedger = make_ledger(clock=self.clock)
        self.ledger.put_price_book(PutPriceBook(price_book_id="default", rates=[USAGE_RATE]))
        self.model = Model(overdraft_limit=0)
        self.counter = 0
        self.cursor = 0  # last wallet version folded into self.balances
        self.balances: dict[str, int] = {}  # account -> debits minus credits

    def teardown(self) -> None:
        self.ledger.close()  # stops its writer and snapshot threads

    @property
    def now(self) -> datetime:
        return self.clock.now

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def attempt(
        self, label: str, predict: Callable[[Model], R], run: Callable[[], Outcome]
    ) -> tuple[R, dict[str, Any]] | None:
        """Predict on a copy of the model, run the command, and check they agree.

        A refused command records nothing (not even the expiries it noticed), so the copy is
        kept only on success. Returns (prediction, result body), or None when refused.
        """
        trial = copy.deepcopy(self.model)
        refusal: Refused | None = None
        try:
            expected = predict(trial)
        except Refused as refused:
            refusal = refused
        error: LedgerError | None = None
        try:
            body = run().body
        except LedgerError as raised:
            error = raised
        if refusal is None:
            assert error is None, f"ledger refused {error.code} ({error}); model accepts"
            self.model = trial
            event(f"{label}: ok")
            return expected, body
        assert error is not None, f"model expected {refusal.code}, ledger accepted: {body}"
        assert error.code == refusal.code, f"ledger: {error.code} ({error}), model: {refusal.code}"
        details = error.details()
        for key, value in refusal.details.items():
            assert details.get(key) == value, (key, details, refusal.details)
        event(f"{label}: {error.code}")
        return None

    # -- rules -------------------------------------------------------------------------------

    @initialize(
        target=grants,
        overdraft_limit=st.sampled_from([0, 40, 1000, 5000]),
        funding=st.lists(funding_specs, min_size=1, max_size=3),
    )
    def open_wallet(self, overdraft_limit: int, funding: list[GrantSpec]) -> MultipleResults[str]:
        """Open the wallet with a few grants effective now, so spending has something to take."""
        self.ledger.open_wallet(OpenWallet(wallet_id=WALLET, overdraft_limit=overdraft_limit))
        self.model = Model(overdraft_limit=overdraft_limit)
        return multiple(*(grant_id for spec in funding if (grant_id := self.try_grant(spec))))

    @rule(target=grants, spec=grant_specs)
    def grant(self, spec: GrantSpec) -> str | MultipleResults[str]:
        grant_id = self.try_grant(spec)
        return multiple() if grant_id is None else grant_id

    def try_grant(self, spec: GrantSpec) -> str | None:
        """A grant effective now, in the past or in the future; expiring after effective_at."""
        grant_id = self.fresh("g")
        now = self.now
        effective_at = now if spec.effective_in is None else now + minutes(spec.effective_in)
        expires_at = (
            None if spec.expires_after is None else effective_at + minutes(spec.expires_after)
        )
        outcome = self.attempt(
            "grant",
            lambda m: m.grant(
                grant_id=grant_id,
                amount=spec.amount,
                category=spec.category,
                priority=spec.priority,
                cost_basis=spec.cost_basis,
                effective_at=effective_at,
                expires_at=expires_at,
                at=now,
            ),
            lambda: self.ledger.grant(
                GrantCredits(
                    wallet_id=WALLET,
                    grant_id=grant_id,
                    amount=spec.amount,
                    category=spec.category,
                    priority=spec.priority,
                    effective_at=None if spec.effective_in is None else effective_at,
                    expires_at=expires_at,
                    cost_basis=None if spec.cost_basis is None else (spec.cost_basis, "USD"),
                )
            ),
        )
        if outcome is None:
            return None
        grant, body = outcome
        assert (body["remaining"], body["debt_settled"]) == (grant.remaining, grant.debt_settled)
        if grant.debt_settled:
            event("grant: settles debt")
        return grant_id

    @rule(target=debits, amount=amounts, subject=subjects)
    def debit(self, amount: int, subject: dict[str, str]) -> str | MultipleResults[str]:
        outcome = self.attempt(
            "debit",
            lambda m: m.debit(amount, subject, self.now),
            lambda: self.ledger.debit(Debit(wallet_id=WALLET, amount=amount, subject=subject)),
        )
        if outcome is None:
            return multiple()
        (record, warnings), body = outcome
        # (f) consumption order: the recorded allocation is the model's own policy-v1 order
        assert [(a["grant_id"], a["amount"]) for a in body["allocations"]] == record.pieces
        assert body["warnings"] == warnings
        if warnings:
            event("soft budget warning")
        debit_id = str(body["debit_id"])
        assert debit_id not in self.model.debits
        self.model.debits[debit_id] = record
        return debit_id

    @rule(target=debits, amount=amounts, subject=subjects)
    def bill_usage(self, amount: int, subject: dict[str, str]) -> str | MultipleResults[str]:
        """A usage event with ``bill: true``, rated at 1 credit per input token."""
        event_id = self.fresh("u")
        billed_subject = {**subject, "model": USAGE_MODEL}
        usage = {
            "event_id": event_id,
            "wallet_id": WALLET,
            "type": "llm.completion",
            "occurred_at": self.now.isoformat(),
            "subject": billed_subject,
            "quantities": {"input_tokens": amount},
            "bill": True,
        }
        outcome = self.attempt(
            "usage",
            lambda m: m.bill_usage(amount, billed_subject, self.now),
            lambda: self.ledger.ingest_usage([usage]),
        )
        assert outcome is not None, "billed usage is never refused"
        record, body = outcome
        uncollected = amount - (0 if record is None else record.spend.amount)
        missed = {"index": 0, "wallet_id": WALLET, "event_id": event_id, "uncollected": uncollected}
        assert body == {
            "accepted": 1,
            "duplicates": 0,
            "late": 0,
            "rejected": [],
            "uncollected": uncollected,
            "uncollected_events": [missed] if uncollected else [],
        }
        if record is None:
            event("usage: nothing collectable")
            return multiple()
        if record.spend.amount < amount:
            event("usage: uncollected")
        debit_id = str(receipt_id(WALLET, f"usage:{event_id}"))
        self.model.debits[debit_id] = record
        return debit_id

    @rule(debit_id=debits, amount=st.none() | amounts)
    def refund(self, debit_id: str, amount: int | None) -> None:
        outcome = self.attempt(
            "refund",
            lambda m: m.refund(debit_id, amount, self.now),
            lambda: self.ledger.refund(Refund(wallet_id=WALLET, debit_id=debit_id, amount=amount)),
        )
        if outcome is not None:
            returned, body = outcome
            assert body["allocations"] == returned
            assert body["amount"] == sum(r["amount"] for r in returned)
            for piece in returned:
                event(f"refund: to {piece['to']}")

    @rule(
        target=holds,
        amount=amounts,
        subject=subjects,
        expires_in=st.none() | st.integers(min_value=60, max_value=10_200),
    )
    def place_hold(
        self, amount: int, subject: dict[str, str], expires_in: int | None
    ) -> str | MultipleResults[str]:
        """Holds of up to ~7 days; beyond 7 days (10,080 minutes) is a validation error."""
        hold_id = self.fresh("h")
        if self.try_hold(hold_id, amount, subject, expires_in) is None:
            return multiple()
        return hold_id

    def try_hold(
        self, hold_id: str, amount: int, subject: dict[str, str], expires_in: int | None
    ) -> tuple[Any, dict[str, Any]] | None:
        expires_at = self.now + (DEFAULT_HOLD if expires_in is None else minutes(expires_in))
        outcome = self.attempt(
            "place_hold",
            lambda m: m.place_hold(hold_id, amount, subject, expires_at, self.now),
            lambda: self.ledger.place_hold(
                PlaceHold(
                    wallet_id=WALLET,
                    hold_id=hold_id,
                    amount=amount,
                    subject=subject,
                    expires_at=None if expires_in is None else expires_at,
                )
            ),
        )
        if outcome is not None:
            (pieces, warnings), body = outcome
            # (f) consumption order, for holds too
            assert [(a["grant_id"], a["amount"]) for a in body["allocations"]] == pieces
            assert body["warnings"] == warnings
            if warnings:
                event("soft budget warning")
            assert body["status"] == "open"
        return outcome

    @rule(hold_id=holds, amount=st.none() | amounts, allow_overage=st.booleans())
    def capture(self, hold_id: str, amount: int | None, allow_overage: bool) -> None:
        """Full (no amount), partial, or more than held (refused without allow_overage)."""
        self.try_capture(hold_id, amount, allow_overage)

    @rule(hold_id=holds, extra=st.integers(min_value=1, max_value=1500))
    def capture_beyond_the_hold(self, hold_id: str, extra: int) -> None:
        """Overage: debited like a debit; what the grants cannot cover becomes debt."""
        hold = self.model.holds.get(hold_id)
        self.try_capture(hold_id, extra + (hold.amount if hold else 0), allow_overage=True)

    def try_capture(self, hold_id: str, amount: int | None, allow_overage: bool) -> None:
        outcome = self.attempt(
            "capture",
            lambda m: m.capture(hold_id, amount, allow_overage, self.now),
            lambda: self.ledger.capture_hold(
                CaptureHold(
                    wallet_id=WALLET, hold_id=hold_id, amount=amount, allow_overage=allow_overage
                )
            ),
        )
        if outcome is not None:
            (expected, warnings), body = outcome
            assert {k: body[k] for k in expected} == expected
            assert body["warnings"] == warnings
            if warnings:
                event("soft budget warning")
            assert body["status"] == "captured"
            for key in ("released", "overage", "debt_incurred"):
                if expected[key]:
                    event(f"capture: {key}")

    @rule(hold_id=holds)
    def release(self, hold_id: str) -> None:
        outcome = self.attempt(
            "release",
            lambda m: m.release_hold(hold_id, self.now),
            lambda: self.ledger.release_hold(ReleaseHold(wallet_id=WALLET, hold_id=hold_id)),
        )
        if outcome is not None:
            released, body = outcome
            assert (body["status"], body["released"]) == ("released", released)

    @rule(grant_id=grants)
    def void_grant(self, grant_id: str) -> None:
        self.attempt(
            "void_grant",
            lambda m: m.void_grant(grant_id, self.now),
            lambda: self.ledger.void_grant(VoidGrant(wallet_id=WALLET, grant_id=grant_id)),
        )

    @rule(
        kind=st.sampled_from(["used grant id", "used hold id", "grant", "hold", "debit"]),
        pick=st.integers(min_value=0, max_value=9),
        amount=amounts,
        subject=subjects,
    )
    def address_a_used_or_missing_id(
        self, kind: str, pick: int, amount: int, subject: dict[str, str]
    ) -> None:
        """Reuse a grant or hold id (refused: ids are never reused), or name a missing object."""
        used_grants, used_holds = sorted(self.model.grants), sorted(self.model.hold_status)
        if kind == "used grant id" and used_grants:
            self.grant_with_a_used_id(used_grants[pick % len(used_grants)], amount)
        elif kind == "used hold id" and used_holds:
            self.hold_with_a_used_id(used_holds[pick % len(used_holds)], amount, subject)
        else:
            self.address_a_missing_object(kind)

    def grant_with_a_used_id(self, grant_id: str, amount: int) -> None:
        outcome = self.attempt(
            "grant with a used id",
            lambda m: m.grant(
                grant_id=grant_id,
                amount=amount,
                category="paid",
                priority=100,
                cost_basis=None,
                effective_at=self.now,
                expires_at=None,
                at=self.now,
            ),
            lambda: self.ledger.grant(
                GrantCredits(wallet_id=WALLET, grant_id=grant_id, amount=amount, category="paid")
            ),
        )
        assert outcome is None

    def hold_with_a_used_id(self, hold_id: str, amount: int, subject: dict[str, str]) -> None:
        assert self.try_hold(hold_id, amount, subject, None) is None

    def address_a_missing_object(self, kind: str) -> None:
        ledger, now = self.ledger, self.now
        if kind == "hold":
            outcome: object = self.attempt(
                "missing hold",
                lambda m: m.release_hold("nope", now),
                lambda: ledger.release_hold(ReleaseHold(wallet_id=WALLET, hold_id="nope")),
            )
        elif kind == "debit":
            outcome = self.attempt(
                "missing debit",
                lambda m: m.refund("nope", None, now),
                lambda: ledger.refund(Refund(wallet_id=WALLET, debit_id="nope")),
            )
        else:
            outcome = self.attempt(
                "missing grant",
                lambda m: m.void_grant("nope", now),
                lambda: ledger.void_grant(VoidGrant(wallet_id=WALLET, grant_id="nope")),
            )
        assert outcome is None

    @rule(
        budget_id=st.sampled_from(BUDGET_IDS),
        scope=st.sampled_from(SCOPES),
        limit=st.integers(min_value=0, max_value=600),
        period=st.sampled_from(["day", "month", "total"]),
        timezone=st.sampled_from(TIMEZONES),
        mode=st.sampled_from(["hard", "soft"]),
    )
    def set_budget(
        self,
        *,
        budget_id: str,
        scope: dict[str, str],
        limit: int,
        period: str,
        timezone: str,
        mode: str,
    ) -> None:
        outcome = self.attempt(
            "set_budget",
            lambda m: m.set_budget(
                budget_id,
                scope=scope,
                limit=limit,
                period=period,
                timezone=timezone,
                mode=mode,
                at=self.now,
            ),
            lambda: self.ledger.set_budget(
                SetBudget(
                    wallet_id=WALLET,
                    budget_id=budget_id,
                    scope=scope,
                    limit=limit,
                    period=period,
                    timezone=timezone,
                    mode=mode,
                )
            ),
        )
        assert outcome is not None

    @rule(
        allowance_id=st.sampled_from(ALLOWANCE_IDS),
        amount=st.integers(min_value=1, max_value=400),
        category=st.sampled_from(["paid", "promotional", "trial"]),
        priority=st.sampled_from([0, 100]),
        period=st.sampled_from(["day", "week", "month", "year"]),
        timezone=st.sampled_from(TIMEZONES),
        starts_in=st.none() | st.integers(min_value=-3 * 24 * 60, max_value=3 * 24 * 60),
        lasts=st.none() | st.integers(min_value=-60, max_value=40 * 24 * 60),
        rollover=st.sampled_from(ROLLOVERS),
    )
    def set_allowance(
        self,
        *,
        allowance_id: str,
        amount: int,
        category: str,
        priority: int,
        period: str,
        timezone: str,
        starts_in: int | None,
        lasts: int | None,
        rollover: dict[str, int | None] | None,
    ) -> None:
        """Create or change an allowance; ``lasts`` (minutes from the start given, or now)
        ends it, before its start when negative (refused)."""
        now = self.now
        starts_at = None if starts_in is None else now + minutes(starts_in)
        ends_at = None if lasts is None else (starts_at or now) + minutes(lasts)
        terms: dict[str, Any] = {
            "amount": amount,
            "category": category,
            "priority": priority,
            "period": period,
            "timezone": timezone,
            "starts_at": starts_at,
            "ends_at": ends_at,
            "rollover": rollover,
        }
        outcome = self.attempt(
            "set_allowance",
            lambda m: m.set_allowance(allowance_id, terms, now),
            lambda: self.ledger.set_allowance(
                SetAllowance(wallet_id=WALLET, allowance_id=allowance_id, **terms)
            ),
        )
        if outcome is not None:
            allowance, body = outcome
            assert body["next_grant_at"] == allowance.next_start

    @rule(allowance_id=st.sampled_from(ALLOWANCE_IDS))
    def remove_allowance(self, allowance_id: str) -> None:
        self.attempt(
            "remove_allowance",
            lambda m: m.remove_allowance(allowance_id, self.now),
            lambda: self.ledger.remove_allowance(
                RemoveAllowance(wallet_id=WALLET, allowance_id=allowance_id)
            ),
        )

    @rule(budget_id=st.sampled_from(BUDGET_IDS))
    def remove_budget(self, budget_id: str) -> None:
        self.attempt(
            "remove_budget",
            lambda m: m.remove_budget(budget_id, self.now),
            lambda: self.ledger.remove_budget(RemoveBudget(wallet_id=WALLET, budget_id=budget_id)),
        )

    @rule(
        to_a_deadline=st.booleans(),
        minutes_=st.sampled_from([1, 15, 60, 6 * 60, 24 * 60, 3 * 24 * 60])
        | st.integers(min_value=1, max_value=14 * 24 * 60),
        pick=st.integers(min_value=0, max_value=7),
        just_before=st.booleans(),
    )
    def pass_time(self, to_a_deadline: bool, minutes_: int, pick: int, just_before: bool) -> None:
        """Move the clock by minutes to days, or exactly onto (or one second before) the
        next expiry, effective_at, period start or allowance period: expiry is exclusive,
        effective_at is not.
        """
        deadlines = self.deadlines()
        if to_a_deadline and deadlines:
            target = deadlines[min(pick, len(deadlines) - 1)]
            self.clock.set(target - timedelta(seconds=1) if just_before else target)
        else:
            self.clock.advance(minutes=minutes_)

    @precondition(lambda self: any(a.next_start for a in self.model.allowances.values()))
    @rule(beyond=st.sampled_from([0, 0, 1, 24 * 60, 45 * 24 * 60]))
    def reach_an_allowance_period(self, beyond: int) -> None:
        """Move the clock onto (or past) the next allowance period's start, where the
        period before it ends: its grant expires, rolls over, and the next one is granted."""
        starts = [a.next_start for a in self.model.allowances.values() if a.next_start]
        self.clock.set(max(self.now, min(starts) + minutes(beyond)))

    def deadlines(self) -> list[datetime]:
        """Future instants where something changes: expiries, effective times, periods."""
        model, now = self.model, self.now
        moments = [h.expires_at for h in model.holds.values()]
        moments += [a.next_start for a in model.allowances.values() if a.next_start is not None]
        for grant in model.grants.values():
            if grant.expires_at is not None and not (grant.expired or grant.voided):
                moments.append(grant.expires_at)
            moments.append(grant.effective_at)
        for timezone in TIMEZONES:
            for period in ("day", "month"):
                budget = MBudget({}, 0, period, timezone, "hard")
                start = period_start(budget, now)
                moments.append(period_start(budget, start + timedelta(days=32)))
                moments.append(period_start(budget, start + timedelta(hours=25)))
        return sorted({m for m in moments if m > now + timedelta(seconds=1)})

    @rule()
    def sweep(self) -> None:
        expected = self.model.advance(self.now)
        assert self.ledger.sweep() == expected
        if expected:
            event("sweep: recorded expiries")

    # -- invariants --------------------------------------------------------------------------

    def stored_wallet(self) -> Wallet:
        wallet: Wallet = self.ledger.repository.get(wallet_uuid(WALLET))
        return wallet

    def fold_postings(self) -> None:
        """Fold the postings of the wallet's events recorded since the last fold."""
        while True:
            page = self.ledger.wallet_events(WALLET, after_version=self.cursor, limit=1000)
            for row in page["events"]:
                for posting in row["data"]["postings"]:
                    amount = posting["amount"]
                    assert type(amount) is int, posting
                    assert amount > 0, posting
                    assert posting["debit"] != posting["credit"], posting
                    for account in (posting["debit"], posting["credit"]):
                        assert account.startswith((f"wallet:{WALLET}:", f"platform:{UNIT}:"))
                    debit, credit = posting["debit"], posting["credit"]
                    self.balances[debit] = self.balances.get(debit, 0) + amount
                    self.balances[credit] = self.balances.get(credit, 0) - amount
            if not page["events"]:
                break
            self.cursor = page["next_after_version"]

    @invariant()
    def trial_balance_is_zero(self) -> None:
        """(a) Every posting is a positive two-leg move; all accounts together sum to zero."""
        self.fold_postings()
        assert sum(self.balances.values()) == 0
        assert self.cursor == self.model.version

    def credit_balance(self, account: str) -> int:
        """Balance of a credit-normal account (credits minus debits)."""
        return -self.balances.get(account, 0)

    @invariant()
    def no_grant_below_zero(self) -> None:
        """(b) In the stored state and in what reads show."""
        stored = self.stored_wallet()
        assert all(g.remaining >= 0 and g.held >= 0 for g in stored.grants.values())
        assert stored.debt >= 0
        for grant in self.ledger.wallet(WALLET)["grants"]:
            assert grant["remaining"] >= 0, grant
            assert grant["held"] >= 0, grant

    @invariant()
    def credits_are_conserved(self) -> None:
        """(c) From the chart of accounts: debit-normal accounts are issued and debt; every other
        account is credit-normal; the trial balance is zero, so

            Σ granted (= Σ issued) + debt
                == Σ grant remaining + held + consumed + expired + voided

        i.e. Σ granted == Σ remaining + held + consumed + expired + voided - debt. Debt
        settlement (DR grant / CR debt) lowers remaining and debt alike; refunds (DR consumed)
        and releases move credits back between the terms without changing the sum. Grant
        figures come from the stored state, the platform accounts from the postings.
        """
        self.fold_postings()
        stored = self.stored_wallet()
        # Rollover grants of allowances hold credits moved from another grant, not issued.
        granted = sum(
            g.amount for g in stored.grants.values() if "rolled_over_from" not in g.metadata
        )
        remaining = sum(g.remaining for g in stored.grants.values())
        held = sum(g.held for g in stored.grants.values())
        consumed = self.credit_balance(f"platform:{UNIT}:consumed")
        expired = self.credit_balance(f"platform:{UNIT}:expired")
        voided = self.credit_balance(f"platform:{UNIT}:voided")
        assert granted == remaining + held + consumed + expired + voided - stored.debt
        issued = sum(
            v for k, v in self.balances.items() if k.startswith(f"platform:{UNIT}:issued:")
        )
        assert issued == granted
        # and the platform accounts are what the model says happened
        assert (consumed, expired, voided) == (
            self.model.consumed,
            self.model.expired,
            self.model.voided,
        )
        for category, amount in self.model.issued.items():
            assert self.balances[f"platform:{UNIT}:issued:{category}"] == amount

    @invariant()
    def accounts_equal_state(self) -> None:
        """(d) Per-account balances from the postings equal the stored wallet's state."""
        self.fold_postings()
        stored = self.stored_wallet()
        known = {f"wallet:{WALLET}:holds", f"wallet:{WALLET}:debt"}
        for grant in stored.grants.values():
            escaped = grant.grant_id.replace(":", "%3A")  # allowance grant ids hold ':'
            account = f"wallet:{WALLET}:grant:{escaped}"
            known.add(account)
            assert self.credit_balance(account) == grant.remaining, grant
        held = sum(g.held for g in stored.grants.values())
        assert held == sum(h.amount for h in stored.holds.values())
        assert self.credit_balance(f"wallet:{WALLET}:holds") == held
        assert self.balances.get(f"wallet:{WALLET}:debt", 0) == stored.debt
        wallet_accounts = {k for k in self.balances if k.startswith(f"wallet:{WALLET}:")}
        assert wallet_accounts <= known

    @invariant()
    def stored_state_agrees_with_the_model(self) -> None:
        """What is recorded (not what a read shows) matches the model's recorded state."""
        stored, model = self.stored_wallet(), self.model
        assert stored.version == model.version
        assert stored.debt == model.debt
        assert set(stored.holds) == set(model.holds)
        assert set(stored.budgets) == set(model.budgets)
        assert {
            g.grant_id: (g.remaining, g.held, g.expired, g.voided, g.debt_settled)
            for g in stored.grants.values()
        } == {
            g.grant_id: (g.remaining, g.held, g.expired, g.voided, g.debt_settled)
            for g in model.grants.values()
        }

    @invariant()
    def reads_agree_with_the_model(self) -> None:
        """(e) Balance, each grant and each budget as ``ledger.domain.wallet`` shows them now."""
        actual = self.ledger.wallet(WALLET)
        expected = self.model.view(self.now)
        assert actual["version"] == expected["version"]
        assert actual["balance"] == expected["balance"]
        assert actual["uncollected"] == expected["uncollected"]
        assert {
            g["grant_id"]: {k: g[k] for k in ("remaining", "held", "status", "debt_settled")}
            for g in actual["grants"]
        } == expected["grants"]
        assert {
            b["budget_id"]: {k: b[k] for k in ("spent", "limit", "mode", "scope", "period_start")}
            for b in actual["budgets"]
        } == expected["budgets"]
        assert {
            a["allowance_id"]: a["next_grant_at"] for a in self.ledger.allowances(WALLET)
        } == expected["allowances"]


def minutes(count: int) -> timedelta:
    return timedelta(minutes=count)


WalletMachine.TestCase.settings = settings(stateful_step_count=30)
TestWalletMachine = WalletMachine.TestCase


# -- regressions: refunds give budget room back by the recount rule (decision 0006) -------


def test_refund_releases_a_budget_created_after_the_debit() -> None:
    ledger = make_ledger(clock=FakeClock(T0))
    ledger.open_wallet(OpenWallet(wallet_id=WALLET))
    ledger.grant(GrantCredits(wallet_id=WALLET, grant_id="g1", amount=100, category="paid"))
    debit = ledger.debit(Debit(wallet_id=WALLET, amount=30, subject={"user_id": "alice"}))
    scope = {"user_id": "alice"}
    ledger.set_budget(
        SetBudget(wallet_id=WALLET, budget_id="b1", limit=50, period="month", scope=scope)
    )
    assert ledger.budget(WALLET, "b1")["spent"] == 30  # recounted from history: right
    ledger.refund(Refund(wallet_id=WALLET, debit_id=debit.body["debit_id"]))
    assert ledger.budget(WALLET, "b1")["spent"] == 0  # the refunded debit no longer counts


def test_refund_does_not_credit_a_budget_re_scoped_to_someone_else() -> None:
    ledger = make_ledger(clock=FakeClock(T0))
    ledger.open_wallet(OpenWallet(wallet_id=WALLET))
    ledger.grant(GrantCredits(wallet_id=WALLET, grant_id="g1", amount=100, category="paid"))
    ledger.set_budget(
        SetBudget(
            wallet_id=WALLET, budget_id="b1", limit=50, period="month", scope={"user_id": "alice"}
        )
    )
    alice = ledger.debit(Debit(wallet_id=WALLET, amount=30, subject={"user_id": "alice"}))
    ledger.debit(Debit(wallet_id=WALLET, amount=20, subject={"user_id": "bob"}))
    ledger.set_budget(
        SetBudget(
            wallet_id=WALLET, budget_id="b1", limit=50, period="month", scope={"user_id": "bob"}
        )
    )
    assert ledger.budget(WALLET, "b1")["spent"] == 20
    ledger.refund(Refund(wallet_id=WALLET, debit_id=alice.body["debit_id"]))
    assert ledger.budget(WALLET, "b1")["spent"] == 20  # bob spent 20; alice's refund is not his


def test_refund_releases_a_budget_whose_period_changed() -> None:
    ledger = make_ledger(clock=FakeClock(T0))
    ledger.open_wallet(OpenWallet(wallet_id=WALLET))
    ledger.grant(GrantCredits(wallet_id=WALLET, grant_id="g1", amount=100, category="paid"))
    scope = {"user_id": "alice"}
    ledger.set_budget(
        SetBudget(wallet_id=WALLET, budget_id="b1", limit=50, period="month", scope=scope)
    )
    debit = ledger.debit(Debit(wallet_id=WALLET, amount=20, subject=scope))
    ledger.set_budget(
        SetBudget(wallet_id=WALLET, budget_id="b1", limit=50, period="total", scope=scope)
    )
    assert ledger.budget(WALLET, "b1")["spent"] == 20
    ledger.refund(Refund(wallet_id=WALLET, debit_id=debit.body["debit_id"]))
    assert ledger.budget(WALLET, "b1")["spent"] == 0


# -- regression: a resolved hold id is checked before budgets and balance -------------------


def test_reusing_a_resolved_hold_id_is_hold_exists_whatever_else_is_wrong() -> None:
    ledger = make_ledger(clock=FakeClock(T0))
    ledger.open_wallet(OpenWallet(wallet_id=WALLET))
    ledger.grant(GrantCredits(wallet_id=WALLET, grant_id="g1", amount=100, category="paid"))
    ledger.place_hold(PlaceHold(wallet_id=WALLET, hold_id="h1", amount=10))
    ledger.release_hold(ReleaseHold(wallet_id=WALLET, hold_id="h1"))
    # errors.py: the addressed object (hold_exists) wins over insufficient_credits
    with pytest.raises(LedgerError) as raised:
        ledger.place_hold(PlaceHold(wallet_id=WALLET, hold_id="h1", amount=10_000))
    assert raised.value.code == "hold_exists"
