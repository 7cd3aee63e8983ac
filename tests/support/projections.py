"""Shared by the projection tests: random ledger histories and view-versus-log checks.

A history is a list of small tuples (``("debit", wallet, amount, subject, minutes_back)``
...) that :func:`run_history` turns into ledger commands; refused commands (insufficient
credits, budgets, holds no longer open) are part of the game and simply skipped.
:func:`assert_views_match_audit` compares every view query with the log-scanning
``ledger.app.audit`` answer (and budgets with the wallet aggregates).
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.app import audit
from ledger.app.commands import (
    CaptureHold,
    Debit,
    GrantCredits,
    OpenWallet,
    PlaceHold,
    Refund,
    ReleaseHold,
    RemoveAllowance,
    RemoveBudget,
    SetAllowance,
    SetBudget,
    VoidGrant,
)
from ledger.app.service import CreditLedger
from ledger.domain.errors import LedgerError
from projections import queries
from projections.catalog import JOURNAL, PROJECTIONS
from projections.engine import meta
from projections.engine.store import ViewStore
from tests.support.builders import FakeClock

__all__ = [
    "ALLOWANCE_PERIODS",
    "ROLLOVERS",
    "WALLETS",
    "Op",
    "assert_views_match_audit",
    "open_wallets",
    "random_ops",
    "run_history",
    "snapshot",
]

Op = tuple[Any, ...]
WALLETS = (("a", "credits", 0), ("b", "tokens", 100))
SUBJECTS: tuple[dict[str, str], ...] = (
    {},
    {"user_id": "u1"},
    {"user_id": "u2", "model": "m1"},
    {"team_id": "t1", "model": "m2", "feature": "chat"},
    {"agent_id": "a1", "project_id": "p1", "user_id": "u1", "team_id": "t1"},
)
SCOPES: tuple[dict[str, str], ...] = ({}, {"team_id": "t1"}, {"user_id": "u1"}, {"model": "m1"})
PERIODS = ("day", "week", "month", "total")
ZONES = ("UTC", "Europe/Berlin", "America/New_York")
CATEGORIES = ("paid", "promotional", "trial")
ADVANCES = (1, 7, 45, 60 * 5, 60 * 24, 60 * 24 * 12)
ALLOWANCE_PERIODS = ("day", "week", "month")
ROLLOVERS: tuple[dict[str, int | None] | None, ...] = (
    None,
    {"max_amount": 50},
    {"max_amount": None},
)
GROUPINGS: tuple[list[str], ...] = ([], ["model"], ["user_id", "model"], ["team_id", "feature"])
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


def open_wallets(ledger: CreditLedger) -> None:
    for wallet_id, unit, overdraft in WALLETS:
        ledger.open_wallet(OpenWallet(wallet_id=wallet_id, unit=unit, overdraft_limit=overdraft))


def random_ops(rng: random.Random, count: int) -> list[Op]:
    """A random history for tests without hypothesis (e.g. on Postgres)."""

    def w() -> int:
        return rng.randrange(len(WALLETS))

    def pick() -> int:
        return rng.randrange(8)

    makers: dict[str, tuple[int, Callable[[], tuple[Any, ...]]]] = {
        "grant": (3, lambda: (w(), rng.randint(1, 2000), rng.randrange(3), rng.choice([None, 30]))),
        "debit": (6, lambda: (w(), rng.randint(1, 300), rng.randrange(5), rng.choice([0, 90]))),
        "hold": (3, lambda: (w(), rng.randint(1, 300), rng.randrange(5), rng.choice([5, 60]))),
        "capture": (2, lambda: (w(), pick(), rng.choice([None, 1, 400]), rng.random() < 0.5)),
        "release": (1, lambda: (w(), pick())),
        "refund": (2, lambda: (w(), pick(), rng.choice([None, 1, 20]))),
        "budget": (
            1,
            lambda: (
                w(),
                rng.randrange(2),
                rng.randrange(len(SCOPES)),
                rng.randint(0, 900),
                rng.randrange(len(PERIODS)),
                rng.randrange(len(ZONES)),
                rng.randrange(2),
            ),
        ),
        "unbudget": (1, lambda: (w(), rng.randrange(2))),
        "void": (1, lambda: (w(), pick())),
        "advance": (3, lambda: (rng.randrange(len(ADVANCES)),)),
        "sweep": (1, tuple),
    }
    kinds = list(makers)
    weights = [makers[kind][0] for kind in kinds]
    ops: list[Op] = []
    for _ in range(count):
        kind = rng.choices(kinds, weights)[0]
        ops.append((kind, *makers[kind][1]()))
    return ops


class _History:
    """Runs ops against one ledger, remembering the ids they created."""

    def __init__(self, ledger: CreditLedger, clock: FakeClock) -> None:
        self.ledger, self.clock = ledger, clock
        self.grants: dict[str, list[str]] = {w: [] for w, _, _ in WALLETS}
        self.holds: dict[str, list[str]] = {w: [] for w, _, _ in WALLETS}
        self.debits: dict[str, list[str]] = {w: [] for w, _, _ in WALLETS}
        self.made = 0

    @staticmethod
    def _pick(ids: list[str], index: int) -> str | None:
        return ids[index % len(ids)] if ids else None

    def run(self, op: Op) -> None:
        kind, now, led = op[0], self.clock.now, self.ledger
        wallet = WALLETS[op[1]][0] if len(op) > 1 and kind not in {"advance"} else ""
        self.made += 1
        if kind == "grant":
            grant_id = f"g{self.made}"
            expires = None if op[4] is None else now + timedelta(hours=op[4])
            category = CATEGORIES[op[3]]
            led.grant(
                GrantCredits(
                    wallet_id=wallet,
                    amount=op[2],
                    category=category,
                    grant_id=grant_id,
                    expires_at=expires,
                )
            )
            self.grants[wallet].append(grant_id)
        elif kind == "debit":
            usage_at = now - timedelta(minutes=op[4])
            body = led.debit(
                Debit(wallet_id=wallet, amount=op[2], subject=SUBJECTS[op[3]], occurred_at=usage_at)
            ).body
            self.debits[wallet].append(body["debit_id"])
        elif kind == "hold":
            hold_id = f"h{self.made}"
            expires = now + timedelta(minutes=op[4])
            led.place_hold(
                PlaceHold(
                    wallet_id=wallet,
                    amount=op[2],
                    hold_id=hold_id,
                    subject=SUBJECTS[op[3]],
                    expires_at=expires,
                )
            )
            self.holds[wallet].append(hold_id)
        elif kind == "capture" and (hold := self._pick(self.holds[wallet], op[2])):
            led.capture_hold(
                CaptureHold(wallet_id=wallet, hold_id=hold, amount=op[3], allow_overage=op[4])
            )
        elif kind == "release" and (hold := self._pick(self.holds[wallet], op[2])):
            led.release_hold(ReleaseHold(wallet_id=wallet, hold_id=hold))
        elif kind == "refund" and (debit := self._pick(self.debits[wallet], op[2])):
            led.refund(Refund(wallet_id=wallet, debit_id=debit, amount=op[3]))
        elif kind == "budget":
            led.set_budget(
                SetBudget(
                    wallet_id=wallet,
                    budget_id=f"b{op[2]}",
                    scope=SCOPES[op[3]],
                    limit=op[4],
                    period=PERIODS[op[5]],
                    timezone=ZONES[op[6]],
                    mode=("hard", "soft")[op[7]],
                )
            )
        elif kind == "unbudget":
            led.remove_budget(RemoveBudget(wallet_id=wallet, budget_id=f"b{op[2]}"))
        elif kind == "void" and (grant := self._pick(self.grants[wallet], op[2])):
            led.void_grant(VoidGrant(wallet_id=wallet, grant_id=grant))
        elif kind in {"allowance", "unallow"}:
            self._allowance(wallet, op)
        elif kind == "advance":
            self.clock.advance(minutes=ADVANCES[op[1]])
        elif kind == "sweep":
            led.sweep()

    def _allowance(self, wallet: str, op: Op) -> None:
        """``("allowance", wallet, n, amount, period, zone, rollover)``: set allowance
        ``a<n>``; ``("unallow", wallet, n)``: remove it."""
        if op[0] == "unallow":
            self.ledger.remove_allowance(
                RemoveAllowance(wallet_id=wallet, allowance_id=f"a{op[2]}")
            )
            return
        self.ledger.set_allowance(
            SetAllowance(
                wallet_id=wallet,
                allowance_id=f"a{op[2]}",
                amount=op[3],
                period=ALLOWANCE_PERIODS[op[4]],
                timezone=ZONES[op[5]],
                rollover=ROLLOVERS[op[6]],
            )
        )


def run_history(
    ledger: CreditLedger,
    clock: FakeClock,
    ops: Sequence[Op],
    on_project: Callable[[int], None] | None = None,
) -> None:
    """Open the test wallets, then run ``ops``; ``("project", n)`` calls ``on_project(n)``."""
    open_wallets(ledger)
    history = _History(ledger, clock)
    for op in ops:
        if op[0] == "project":
            if on_project is not None:
                on_project(op[1])
            continue
        # A refusal records nothing, which is part of what is being tested.
        with contextlib.suppress(LedgerError):
            history.run(op)


def snapshot(views: ViewStore) -> dict[str, Any]:
    """Every live view's full contents (journal rows included), for equality checks."""
    with views.read() as tx:
        generations = meta.read_generations(tx)
        result: dict[str, Any] = {}
        for name, projection in PROJECTIONS.items():
            generation = generations[name].live
            result[name] = projection.dump(tx, generation)
        result["journal_rows"] = JOURNAL.rows_between(tx, generations["journal"].live, 0, 2**62)
    return result


