"""``/console``: the web console, a static single-page app the service serves itself.

Every file it needs (HTML, style sheet, scripts, icon) is in ``api/static/console`` and served
from here, so the console works with no network access beyond this server. The files are
read once, at the first request, into memory: a request can only name one of them (no path
is ever joined with the request's). Responses carry strict headers: a Content Security Policy
that allows scripts, styles, images and requests from this origin only (no inline script or
style), no framing, no referrer, no MIME sniffing. The console signs in with an API key the
user pastes; it keeps the key in the tab's ``sessionStorage`` and sends it as a bearer
header, never in a URL. See ``docs/console.md``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated

from litestar import Controller, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import HeaderParameter, PathParameter

from api.middleware.auth import PUBLIC

__all__ = ["CONSOLE_ROUTES", "CONTENT_SECURITY_POLICY", "SECURITY_HEADERS", "ConsoleController"]

ASSETS = Path(__file__).resolve().parent.parent / "static" / "console"
MEDIA_TYPES = {
    ".html": "text/html",  # litestar adds "; charset=utf-8" to text types
    ".css": "text/css",
    ".js": "text/javascript",
    ".svg": "image/svg+xml",
}
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    # Revalidate every time (the ETag makes that cheap): a new server version is seen at once.
    "Cache-Control": "no-cache",
}


@dataclass(frozen=True)
class _Asset:
    body: bytes
    media_type: str
    etag: str


@cache
def _assets() -> dict[str, _Asset]:
    """Every servable file, by its path below ``/console/``."""
    found: dict[str, _Asset] = {}
    for path in sorted(ASSETS.rglob("*")):
        media_type = MEDIA_TYPES.get(path.suffix)
        if media_type is None or not path.is_file():
            continue
        body = path.read_bytes()
        etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
        name = path.relative_to(ASSETS).as_posix()
        found[name] = _Asset(body, media_type, etag)
    return found


def _serve(name: str, if_none_match: str | None) -> Response[bytes]:
    asset = _assets().get(name)
    if asset is None:
        raise NotFoundException(f"the console has no file {name!r}")
    headers = {**SECURITY_HEADERS, "ETag": asset.etag}
    if if_none_match == asset.etag:
        return Response(b"", status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


IfNoneMatch = Annotated[str | None, HeaderParameter(name="If-None-Match")]


class ConsoleController(Controller):
    """The console's page and files (no key needed: the page asks for one)."""

    path = "/console"

    @get("/", opt={PUBLIC: True}, include_in_schema=False, sync_to_thread=False)
    def page(self, if_none_match: IfNoneMatch = None) -> Response[bytes]:
        """The console's single page."""
        return _serve("index.html", if_none_match)

    @get("/{asset:path}", opt={PUBLIC: True}, include_in_schema=False, sync_to_thread=False)
    def asset(
        self, asset: Annotated[str, PathParameter()], if_none_match: IfNoneMatch = None
    ) -> Response[bytes]:
        """A script, style sheet or image of the console."""
        return _serve(asset.lstrip("/"), if_none_match)


CONSOLE_ROUTES = [ConsoleController]
