"""``python -m api.probe``: exit 0 if the API on this machine is ready, else 1.

The container's healthcheck (``HEALTHCHECK`` in the Dockerfile): it asks ``GET /readyz`` (200
when every event store answers) at ``LEDGER_HOST``:``LEDGER_PORT``, the address ``ledger serve``
binds by default, on the loopback address when the server listens on every interface. Only the
standard library: it runs every few seconds.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

__all__ = ["TIMEOUT_SECONDS", "main", "readiness_url"]

TIMEOUT_SECONDS = 4.0
_ANY_ADDRESS = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}  # noqa: S104 - not bound


def readiness_url(environ: dict[str, str] | None = None) -> str:
    """Where the server that ``ledger serve`` would start with this environment answers."""
    env = os.environ if environ is None else environ
    host = env.get("LEDGER_HOST", "127.0.0.1")
    host = _ANY_ADDRESS.get(host, f"[{host}]" if ":" in host else host)
    return f"http://{host}:{env.get('LEDGER_PORT', '8000')}/readyz"


def main() -> int:
    url = readiness_url()
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310 - http, ours
            status: int = answer.status
    except urllib.error.HTTPError as error:  # 503 not_ready
        status = error.code
    except OSError as error:  # refused, timed out: not (yet) serving
        print(f"{url}: {error}", file=sys.stderr)  # noqa: T201 - a command line
        return 1
    if status != 200:
        print(f"{url}: HTTP {status}", file=sys.stderr)  # noqa: T201 - a command line
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
