"""The client covers every operation of the contract, and both clients offer the same ones.

Each client method is built from one operation builder (``credit_ledger.binding``); calling
the builders with placeholder ids gives the (method, path) each method sends. That set must
hold every operation of the running server's OpenAPI document and every addition of
contract 1.1, and the async client must bind exactly the builders the sync one does.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from credit_ledger import AsyncLedger, Ledger
from credit_ledger.binding import async_every, async_op, async_spend, every, op, spend

from tests.support.api import running_api

CONTRACT_1_1 = {
    ("post", "/v1/batch"),
    ("get", "/v1/wallets"),
    ("get", "/v1/wallets/{wallet_id}/debits"),
    ("get", "/v1/wallets/{wallet_id}/debits/{debit_id}"),
    ("get", "/v1/wallets/{wallet_id}/holds"),
    ("get", "/v1/api-keys"),
    ("get", "/v1/webhooks"),
    ("get", "/v1/meters"),
    ("get", "/v1/price-books"),
    ("put", "/v1/wallets/{wallet_id}/allowances/{allowance_id}"),
    ("get", "/v1/wallets/{wallet_id}/allowances"),
    ("get", "/v1/wallets/{wallet_id}/allowances/{allowance_id}"),
    ("delete", "/v1/wallets/{wallet_id}/allowances/{allowance_id}"),
    ("put", "/v1/wallets/{wallet_id}/alert-settings"),
    ("get", "/v1/wallets/{wallet_id}/alert-settings"),
}
SAMPLES: dict[str, Any] = {
    "amount": 1,
    "category": "paid",
    "scopes": ["admin"],
    "rates": [],
    "events": [],
    "operations": [],
    "limit": 1,
    "period": "month",
    "event_type": "e",
    "aggregation": "sum",
    "url": "http://example.test",
    "secret": "s" * 32,
}


def bound_operations(cls: type[Any]) -> dict[str, Any]:
    kinds = (op, spend, async_op, async_spend)
    return {name: value for name, value in vars(cls).items() if isinstance(value, kinds)}


def sent_by(builder: Any) -> tuple[str, str, str | None]:
    """The method, path template and Accept header a builder's Call sends."""
    arguments: dict[str, Any] = {}
    for name, parameter in inspect.signature(builder).parameters.items():
        if name in SAMPLES and (parameter.default is inspect.Parameter.empty or name == "amount"):
            arguments[name] = SAMPLES[name]
        elif parameter.default is inspect.Parameter.empty:
            arguments[name] = f"__{name}__"
    call = builder(**arguments)
    path = call.path
    for name, value in arguments.items():
        if isinstance(value, str) and value.startswith("__"):
            path = path.replace(value, "{" + name + "}")
    return call.method.lower(), path, call.accept


def client_operations() -> dict[str, tuple[str, str, str | None]]:
    return {name: sent_by(b.build) for name, b in bound_operations(Ledger).items()}


def test_every_route_of_the_server_has_a_client_method() -> None:
    with running_api() as api:
        document = api.get("/schema/openapi.json", key=None).json()
    served = {
        (method, path)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "post", "put", "delete"}
    }
    covered = {(method, path) for method, path, _ in client_operations().values()}

    assert served - covered == set()


def test_every_addition_of_contract_1_1_has_a_client_method() -> None:
    covered = {(method, path) for method, path, _ in client_operations().values()}

    assert CONTRACT_1_1 - covered == set()


def test_the_csv_exports_ask_for_csv() -> None:
    operations = client_operations()

    assert operations["journal_csv"] == ("get", "/v1/journal", "text/csv")
    assert operations["usage_csv"] == ("get", "/v1/wallets/{wallet_id}/usage", "text/csv")
    assert operations["get_usage"][2] is None


def test_both_clients_offer_the_same_operations_built_the_same_way() -> None:
    sync = bound_operations(Ledger)
    asynchronous = bound_operations(AsyncLedger)

    assert sync.keys() == asynchronous.keys()
    for name, bound in sync.items():
        assert asynchronous[name].build is bound.build, name
        assert isinstance(asynchronous[name], async_spend) == isinstance(bound, spend), name
    spending = {name for name, bound in sync.items() if isinstance(bound, spend)}
    assert spending == {"debit", "place_hold", "capture_hold", "release_hold"}


def test_the_methods_take_the_builders_parameters_and_documentation() -> None:
    ledger = Ledger("http://ledger.test", "k")
    with ledger:
        method = ledger.debit

    assert inspect.signature(method) == inspect.signature(bound_operations(Ledger)["debit"].build)
    assert method.__doc__
    assert "Authorize and deduct" in method.__doc__


def test_every_paged_list_has_an_iterator_in_both_clients() -> None:
    operations = bound_operations(Ledger)
    paged = {
        bound.build
        for bound in operations.values()
        if re.match(r"Call\[(Page\[|\w+Page\])", inspect.signature(bound.build).return_annotation)
    }
    sync = {v.build: n for n, v in inspect.getmembers(Ledger) if isinstance(v, every)}
    asynchronous = {
        v.build: n for n, v in inspect.getmembers(AsyncLedger) if isinstance(v, async_every)
    }

    assert len(paged) >= 10
    assert set(sync) == set(asynchronous) == paged
    assert sync == asynchronous
    assert sync[operations["list_wallets"].build] == "iter_wallets"
    assert sync[operations["get_journal"].build] == "iter_journal"
    assert sync[operations["wallet_events"].build] == "iter_wallet_events"


def test_both_clients_have_the_same_helpers() -> None:
    helpers = {"hold", "request", "replay_journal", "last_position", "pending_journal"}

    assert helpers <= set(dir(Ledger))
    assert helpers <= set(dir(AsyncLedger))
    sync, asynchronous = inspect.signature(Ledger.hold), inspect.signature(AsyncLedger.hold)
    assert sync.parameters == asynchronous.parameters
