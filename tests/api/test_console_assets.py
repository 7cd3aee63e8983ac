"""``/console``: the console's files, served by the service with strict security headers.

What the page does is tested in a real browser (``tests/browser``); here: every file is
served from this origin with its type, the headers forbid inline code, framing, sniffing and
referrers, no file references another host, and nothing outside the asset folder is served.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.routes.console import ASSETS
from tests.support.api import Api, running_api

FILES = sorted(p.relative_to(ASSETS).as_posix() for p in ASSETS.rglob("*") if p.is_file())


@pytest.fixture
def api() -> Iterator[Api]:
    with running_api() as running:
        yield running


def test_the_page_needs_no_key_and_forbids_inline_code_and_framing(api: Api) -> None:
    response = api.get("/console", key=None)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    policy = dict(
        part.strip().split(" ", 1)
        for part in response.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("name", FILES)
def test_every_file_is_served_with_its_type_and_the_same_headers(api: Api, name: str) -> None:
    response = api.get(f"/console/{name}", key=None)

    assert response.status_code == 200
    assert response.content == (ASSETS / name).read_bytes()
    expected = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
    assert response.headers["content-type"].startswith(expected.get(Path(name).suffix, "text/html"))
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_an_unchanged_file_answers_304(api: Api) -> None:
    first = api.get("/console/console.css", key=None)

    again = api.get(
        "/console/console.css", key=None, headers={"If-None-Match": first.headers["etag"]}
    )

    assert again.status_code == 304
    assert again.content == b""


@pytest.mark.parametrize(
    "path",
    [
        "/console/nope.js",
        "/console/../app.py",
        "/console/%2e%2e/routes/console.py",
        "/console/js/../../routes/console.py",
        "/console/index.html/x",
    ],
)
def test_nothing_but_the_console_files_is_served(api: Api, path: str) -> None:
    assert api.get(path, key=None).status_code == 404


def test_no_file_has_inline_script_or_style_or_another_host() -> None:
    page = (ASSETS / "index.html").read_text()
    for script in re.findall(r"<script\b[^>]*>", page):
        assert 'src="/console/' in script
    assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=", page)
    for name in FILES:
        text = (ASSETS / name).read_text()
        # Only this origin: no absolute URL to any host (the SVG namespace is an identifier).
        hosts = set(re.findall(r"https?://[^\s\"'`)]+", text)) - {"http://www.w3.org/2000/svg"}
        assert hosts == set(), name
        assert "innerHTML" not in text, name
        assert "localStorage" not in text, name


def test_the_console_is_not_in_the_openapi_document(api: Api) -> None:
    paths = api.get("/schema/openapi.json", key=None).json()["paths"]

    assert not [path for path in paths if path.startswith("/console")]
