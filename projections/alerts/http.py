"""How a delivery goes out: the retry policy, the signature and the stdlib HTTP sender.

``httpx`` is a development dependency only, so the runtime sender is ``urllib.request``:
no proxies from the environment (a webhook goes to the URL it names), redirects not
followed (an answer other than 2xx: retried), a bounded timeout.
"""

from __future__ import annotations

import hashlib
import hmac
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

__all__ = ["DeliveryPolicy", "Sender", "backoff", "post_json", "sign"]

Sender = Callable[[str, bytes, dict[str, str], float], int]
"""POST ``body`` to ``url`` with ``headers`` within ``timeout`` s: the HTTP status, or an
exception when there is none (refused, timed out)."""


@dataclass(frozen=True)
class DeliveryPolicy:
    base_seconds: float = 1.0
    cap_seconds: float = 600.0
    max_age: timedelta = timedelta(days=3)
    timeout_seconds: float = 5.0
    batch: int = 50
    idle_seconds: float = 0.5


def backoff(attempt: int, policy: DeliveryPolicy) -> timedelta:
    """How long after failed attempt ``attempt`` (1, 2, ...) the next one is due."""
    return timedelta(
        seconds=min(policy.cap_seconds, policy.base_seconds * 2 ** min(attempt - 1, 40))
    )


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Ledger-Signature`` header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        del args, kwargs  # a redirect is an answer other than 2xx: retried, never followed


# No proxies from the environment: a webhook goes to the URL it names.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def post_json(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """The stdlib sender (the URL's scheme is http or https, checked when it was set)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as answered:
        return int(answered.code)
