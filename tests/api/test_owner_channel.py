"""The owner channel (decision 0016): spending commands handled where they land and decided
by the shard's owner; answered byte for byte as that owner — or one process — would.

See :mod:`tests.support.owner_channel` for the two "processes" in one.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.channel_wire import HELLO, HELLO_MAX_BYTES, encode_request, frame
from api.forwarding import OWNERS_KEY
from ledger.app.commands import Debit
from ledger.app.keys import revoke_key
from ledger.domain.ids import receipt_id
from tests.support.api import Api, assert_problem, running_api
from tests.support.builders import FakeClock, make_ledger
from tests.support.owner_channel import OWNER_URL, owner_thread, route_to
from tests.support.wallets import event_types

USAGE = {"model": "gpt-4.1", "input_tokens": 1201, "cached_input_tokens": 333, "output_tokens": 77}
RATES = {"model": "gpt-4.1", "input_per_million": 2500, "output_per_million": 10000}
DEBITS = "/v1/wallets/acme/debits"
COMMAND = Debit(wallet_id="acme", amount=1, idempotency_key="stranger")
HOLDS = "/v1/wallets/acme/holds"


def _setup(api: Api) -> dict[str, str]:
    """acme with 1000 credits, a 300 budget for team t1 and a price book; two service keys."""
    api.funded_wallet("acme", 1000)
    budget = {"scope": {"team_id": "t1"}, "limit": 300, "period": "month"}
    assert api.put("/v1/wallets/acme/budgets/t1", budget).status_code == 201
    assert api.put("/v1/price-books/default", {"rates": [RATES]}).status_code == 201
    keys = {}
    for name in ("service", "doomed"):
        issued = api.post("/v1/api-keys", {"scopes": ["service"], "name": name}).json()
        keys[name], keys[f"{name}_id"] = issued["key"], issued["key_id"]
    return keys


def _scenario(api: Api, keys: dict[str, str]) -> list[httpx.Response]:
    """Every answer of the spending routes: successes, a replay and each refusal."""
    debit_1 = str(receipt_id("acme", "d-1"))
    service = keys["service"]

    def spend(path: str, body: Any, key: str, *, with_key: str = service) -> httpx.Response:
        return api.post(path, body, key=with_key, idempotency_key=key)

    answers = [
        spend(DEBITS, {"amount": 30, "subject": {"team_id": "t1"}}, "d-1"),
        spend(DEBITS, {"amount": 30, "subject": {"team_id": "t1"}}, "d-1"),  # replayed
        spend(DEBITS, {"amount": 31}, "d-1"),  # idempotency_conflict
        spend(DEBITS, {"amount": 400, "subject": {"team_id": "t1"}}, "d-2"),  # budget_exceeded
        spend(DEBITS, {"amount": 10_000}, "d-3"),  # insufficient_credits
        spend("/v1/wallets/nobody/debits", {"amount": 1}, "d-4"),  # wallet_not_found
        spend(DEBITS, {"amount": 1, "occurred_at": "2030-01-01T00:00:00Z"}, "d-5"),  # 422
        spend(DEBITS, {"usage": USAGE}, "d-6"),  # rated
        spend(DEBITS, {"usage": {**USAGE, "model": "o3"}}, "d-7"),  # unknown_model
        spend(f"{DEBITS}/{debit_1}/refunds", {"amount": 5}, "r-1"),
        spend(f"{DEBITS}/{debit_1}/refunds", {"amount": 1000}, "r-2"),  # refund_exceeds_debit
        spend(f"{DEBITS}/no-such-debit/refunds", None, "r-3"),  # debit_not_found
        spend(HOLDS, {"hold_id": "h1", "amount": 50, "subject": {"user_id": "u1"}}, "h-1"),
        spend(HOLDS, {"hold_id": "h1", "amount": 50}, "h-2"),  # hold_exists
        spend(f"{HOLDS}/h1/capture", {"amount": 60}, "c-1"),  # capture_exceeds_hold
        spend(f"{HOLDS}/h1/capture", {"amount": 20}, "c-2"),
        spend(f"{HOLDS}/h1/capture", None, "c-3"),  # hold_not_open (captured)
        spend(f"{HOLDS}/h1/release", None, "l-1"),  # hold_not_open
        spend(f"{HOLDS}/nope/release", None, "l-2"),  # hold_not_found
        spend(HOLDS, {"hold_id": "h2", "amount": 10}, "h-3"),
        spend(f"{HOLDS}/h2/release", None, "l-3"),
        spend(DEBITS, {"amount": 1}, "d-8", with_key=keys["doomed"]),  # the key is now cached
    ]
    assert revoke_key(api.ledger, keys["doomed_id"])  # by another process: still cached here
    answers.append(spend(DEBITS, {"amount": 1}, "d-9", with_key=keys["doomed"]))  # at commit
    answers.append(spend(DEBITS, {"amount": 1}, "d-10", with_key=keys["doomed"]))  # forgotten
    return answers


def _seen(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    return response.status_code, sorted(response.headers.multi_items()), response.content


def test_commands_decided_by_the_owner_answer_byte_for_byte_as_one_process() -> None:
    clock = FakeClock()
    with running_api(make_ledger(clock=clock, group_commit=True), clock) as alone:
        local = _scenario(alone, _setup(alone))
    clock = FakeClock()
    ledger = make_ledger(clock=clock, group_commit=True)
    with running_api(ledger, clock) as api, owner_thread(ledger) as owner:
        keys = _setup(api)
        route_to(api, owner.channel)
        relayed = _scenario(api, keys)
        # Every one was decided by the owner, but the last: the owner's 401 made this process
        # forget the key, so it checked it against the store itself.
        assert owner.server.commands == len(relayed) - 1

    assert [_seen(r) for r in relayed] == [_seen(r) for r in local]
    statuses = [r.status_code for r in local]
    assert statuses == [201, 201, 409, 402, 402, 404, 422, 201, 422, 201, 409, 404,
                        201, 409, 409, 200, 409, 409, 404, 201, 200, 201, 401, 401]  # fmt: skip
    assert local[1].headers["Idempotent-Replayed"] == "true"
    assert assert_problem(local[16], 409, "hold_not_open")["hold_status"] == "captured"


@pytest.fixture
def relaying() -> Iterator[tuple[Api, Any]]:
    """acme funded; every spending command goes to an owner on the same ledger."""
    clock = FakeClock()
    ledger = make_ledger(clock=clock, group_commit=True)
    with running_api(ledger, clock) as api, owner_thread(ledger) as owner:
        api.funded_wallet("acme", 1000)
        route_to(api, owner.channel)
        yield api, owner


def _debit_in_thread(api: Api, key: str, answers: dict[str, httpx.Response]) -> threading.Thread:
    def run() -> None:
        answers[key] = api.post(DEBITS, {"amount": 10}, idempotency_key=key)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_lost_answer_is_overloaded_and_the_retry_replays_the_one_decision(
    relaying: tuple[Api, Any],
) -> None:
    api, owner = relaying
    committer = api.ledger.committer
    assert committer is not None
    answers: dict[str, httpx.Response] = {}
    with committer.paused():  # the owner has the command and has not decided it yet
        thread = _debit_in_thread(api, "lost-1", answers)
        owner.wait_in_flight(1)
        owner.drop_connections()
        thread.join(10)
    body = assert_problem(answers["lost-1"], 503, "overloaded")
    assert "retry with the same idempotency key" in body["detail"]

    retried = api.post(DEBITS, {"amount": 10}, idempotency_key="lost-1")

    assert retried.status_code == 201
    assert retried.headers["Idempotent-Replayed"] == "true"  # decided once, by the owner
    assert event_types(api.ledger, "acme").count("CreditsDebited") == 1
    assert api.get("/v1/wallets/acme").json()["balance"]["available"] == 990


def test_an_owner_cut_off_mid_stream_never_doubles_a_debit(relaying: tuple[Api, Any]) -> None:
    """Several commands in flight when the owner's connections die: every one answers 503,
    each retry with its key answers the single decision, none is recorded twice."""
    api, owner = relaying
    committer = api.ledger.committer
    assert committer is not None
    keys = [f"cut-{n}" for n in range(6)]
    answers: dict[str, httpx.Response] = {}
    with committer.paused():
        threads = [_debit_in_thread(api, key, answers) for key in keys]
        owner.wait_in_flight(len(keys))
        owner.drop_connections()
        for thread in threads:
            thread.join(10)
    assert {answers[key].status_code for key in keys} == {503}

    retried = [api.post(DEBITS, {"amount": 10}, idempotency_key=key) for key in keys]

    assert [r.status_code for r in retried] == [201] * len(keys)
    assert all(r.headers["Idempotent-Replayed"] == "true" for r in retried)
    assert event_types(api.ledger, "acme").count("CreditsDebited") == len(keys)
    assert api.get("/v1/wallets/acme").json()["balance"]["available"] == 1000 - 10 * len(keys)


def test_an_owner_refusing_connections_is_taken_over_and_the_command_decided_here() -> None:
    ledger = make_ledger(clock=FakeClock(), group_commit=True)
    with running_api(ledger) as api:
        api.funded_wallet("acme", 1000)
        owner = owner_thread(ledger)
        with owner as gone:
            channel = gone.channel
        owners = route_to(api, channel)  # the owner has stopped: nobody listens there

        answer = api.post(DEBITS, {"amount": 10}, idempotency_key="k-1")

    assert answer.status_code == 201
    assert owners.taken == [(0, OWNER_URL)]


def test_a_channel_with_another_token_is_not_used_and_the_command_decided_here() -> None:
    ledger = make_ledger(clock=FakeClock(), group_commit=True)
    with running_api(ledger) as api, owner_thread(ledger, token="the-real-one") as owner:  # noqa: S106
        api.funded_wallet("acme", 1000)
        owners = route_to(api, owner.channel.replace("the-real-one", "a-stale-one"))

        answer = api.post(DEBITS, {"amount": 10}, idempotency_key="k-1")

        assert owner.server.commands == 0  # the owner closed the connection at the hello
    assert answer.status_code == 201
    assert owners.taken == []  # it is alive: not taken over


def test_other_wallet_writes_still_go_to_the_owner_as_http(relaying: tuple[Api, Any]) -> None:
    """A grant is not a spending command: it is forwarded as a request (here to an owner
    that refuses connections, so it is taken over and decided here), never over the channel."""
    api, owner = relaying
    owners = api.client.app.state[OWNERS_KEY]

    granted = api.post("/v1/wallets/acme/grants", {"amount": 5, "category": "paid"})

    assert granted.status_code == 201
    assert owner.server.commands == 0
    assert owners.taken == [(0, OWNER_URL)]


@pytest.mark.parametrize(
    "first_bytes",
    [
        frame((HELLO, "not-the-token")) + encode_request(1, "debit_later", None, 0, COMMAND),
        encode_request(1, "debit_later", None, 0, COMMAND),  # no hello at all
        (HELLO_MAX_BYTES + 1).to_bytes(4, "big") + b"x" * 64,  # a huge first frame
    ],
)
def test_a_stranger_is_disconnected_and_nothing_is_decided(first_bytes: bytes) -> None:
    ledger = make_ledger(clock=FakeClock(), group_commit=True)
    with owner_thread(ledger) as owner:
        port = int(owner.channel.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as stranger:
            stranger.sendall(first_bytes)
            try:
                answer = stranger.recv(1024)
            except ConnectionResetError:  # closed with bytes unread: a reset, not an end
                answer = b""
            assert answer == b""  # closed, without a word
        assert owner.server.commands == 0
