"""``POST /v1/batch`` in a fleet: operations on a shard another process owns are decided by
that owner over the channel (decision 0016), as a single endpoint's command would be, and
answered exactly as one process answers them.

See :mod:`tests.support.owner_channel` for the two "processes" in one.
"""

from __future__ import annotations

from tests.support.api import running_api
from tests.support.batch import SCRIPT, app, batch, operation, prepare, seen
from tests.support.builders import FakeClock, make_ledger
from tests.support.owner_channel import OWNER_URL, owner_thread, route_to


def test_a_batch_is_decided_by_the_owner_and_answered_as_by_one_process() -> None:
    operations = [operation(*step) for step in SCRIPT]
    with app(group_commit=True) as alone:
        local = batch(alone, operations)
        again_local = batch(alone, operations)
    clock = FakeClock()
    ledger = make_ledger(clock=clock, group_commit=True)
    with running_api(ledger, clock) as api, owner_thread(ledger) as owner:
        prepare(api)
        route_to(api, owner.channel)

        relayed = batch(api, operations)
        again = batch(api, operations)  # a retried batch decides nothing twice
        # every operation went to the owner but the malformed ones, refused before
        malformed = sum(r["body"].get("code") == "validation_error" for r in relayed)
        assert 0 < owner.server.commands <= 2 * len(operations)
        assert owner.server.commands >= 2 * (len(operations) - malformed)

    assert [seen(r) for r in relayed] == [seen(r) for r in local]
    assert [seen(r) for r in again] == [seen(r) for r in again_local]
    assert all(r["status"] >= 400 or r.get("replayed") for r in again)


def test_a_batch_for_an_owner_that_is_gone_is_decided_here() -> None:
    ledger = make_ledger(clock=FakeClock(), group_commit=True)
    with running_api(ledger) as api:
        prepare(api)
        with owner_thread(ledger) as gone:
            channel = gone.channel
        owners = route_to(api, channel)  # the owner has stopped: nobody listens there

        results = batch(
            api,
            [
                operation("debit", "acme", "a", {"amount": 10}),
                operation("debit", "acme", "b", {"amount": 5000}),
                operation("debit", "acme", "c", {"amount": 20}),
            ],
        )

        assert [r["status"] for r in results] == [201, 402, 201]
        assert results[2]["body"]["balance"]["available"] == 1000 - 30
        assert owners.taken == [(0, OWNER_URL)]