def _event_times(ledger: CreditLedger) -> list[datetime]:
    rows = audit.journal(ledger, limit=1000)["entries"]
    return sorted({row["occurred_at"] for row in rows})


def _pages(read: Callable[..., dict[str, Any]], **filters: Any) -> list[dict[str, Any]]:
    pages, after, leg = [], 0, None
    for _ in range(1000):
        page = read(after=after, after_leg=leg, **filters)
        pages.append(page)
        if not page["entries"]:
            return pages
        after, leg = page["next_after"], page["next_after_leg"]
    raise AssertionError("journal paging did not end")


def _range(rng: random.Random, bounds: list[Any]) -> dict[str, Any]:
    """``from_`` and ``to`` drawn from ``bounds``, in order (a reversed range is refused)."""
    first, second = rng.choice(bounds), rng.choice(bounds)
    if first is not None and second is not None and first > second:
        first, second = second, first
    return {"from_": first, "to": second}


def assert_views_match_audit(ledger: CreditLedger, views: ViewStore, rng: random.Random) -> None:
    """Every query of ``projections.queries`` equals ``ledger.app.audit`` on the same ledger."""
    times = _event_times(ledger)
    samples = rng.sample(times, min(6, len(times)))
    bounds = [None, *samples]
    # Journal: whole log, pages of random sizes, and each filter.
    assert queries.journal(views, limit=1000) == audit.journal(ledger, limit=1000)
    limit = rng.randint(1, 7)
    for filters in (
        {},
        {"wallet_id": "b"},
        {"account": "platform:credits:consumed"},
        _range(rng, bounds),
    ):
        views_pages = _pages(lambda **kw: queries.journal(views, limit=limit, **kw), **filters)
        audit_pages = _pages(lambda **kw: audit.journal(ledger, limit=limit, **kw), **filters)
        assert views_pages == audit_pages, filters
    # Trial balance and account balances at every sampled instant, exactly and around it.
    accounts = sorted(queries.trial_balance(views, as_of=FAR_FUTURE)["accounts"], key=str)
    for when in [*samples, FAR_FUTURE]:
        for as_of in (when - timedelta(microseconds=1), when, when + timedelta(microseconds=1)):
            for unit in (None, "credits", "tokens"):
                expected = audit.trial_balance(ledger, as_of=as_of, unit=unit)
                assert queries.trial_balance(views, as_of=as_of, unit=unit) == expected
                assert expected["balanced"]
            logged = {a["account"]: a for a in audit.trial_balance(ledger, as_of=as_of)["accounts"]}
            for account in rng.sample(accounts, min(3, len(accounts))):
                balance = queries.account_balance(views, account["account"], as_of)
                want = logged.get(account["account"], {"debit_total": 0, "credit_total": 0})
                assert (balance["debit_total"], balance["credit_total"]) == (
                    want["debit_total"],
                    want["credit_total"],
                )
    # Usage: every window and grouping, bounded on hour boundaries.
    hours = [None, *(t.replace(minute=0, second=0, microsecond=0) for t in samples)]
    for wallet_id, _, _ in WALLETS:
        for window in audit.WINDOWS:
            for group_by in GROUPINGS:
                args = _range(rng, hours)
                expected = audit.usage_series(
                    ledger, wallet_id=wallet_id, window=window, group_by=group_by, **args
                )
                got = queries.usage_series(
                    views, wallet_id=wallet_id, window=window, group_by=group_by, **args
                )
                assert got == expected, (wallet_id, window, group_by, args)
    # Budgets: the current period's charged spend equals the wallet aggregate's.
    for wallet_id, _, _ in WALLETS:
        wallet = ledger.load_wallet(wallet_id)
        status = queries.budget_status(views, wallet_id)
        periods = {
            b["budget_id"]: {p["period_start"]: p["spent"] for p in b["periods"]}
            for b in status["budgets"]
        }
        assert set(periods) == set(wallet.budgets)
        for budget_id, budget in wallet.budgets.items():
            assert periods[budget_id].get(budget.period_start, 0) == budget.spent
