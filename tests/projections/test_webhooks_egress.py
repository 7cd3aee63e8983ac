"""Where webhook deliveries may go: never to link-local addresses (cloud metadata) unless
allowed, and through the configured egress proxy when there is one."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from api.settings import Settings
from ledger.app.commands import OpenWallet
from projections.alerts.http import DestinationRefused, Egress, is_link_local, sender
from tests.support.alerts import ALL_TYPES, SECRET, harness
from tests.support.api import Api, error_fields, running_api

METADATA = "http://169.254.169.254/latest/meta-data"
HOOK = {"secret": SECRET, "events": ALL_TYPES}


@pytest.fixture
def api() -> Iterator[Api]:
    with running_api() as api:
        yield api


@pytest.mark.parametrize(
    "url", [METADATA, "http://[fe80::1]/hook", "https://[::ffff:169.254.169.254]/hook"]
)
def test_a_link_local_webhook_url_is_refused(api: Api, url: str) -> None:
    response = api.put("/v1/webhooks/ops", {**HOOK, "url": url})

    assert error_fields(response) == ["url"]


def test_a_link_local_webhook_url_is_accepted_when_the_server_allows_it() -> None:
    with running_api(webhook_allow_link_local=True) as api:
        response = api.put("/v1/webhooks/ops", {**HOOK, "url": METADATA})

    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("address", "link_local"),
    [
        ("169.254.169.254", True),
        ("169.254.0.1", True),
        ("fe80::1%eth0", True),
        ("::ffff:169.254.169.254", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("2001:db8::1", False),
        ("metadata.internal", False),  # a name: judged by what it resolves to
    ],
)
def test_which_addresses_are_link_local(address: str, link_local: bool) -> None:
    assert is_link_local(address) is link_local


def test_a_name_that_resolves_to_link_local_is_refused_before_connecting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = socket.getaddrinfo
    connected: list[Any] = []

    def resolve(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "metadata.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", 80))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **_: connected.append(a))

    with pytest.raises(DestinationRefused):
        sender(Egress())("http://metadata.test/hook", b"{}", {}, 1.0)

    assert connected == []


def test_a_refused_destination_fails_the_delivery_without_retrying() -> None:
    with harness() as h:
        h.ledger.open_wallet(OpenWallet(wallet_id="acme"))
        h.webhook("ops", METADATA)  # set while allowed, say; the worker refuses it anyway
        h.settings("acme", low=10)
        h.project()

        h.delivery(send=sender(Egress())).tick()

        log = h.log("ops")
    assert [e["status"] for e in log] == ["pending", "failed"]
    assert "DestinationRefused" in str(log[1]["error"])


@contextmanager
def proxy() -> Iterator[tuple[str, list[str]]]:
    """A forward HTTP proxy on 127.0.0.1 that answers every request itself (204) and keeps
    its request lines (absolute-form: the target URL in full)."""
    lines: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            lines.append(self.requestline)
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", lines
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_deliveries_go_through_the_configured_proxy() -> None:
    with proxy() as (address, lines):
        send = sender(Egress(proxy=address))
        answer = send("http://receiver.invalid/hook", b"{}", {}, 5.0)

    assert answer.status == 204
    assert lines == ["POST http://receiver.invalid/hook HTTP/1.1"]


def test_a_proxy_does_not_open_the_way_to_link_local_addresses() -> None:
    with proxy() as (address, lines), pytest.raises(DestinationRefused):
        sender(Egress(proxy=address))(METADATA, b"{}", {}, 5.0)

    assert lines == []


def test_the_proxy_and_the_link_local_switch_are_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_WEBHOOK_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("LEDGER_WEBHOOK_ALLOW_LINK_LOCAL", "true")

    egress = Settings().webhook_egress()

    assert egress == Egress(proxy="http://proxy.internal:3128", allow_link_local=True)


def test_the_environments_proxy_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    with proxy() as (address, lines):
        host = address.removeprefix("http://")
        answer = sender(Egress())(f"http://{host}/direct", b"{}", {}, 5.0)

    assert answer.status == 204
    assert lines == ["POST /direct HTTP/1.1"]  # origin-form: straight to the receiver
