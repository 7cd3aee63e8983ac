"""For random command sequences, replaying the stored events rebuilds the live wallet exactly.

"Live" is the aggregate the commands mutated, copied when it was saved (``RecordingLedger`` in
``tests/ledger/test_replay.py``), so the comparison never replays on both sides.

Each operation is a tuple ``(kind, a, b)`` of small integers that ``apply`` reads per kind
(amounts, indexes into the ids made so far, minutes), so that hypothesis shrinks a failure to
a short, readable sequence. Refused commands are part of the sequence too: they must leave
no trace. A ``snapshot`` operation stores a snapshot mid-way; every snapshot, plus the events
after it, must rebuild the same wallet as the full replay.
"""

from __future__ import annotations

from datetime import timedelta

from eventsourcing.domain import Snapshot
from hypothesis import event, given
from hypothesis import strategies as st

from ledger.app.commands import (
    CaptureHold,
    Debit,
    GrantCredits,
    OpenWallet,
    PlaceHold,
    Refund,
    ReleaseHold,
    RemoveBudget,
    SetBudget,
    VoidGrant,
)
from ledger.domain.errors import LedgerError
from ledger.domain.ids import wallet_uuid
from ledger.domain.wallet import Wallet
from tests.support.builders import T0, FakeClock
from tests.support.replay import (
    WALLET,
    RecordingLedger,
    fold,
    live,
    loaded,
    recording_ledger,
    replayed,
    state,
)

KINDS = [
    "grant",
    "debit",
    "hold",
    "capture",
    "overage",
    "release",
    "refund",
    "void",
    "budget",
    "unbudget",
    "time",
    "sweep",
    "snapshot",
]
SUBJECTS: list[dict[str, str]] = [{}, {"user_id": "alice"}, {"user_id": "bob", "model": "m1"}]
CATEGORIES = ["paid", "promotional", "trial", "refund", "rollover"]

Op = tuple[str, int, int]
operations = st.lists(
    st.tuples(
        st.sampled_from(KINDS),
        st.integers(min_value=0, max_value=600),
        st.integers(min_value=0, max_value=600),
    ),
    min_size=1,
    max_size=40,
)


