"""How a delivery goes out: the retry policy, the signatures and the stdlib HTTP sender.

``httpx`` is a development dependency only, so the runtime sender is ``urllib.request``:
redirects not followed (an answer other than 2xx: retried), a bounded timeout, no proxy
from the environment (a webhook goes to the URL it names) but the one configured
(:class:`Egress`, ``LEDGER_WEBHOOK_PROXY``). Link-local destinations (169.254.0.0/16, which
holds the cloud metadata services, and fe80::/10) are refused unless allowed: the address
a name resolves to is checked before connecting to it, so a name that resolves there is
refused too.

Each delivery carries two signatures of the same body: ``Ledger-Signature: t=<unix>,v1=<hex
HMAC-SHA256 of "<t>.<body>">`` and the Standard Webhooks headers ``webhook-id`` (the payload
``id``), ``webhook-timestamp`` and ``webhook-signature: v1,<base64 HMAC-SHA256 of
"<id>.<timestamp>.<body>">``, keyed so that any Standard Webhooks library verifies it with
``whsec_`` + base64(the secret's UTF-8 bytes) (:func:`standard_key`).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import http.client
import ipaddress
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "Answer",
    "DeliveryPolicy",
    "DestinationRefused",
    "Egress",
    "HttpSender",
    "Sender",
    "backoff",
    "is_link_local",
    "post_json",
    "refused_destination",
    "retry_after",
    "retry_delay",
    "sender",
    "sign",
    "signed_headers",
    "standard_key",
    "standard_signature",
]


@dataclass(frozen=True)
class Answer:
    """What a receiver answered: its status and its ``Retry-After`` header (as sent)."""

    status: int
    retry_after: str | None = None


Sender = Callable[[str, bytes, dict[str, str], float], "int | Answer"]
"""POST ``body`` to ``url`` with ``headers`` within ``timeout`` s: the HTTP status (or an
:class:`Answer` with its ``Retry-After``), or an exception when there is none (refused,
timed out)."""


@dataclass(frozen=True)
class DeliveryPolicy:
    base_seconds: float = 1.0
    cap_seconds: float = 600.0
    jitter: float = 0.5
    """Up to this fraction of each delay is taken off at random, so receivers coming back
    from an outage are not hit by every worker's retries at the same instants."""
    max_age: timedelta = timedelta(days=3)
    timeout_seconds: float = 5.0
    batch: int = 50
    idle_seconds: float = 0.5


def backoff(attempt: int, policy: DeliveryPolicy, draw: float = 0.0) -> timedelta:
    """How long after failed attempt ``attempt`` (1, 2, ...) the next one is due: doubling
    from ``base`` up to ``cap``, less ``jitter * draw`` of it (``draw`` in [0, 1))."""
    ceiling = min(policy.cap_seconds, policy.base_seconds * 2 ** min(attempt - 1, 40))
    return timedelta(seconds=ceiling * (1 - policy.jitter * draw))


def retry_after(value: str | None, now: datetime) -> timedelta | None:
    """A ``Retry-After`` header (seconds, or an HTTP date) as a delay from ``now``; None
    when absent or unreadable (then the backoff alone decides)."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return timedelta(seconds=int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(timedelta(0), when - now)


def retry_delay(
    attempt: int, policy: DeliveryPolicy, draw: float, asked: str | None, now: datetime
) -> timedelta:
    """How long to wait after failed attempt ``attempt``: the jittered backoff, and not less
    than the receiver's ``Retry-After`` (``asked``), which is honoured up to ``max_age``
    (a delivery is given up then anyway)."""
    delay = backoff(attempt, policy, draw)
    wanted = retry_after(asked, now)
    return delay if wanted is None else max(delay, min(wanted, policy.max_age))


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Ledger-Signature`` header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def standard_key(secret: str) -> str:
    """The key a Standard Webhooks library verifies deliveries with (``whsec_...``)."""
    return "whsec_" + base64.b64encode(secret.encode()).decode()


def standard_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value (Standard Webhooks, version ``v1``)."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    mac = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signed_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Both signatures of one delivery, and the ids that go with them."""
    return {
        "Ledger-Event-Id": message_id,
        "Ledger-Signature": sign(secret, timestamp, body),
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(secret, message_id, timestamp, body),
    }


# -- egress ---------------------------------------------------------------------------------

_LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))


