"""An in-memory stand-in of the ledger's HTTP API for ``httpx.MockTransport``.

For what a real server cannot show on demand (a timeout after the commit, a 503 with
``Retry-After``, a dropped connection on the n-th attempt, a batch operation answered 503)
and for what the client sends to the contract 1.1 routes (tested against a real server in
test_live_lists.py and test_live_1_1.py). It
keeps balances and an idempotency store like the server's: a repeated key with the same body
answers the first result with ``Idempotent-Replayed: true``, with another body 409.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["COMMIT_THEN_DROP", "FakeLedger", "Recorded", "problem"]

Fault = Callable[[httpx.Request], "httpx.Response | Exception | str | None"]
COMMIT_THEN_DROP = "commit-then-drop"
"""A fault result: decide the request, then lose the answer (a read timeout)."""


def problem(status: int, code: str, **members: Any) -> httpx.Response:
    body = {
        "type": f"urn:credit-ledger:problem:{code}",
        "title": code.replace("_", " "),
        "status": status,
        "detail": code,
        "code": code,
        **members,
    }
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    query: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str | None:
        return self.headers.get("idempotency-key")


@dataclass
class FakeLedger:
    """Balances per wallet (opened on first use with ``opening_balance``), holds, debits."""

    opening_balance: int = 1000
    batch_route: bool = True
    down: bool = False
    overloaded_items: int = 0
    """Batch operations still to answer 503 ``overloaded`` (each on its own)."""
    requests: list[Recorded] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    balances: dict[str, int] = field(default_factory=dict)
    holds: dict[str, dict[str, Any]] = field(default_factory=dict)
    debits: list[dict[str, Any]] = field(default_factory=list)
    replies: dict[tuple[str, str], tuple[str, int, Any]] = field(default_factory=dict)
    position: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def sent(self, path: str | None = None, method: str | None = None) -> list[Recorded]:
        return [
            r
            for r in self.requests
            if (path is None or r.path == path) and (method is None or r.method == method)
        ]

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        recorded = Recorded(
            request.method,
            request.url.path,
            dict(request.headers),
            body,
            dict(request.url.params),
        )
        with self.lock:
            self.requests.append(recorded)
            fault = self.faults.pop(0) if self.faults else None
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        outcome = fault(request) if fault else None
        if isinstance(outcome, Exception):
            raise outcome
        if isinstance(outcome, httpx.Response):
            return outcome
        response = self.route(recorded)
        if outcome == COMMIT_THEN_DROP:
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return response

    # --- routes -------------------------------------------------------------------------
    def route(self, r: Recorded) -> httpx.Response:  # noqa: PLR0911 - one return per route
        path = r.path
        if path == "/v1/batch" and r.method == "POST":
            if not self.batch_route:
                return problem(404, "not_found")
            return self.batch(r.body["operations"])
        if match := re.fullmatch(r"/v1/wallets/([^/]+)/(debits|holds)", path):
            if r.method == "POST":
                op = "debit" if match[2] == "debits" else "hold"
                return self.decide(op, match[1], r.key, r.body or {}, None)
            return self.listing(match[1], match[2])
        if match := re.fullmatch(r"/v1/wallets/([^/]+)/holds/([^/]+)/(capture|release)", path):
            return self.decide(match[3], match[1], r.key, r.body or {}, match[2])
        if match := re.fullmatch(r"/v1/wallets/([^/]+)/holds/([^/]+)", path):
            hold = self.holds.get(match[2])
            return httpx.Response(200, json=hold) if hold else problem(404, "hold_not_found")
        return self.read(r)

    def read(self, r: Recorded) -> httpx.Response:  # noqa: PLR0911 - one return per route
        """The 1.1 reads, answered with fixed shapes."""
        path = r.path
        if path == "/v1/wallets" and r.method == "GET":
            items = [
                {
                    "wallet_id": w,
                    "customer_id": w,
                    "unit": "credits",
                    "created_at": None,
                    "balance": {"available": b, "held": 0, "debt": 0},
                }
                for w, b in sorted(self.balances.items())
            ]
            return httpx.Response(200, json={"wallets": items, "next_after": None})
        if match := re.fullmatch(r"/v1/wallets/[^/]+/debits/([^/]+)", path):
            found = [d for d in self.debits if d["debit_id"] == match[1]]
            detail = {**found[0], "refunded": 0, "refunds": []} if found else None
            return httpx.Response(200, json=detail) if found else problem(404, "debit_not_found")
        if path.endswith("/usage") and r.headers.get("accept") == "text/csv":
            csv = "window_start,model,debited,count\n2026-01-01T00:00:00Z,gpt-4.1,30,1\n"
            return httpx.Response(200, text=csv, headers={"content-type": "text/csv"})
        if match := re.fullmatch(r"/v1/wallets/[^/]+/allowances/([^/]+)", path):
            if r.method == "DELETE":
                return httpx.Response(204)
            body = r.body or {"amount": 1000, "category": "promotional", "period": "month"}
            reply = {"allowance_id": match[1], **body, "next_grant_at": "2026-02-01T00:00:00Z"}
            return httpx.Response(201 if r.method == "PUT" else 200, json=reply)
        if path.endswith("/allowances"):
            return httpx.Response(200, json={"allowances": []})
        lists = {
            "/v1/api-keys": "api_keys",
            "/v1/webhooks": "webhooks",
            "/v1/meters": "meters",
            "/v1/price-books": "price_books",
        }
        if path in lists:
            return httpx.Response(200, json={lists[path]: []})
        return problem(404, "not_found")

    def listing(self, wallet_id: str, kind: str) -> httpx.Response:
        if kind == "debits":
            items = [d for d in self.debits if d["wallet_id"] == wallet_id]
        else:
            items = [h for h in self.holds.values() if h["wallet_id"] == wallet_id]
        return httpx.Response(200, json={kind: items, "next_after": None})

    def batch(self, operations: list[dict[str, Any]]) -> httpx.Response:
        results = []
        for index, op in enumerate(operations):
            routing = {"op", "wallet_id", "idempotency_key"}
            fields = {k: v for k, v in op.items() if k not in routing}
            hold_id = fields.pop("hold_id", None) if op["op"] in {"capture", "release"} else None
            if self.overloaded_items:
                self.overloaded_items -= 1
                answer = problem(503, "overloaded")
            else:
                key = op["idempotency_key"]
                answer = self.decide(op["op"], op["wallet_id"], key, fields, hold_id)
            result = {"index": index, "status": answer.status_code, "body": answer.json()}
            if answer.headers.get("idempotent-replayed"):
                result["replayed"] = True
            results.append(result)
        headers = {"Ledger-Position": str(self.position)}
        return httpx.Response(200, json={"results": results}, headers=headers)

    def decide(
        self, op: str, wallet_id: str, key: str | None, body: dict[str, Any], hold_id: str | None
    ) -> httpx.Response:
        with self.lock:
            fingerprint = json.dumps([op, hold_id, body], sort_keys=True)
            if key is not None and (wallet_id, key) in self.replies:
                first, status, reply = self.replies[(wallet_id, key)]
                if first != fingerprint:
                    return problem(409, "idempotency_conflict")
                return httpx.Response(status, json=reply, headers={"Idempotent-Replayed": "true"})
            response = self._decide(op, wallet_id, body, hold_id)
            if key is not None and response.status_code < 500:
                reply = (fingerprint, response.status_code, response.json())
                self.replies[(wallet_id, key)] = reply
            return response

    def _decide(
        self, op: str, wallet_id: str, body: dict[str, Any], hold_id: str | None
    ) -> httpx.Response:
        available = self.balances.setdefault(wallet_id, self.opening_balance)
        balance = {"available": available, "held": 0, "debt": 0}
        if op in {"debit", "hold"}:
            amount = body.get("amount") or 10  # usage rates to 10 credits here
            if amount > available:
                return problem(402, "insufficient_credits", available=available, requested=amount)
            self.balances[wallet_id] = available - amount
            self.position += 1
            balance["available"] = available - amount
            if op == "debit":
                debit = {
                    "debit_id": str(uuid.uuid4()),
                    "wallet_id": wallet_id,
                    "amount": amount,
                    "allocations": [],
                    "balance": balance,
                    "subject": body.get("subject", {}),
                }
                self.debits.append(debit)
                return httpx.Response(201, json=debit, headers=self._pos())
            hold_id = body.get("hold_id") or f"h{len(self.holds) + 1}"
            hold = {
                "hold_id": hold_id,
                "status": "open",
                "amount": amount,
                "allocations": [],
                "wallet_id": wallet_id,
                "subject": body.get("subject", {}),
                "balance": balance,
            }
            self.holds[hold_id] = hold
            return httpx.Response(201, json=hold, headers=self._pos())
        found = self.holds.get(hold_id or "")
        if found is None:
            return problem(404, "hold_not_found")
        hold = found
        if hold["status"] != "open":
            return problem(409, "hold_not_open", hold_status=hold["status"])
        held = hold["amount"]
        used = body.get("amount", held) if op == "capture" else 0
        self.balances[wallet_id] = available + held - used
        hold["status"] = "captured" if op == "capture" else "released"
        self.position += 1
        balance["available"] = available + held - used
        reply = {
            "hold_id": hold_id,
            "status": hold["status"],
            "released": held - used,
            "balance": balance,
        }
        if op == "capture":
            reply |= {"captured": used, "overage": 0, "debt_incurred": 0}
        return httpx.Response(200, json=reply, headers=self._pos())

    def _pos(self) -> dict[str, str]:
        return {"Ledger-Position": str(self.position)}