class Driver:
    """Runs operations against one wallet, remembering the ids it made."""

    def __init__(self, overdraft_limit: int) -> None:
        self.clock = FakeClock(T0)
        self.ledger: RecordingLedger = recording_ledger(clock=self.clock)
        self.ledger.open_wallet(OpenWallet(wallet_id=WALLET, overdraft_limit=overdraft_limit))
        # funded from the start, with one grant that expires soon, so spending has a source
        self.ledger.grant(
            GrantCredits(wallet_id=WALLET, grant_id="base", amount=800, category="paid")
        )
        self.ledger.grant(
            GrantCredits(
                wallet_id=WALLET,
                grant_id="promo",
                amount=300,
                category="promotional",
                expires_at=T0 + timedelta(hours=2),
            )
        )
        self.grants: list[str] = ["base", "promo"]
        self.holds: list[str] = []
        self.debits: list[str] = []
        self.snapshots: list[int] = []  # versions snapshotted

    @staticmethod
    def pick(ids: list[str], index: int) -> str:
        return ids[index % len(ids)] if ids else "nope"

    def apply(self, op: Op) -> None:
        kind, a, b = op
        try:
            self.run(kind, a, b)
        except LedgerError as error:  # recorded nothing; replay must agree with that too
            event(f"{kind}: {error.code}")
        else:
            event(f"{kind}: ok")

    def run(self, kind: str, a: int, b: int) -> None:  # noqa: PLR0912 - one branch per kind
        ledger, now = self.ledger, self.clock.now
        if kind == "grant":
            grant_id = f"g{len(self.grants)}"
            ledger.grant(
                GrantCredits(
                    wallet_id=WALLET,
                    grant_id=grant_id,
                    amount=a + 1,
                    category=CATEGORIES[b % len(CATEGORIES)],
                    priority=b % 3 * 50,
                    effective_at=now + timedelta(hours=b % 4 - 1),
                    expires_at=None if b % 2 else now + timedelta(hours=b % 97 + 1),
                    cost_basis=(b, "USD") if b % 5 == 0 else None,
                )
            )
            self.grants.append(grant_id)
        elif kind == "debit":
            outcome = ledger.debit(
                Debit(wallet_id=WALLET, amount=a % 200 + 1, subject=SUBJECTS[b % len(SUBJECTS)])
            )
            self.debits.append(str(outcome.body["debit_id"]))
        elif kind == "hold":
            hold_id = f"h{len(self.holds)}"
            self.holds.append(hold_id)
            ledger.place_hold(
                PlaceHold(
                    wallet_id=WALLET,
                    hold_id=hold_id,
                    amount=a % 200 + 1,
                    subject=SUBJECTS[b % len(SUBJECTS)],
                    expires_at=now + timedelta(minutes=b % 180 + 1),
                )
            )
        elif kind in {"capture", "overage"}:
            ledger.capture_hold(
                CaptureHold(
                    wallet_id=WALLET,
                    hold_id=self.pick(self.holds, a),
                    amount=(b or None) if kind == "capture" else b + 1000,
                    allow_overage=kind == "overage",
                )
            )
        elif kind == "release":
            ledger.release_hold(ReleaseHold(wallet_id=WALLET, hold_id=self.pick(self.holds, a)))
        elif kind == "refund":
            debit_id = self.pick(self.debits, a)
            ledger.refund(Refund(wallet_id=WALLET, debit_id=debit_id, amount=b or None))
        elif kind == "void":
            ledger.void_grant(VoidGrant(wallet_id=WALLET, grant_id=self.pick(self.grants, a)))
        elif kind == "budget":
            ledger.set_budget(
                SetBudget(
                    wallet_id=WALLET,
                    budget_id=f"b{a % 2}",
                    scope=SUBJECTS[b % len(SUBJECTS)],
                    limit=a,
                    period=["day", "month", "total"][b % 3],
                    mode="hard" if b % 2 else "soft",
                )
            )
        elif kind == "unbudget":
            ledger.remove_budget(RemoveBudget(wallet_id=WALLET, budget_id=f"b{a % 2}"))
        elif kind == "time":
            self.clock.advance(minutes=a * (b % 10 + 1))
        elif kind == "sweep":
            ledger.sweep()
        else:
            version = ledger.saved[wallet_uuid(WALLET)].version
            if version not in self.snapshots:  # one snapshot per version
                ledger.take_snapshot(wallet_uuid(WALLET))
                self.snapshots.append(version)


@given(operations, st.sampled_from([0, 50, 5000]))
def test_replay_and_every_snapshot_equal_the_live_wallet(
    ops: list[Op], overdraft_limit: int
) -> None:
    driver = Driver(overdraft_limit)
    for op in ops:
        driver.apply(op)

    ledger = driver.ledger
    current = state(live(ledger))  # the aggregate the commands drove, as last saved
    assert state(replayed(ledger)) == current
    assert state(loaded(ledger)) == current

    # every snapshot taken on the way, plus the events after it, rebuilds the same wallet
    assert ledger.snapshots is not None
    snapshots = list(ledger.snapshots.get(wallet_uuid(WALLET)))
    assert [s.originator_version for s in snapshots] == driver.snapshots
    for snapshot in snapshots:
        assert isinstance(snapshot, Snapshot)
        start = snapshot.mutate(None)
        assert isinstance(start, Wallet)
        later = ledger.events.get(wallet_uuid(WALLET), gt=snapshot.originator_version)
        assert state(fold(start, later)) == current


@given(operations)
def test_replay_to_each_version_equals_the_repository_at_that_version(ops: list[Op]) -> None:
    driver = Driver(overdraft_limit=50)
    for op in ops:
        driver.apply(op)
    aggregate: Wallet | None = None
    for recorded in driver.ledger.events.get(wallet_uuid(WALLET)):
        aggregate = fold(aggregate, [recorded])
        stored: Wallet = driver.ledger.repository.get(
            wallet_uuid(WALLET), version=recorded.originator_version
        )
        assert state(aggregate) == state(stored)
