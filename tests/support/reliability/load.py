"""Clients that keep writing through faults, and what each of them was told.

Every client thread runs a mix of debits, hold-then-capture, hold-then-release, batches
(``POST /v1/batch``: debits on several wallets plus a hold and its capture, in that order),
small top-up grants and balance reads on shared wallets. Each request carries an idempotency
key the client chose, and is sent again with the same key and body after any error, timeout,
refused connection, 5xx or 429, until a definitive answer (2xx or 402) arrives, as a careful
production client would; any other 4xx is a failure of the run. A batch is sent again, whole
and with the same keys, until every one of its operations has a definitive answer. So when
the clients are done there is no operation whose outcome is unknown: the ledger must hold
exactly what the clients were told it holds.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["DEFINITIVE", "ClientLog", "Keys", "LoadClient", "run_clients"]

DEFINITIVE = frozenset({200, 201, 402})
"""Answers that settle an operation; anything else (5xx, 429, no answer) is sent again."""
GIVE_UP_SECONDS = 180.0
REQUEST_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Keys:
    """A ``service`` key for spending, an ``admin`` key for the top-up grants."""

    service: str
    admin: str


@dataclass
class ClientLog:
    """What one client sent and was told (merged over clients by :meth:`merge`)."""

    asked_debits: set[tuple[str, str]] = field(default_factory=set)
    acked_debits: dict[tuple[str, str], int] = field(default_factory=dict)
    acked_holds: dict[tuple[str, str], int] = field(default_factory=dict)
    acked_captures: dict[tuple[str, str], int] = field(default_factory=dict)
    acked_releases: set[tuple[str, str]] = field(default_factory=set)
    acked_grants: dict[tuple[str, str], int] = field(default_factory=dict)
    operations: int = 0
    requests: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    undecided: list[str] = field(default_factory=list)
    latencies: list[tuple[float, float]] = field(default_factory=list)
    """(monotonic time answered, seconds taken) of every answered request."""
    contention: list[float] = field(default_factory=list)
    """Monotonic times of the 503 ``contention`` answers (a fleet must give none)."""

    def merge(self, other: ClientLog) -> None:
        self.asked_debits |= other.asked_debits
        self.acked_debits |= other.acked_debits
        self.acked_holds |= other.acked_holds
        self.acked_captures |= other.acked_captures
        self.acked_releases |= other.acked_releases
        self.acked_grants |= other.acked_grants
        self.operations += other.operations
        self.requests += other.requests
        self.statuses += other.statuses
        self.unexpected += other.unexpected
        self.undecided += other.undecided
        self.latencies += other.latencies
        self.contention += other.contention


class LoadClient:
    """One client thread's loop; ``stop`` ends it after the operation in progress settles."""

    def __init__(
        self,
        url: str,
        keys: Keys,
        wallets: list[str],
        name: str,
        stop: threading.Event,
        *,
        top_ups: bool = True,
    ) -> None:
        self.http = httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_SECONDS)
        self.top_ups = top_ups
        self.keys = keys
        self.wallets = wallets
        self.name = name
        self.stop = stop
        self.log = ClientLog()
        self.rng = random.Random(name)
        self.count = 0

    def send(
        self, path: str, body: dict[str, Any], key: str, *, admin: bool = False
    ) -> httpx.Response | None:
        """POST until the answer is definitive; None if it never was (a lost operation)."""
        started = time.monotonic()
        backoff = 0.05
        api_key = self.keys.admin if admin else self.keys.service
        headers = {"Authorization": f"Bearer {api_key}", "Idempotency-Key": key}
        while time.monotonic() - started < GIVE_UP_SECONDS:
            self.log.requests += 1
            sent = time.monotonic()
            try:
                response = self.http.post(path, json=body, headers=headers)
            except httpx.TransportError as error:
                self.log.statuses[type(error).__name__] += 1
            else:
                answered = time.monotonic()
                self.log.latencies.append((answered, answered - sent))
                self.log.statuses[str(response.status_code)] += 1
                if response.status_code == 503 and b'"contention"' in response.content:
                    self.log.contention.append(answered)
                if response.status_code in DEFINITIVE:
                    return response
                if response.status_code < 500 and response.status_code != 429:
                    self.log.unexpected.append(f"{path} {response.status_code} {response.text}")
                    return response
            time.sleep(backoff * (0.5 + self.rng.random()))
            backoff = min(1.0, backoff * 2)
        self.log.undecided.append(f"{path} {key}")
        return None

    def next_key(self, kind: str) -> str:
        self.count += 1
        return f"{self.name}-{kind}-{self.count}"

    def debit(self, wallet: str) -> None:
        key, amount = self.next_key("d"), self.rng.randint(1, 20)
        self.log.asked_debits.add((wallet, key))
        response = self.send(f"/v1/wallets/{wallet}/debits", {"amount": amount}, key)
        if response is not None and response.status_code == 201:
            self.log.acked_debits[(wallet, key)] = response.json()["amount"]

    def hold(self, wallet: str, capture: bool) -> None:
        hold_id, amount = self.next_key("h"), self.rng.randint(1, 20)
        body = {"hold_id": hold_id, "amount": amount}
        placed = self.send(f"/v1/wallets/{wallet}/holds", body, hold_id)
        if placed is None or placed.status_code != 201:
            return
        self.log.acked_holds[(wallet, hold_id)] = amount
        path = f"/v1/wallets/{wallet}/holds/{hold_id}"
        if capture:
            # Sometimes more than was held: the overage becomes debt within the overdraft.
            wanted = {"amount": self.rng.randint(1, amount + 5), "allow_overage": True}
            captured = self.send(f"{path}/capture", wanted, f"{hold_id}-capture")
            if captured is not None and captured.status_code == 200:
                self.log.acked_captures[(wallet, hold_id)] = captured.json()["captured"]
                return
        released = self.send(f"{path}/release", {}, f"{hold_id}-release")
        if released is not None and released.status_code == 200:
            self.log.acked_releases.add((wallet, hold_id))

    def send_batch(self, operations: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """POST the batch until every result is definitive; None if it never was.

        A capture whose hold was refused (402) in the same batch answers 404: definitive too.
        """
        started = time.monotonic()
        backoff = 0.05
        headers = {"Authorization": f"Bearer {self.keys.service}"}
        while time.monotonic() - started < GIVE_UP_SECONDS:
            self.log.requests += 1
            try:
                response = self.http.post(
                    "/v1/batch", json={"operations": operations}, headers=headers
                )
            except httpx.TransportError as error:
                self.log.statuses[type(error).__name__] += 1
            else:
                self.log.statuses[f"batch:{response.status_code}"] += 1
                if response.status_code == 200:
                    results: list[dict[str, Any]] = response.json()["results"]
                    if all(r["status"] in DEFINITIVE | {404} for r in results):
                        return results
                elif response.status_code < 500 and response.status_code != 429:
                    self.log.unexpected.append(f"batch {response.status_code} {response.text}")
                    return None
            time.sleep(backoff * (0.5 + self.rng.random()))
            backoff = min(1.0, backoff * 2)
        self.log.undecided.append(f"batch {operations[0]['idempotency_key']}")
        return None

    def batch(self) -> None:
        """Up to three debits on distinct random wallets (fewer wallets, fewer debits), then a
        hold and its capture on one wallet."""
        operations: list[dict[str, Any]] = []
        for wallet in self.rng.sample(self.wallets, min(3, len(self.wallets))):
            key = self.next_key("bd")
            self.log.asked_debits.add((wallet, key))
            debit = {"op": "debit", "wallet_id": wallet, "amount": self.rng.randint(1, 20)}
            operations.append({**debit, "idempotency_key": key})
        wallet, hold_id, amount = self.rng.choice(self.wallets), self.next_key("bh"), 10
        hold = {"op": "hold", "wallet_id": wallet, "hold_id": hold_id, "amount": amount}
        capture = {"op": "capture", "wallet_id": wallet, "hold_id": hold_id, "amount": 4}
        operations += [
            {**hold, "idempotency_key": hold_id},
            {**capture, "idempotency_key": f"{hold_id}-capture"},
        ]
        results = self.send_batch(operations)
        if results is None:
            return
        for op, result in zip(operations, results, strict=True):
            at = (op["wallet_id"], op.get("hold_id") or op["idempotency_key"])
            if result["status"] == 404 and op["op"] != "capture":
                self.log.unexpected.append(f"batch item {op} answered {result}")
            elif result["status"] == 201 and op["op"] == "debit":
                self.log.acked_debits[at] = result["body"]["amount"]
            elif result["status"] == 201:
                self.log.acked_holds[at] = amount
            elif result["status"] == 200:
                self.log.acked_captures[at] = result["body"]["captured"]

    def top_up(self, wallet: str) -> None:
        grant_id, amount = self.next_key("g"), self.rng.randint(20, 100)
        body = {"grant_id": grant_id, "amount": amount, "category": "paid"}
        response = self.send(f"/v1/wallets/{wallet}/grants", body, grant_id, admin=True)
        if response is not None and response.status_code == 201:
            self.log.acked_grants[(wallet, grant_id)] = amount

    def read(self, wallet: str) -> None:
        """A balance read: not retried (it changes nothing), only timed."""
        headers = {"Authorization": f"Bearer {self.keys.service}"}
        sent = time.monotonic()
        try:
            response = self.http.get(f"/v1/wallets/{wallet}", headers=headers)
        except httpx.TransportError as error:
            self.log.statuses[type(error).__name__] += 1
            return
        answered = time.monotonic()
        self.log.requests += 1
        self.log.latencies.append((answered, answered - sent))
        self.log.statuses[str(response.status_code)] += 1

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                wallet = self.rng.choice(self.wallets)
                roll = self.rng.random()
                if roll < 0.4:
                    self.debit(wallet)
                elif roll < 0.5:
                    self.batch()
                elif roll < 0.75:
                    self.hold(wallet, capture=True)
                elif roll < 0.8:
                    self.hold(wallet, capture=False)
                elif roll < 0.9 and self.top_ups:
                    self.top_up(wallet)
                else:
                    self.read(wallet)
                self.log.operations += 1
        finally:
            self.http.close()


def run_clients(
    url: str,
    keys: Keys,
    wallets: list[str],
    clients: int,
    stop: threading.Event,
    *,
    top_ups: bool = True,
) -> tuple[list[threading.Thread], list[LoadClient]]:
    """Start ``clients`` load threads; join the threads after setting ``stop``.

    ``top_ups=False`` replaces the top-up grants by reads: every grant stays in its wallet's
    state for good (docs/reliability.md), so a long run with top-ups measures that growth.
    """
    loads = [LoadClient(url, keys, wallets, f"c{i}", stop, top_ups=top_ups) for i in range(clients)]
    threads = [threading.Thread(target=load.run, name=load.name, daemon=True) for load in loads]
    for thread in threads:
        thread.start()
    return threads, loads