def is_link_local(address: str) -> bool:
    """Whether ``address`` (an IP literal, IPv4-mapped IPv6 included) is link-local."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in _LINK_LOCAL)


@dataclass(frozen=True)
class Egress:
    """Where deliveries may go: through ``proxy`` (an ``http://`` URL) if set, and to
    link-local addresses only if ``allow_link_local``."""

    proxy: str | None = None
    allow_link_local: bool = False


def refused_destination(url: str, egress: Egress) -> str | None:
    """Why a webhook URL is refused before any lookup (its host is a link-local IP
    literal), or None. Names are checked when connecting (see the module docstring)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:  # not a URL at all: ledger.webhooks.check_webhook says why
        return None
    if not egress.allow_link_local and is_link_local(host):
        return f"{host} is a link-local address (cloud metadata); not a webhook destination"
    return None


class DestinationRefused(OSError):
    """The connection would reach a link-local address."""


def _guarded_connection(
    address: tuple[str, int],
    timeout: float | None = None,
    source_address: tuple[str, int] | None = None,
) -> socket.socket:
    """``socket.create_connection``, refusing a name with any link-local address before
    connecting, and connecting to the addresses checked (a second lookup could answer
    otherwise)."""
    host, port = address[0], address[1]
    infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    refused = sorted({str(info[4][0]) for info in infos if is_link_local(str(info[4][0]))})
    if refused:
        raise DestinationRefused(f"{host} is link-local ({', '.join(refused)}); refused")
    failure: OSError = OSError(f"{host} has no address")
    for info in infos:
        try:
            return socket.create_connection(
                (str(info[4][0]), int(info[4][1])), timeout, source_address
            )
        except OSError as error:
            failure = error
    raise failure


def _check_name(host: str) -> None:
    """Through a proxy the proxy connects: refuse a name that resolves here to link-local
    (one that does not resolve here is the proxy's to judge)."""
    if is_link_local(host):
        raise DestinationRefused(f"{host} is link-local; refused")
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return
    for info in infos:
        if is_link_local(str(info[4][0])):
            raise DestinationRefused(f"{host} resolves to link-local {info[4][0]}; refused")


class _HTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, guard: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if guard:
            self._create_connection = _guarded_connection


class _HTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, guard: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if guard:  # checked at connect, before the TLS handshake
            self._create_connection = _guarded_connection


class _GuardedHTTP(urllib.request.HTTPHandler):
    def __init__(self, egress: Egress) -> None:
        super().__init__()
        self.egress = egress

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_connection(_HTTPConnection, req, self.egress), req)


class _GuardedHTTPS(urllib.request.HTTPSHandler):
    def __init__(self, egress: Egress) -> None:
        super().__init__()
        self.egress = egress

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_connection(_HTTPSConnection, req, self.egress), req)


def _connection(kind: type[_HTTPConnection | _HTTPSConnection], req: Any, egress: Egress) -> Any:
    if egress.allow_link_local:
        return functools.partial(kind, guard=False)
    if egress.proxy is not None:  # the socket goes to the proxy: judge the name instead
        _check_name(urlsplit(req.full_url).hostname or "")
        return functools.partial(kind, guard=False)
    return functools.partial(kind, guard=True)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        del args, kwargs  # a redirect is an answer other than 2xx: retried, never followed


HttpSender = Callable[[str, bytes, dict[str, str], float], Answer]
"""A :data:`Sender` that always has an :class:`Answer` (the stdlib one)."""


def sender(egress: Egress) -> HttpSender:
    """The stdlib sender for ``egress`` (the URL's scheme is http or https, checked when it
    was set)."""
    proxies = {} if egress.proxy is None else {"http": egress.proxy, "https": egress.proxy}
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler(proxies),  # never the environment's
        _GuardedHTTP(egress),
        _GuardedHTTPS(egress),
        _NoRedirect(),
    )

    def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
        try:
            with opener.open(request, timeout=timeout) as response:
                return Answer(int(response.status))
        except urllib.error.HTTPError as answered:
            return Answer(int(answered.code), answered.headers.get("Retry-After"))
        except urllib.error.URLError as failed:
            if isinstance(failed.reason, DestinationRefused):
                raise failed.reason from None
            raise

    return post


post_json: HttpSender = sender(Egress())
"""The default sender: no proxy, link-local destinations refused."""
