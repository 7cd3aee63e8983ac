"""The API documentation pages load everything from the service itself (offline they were blank).

tests/integration/test_openapi_ui_browser.py renders them in a browser with no network.
"""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from api.openapi_ui import ASSETS, ASSETS_DIR
from tests.support.api import Api, running_api

PAGES = ["/schema", "/schema/swagger", "/schema/redoc", "/schema/elements", "/schema/rapidoc"]


class _References(HTMLParser):
    """Every URL a page makes the browser fetch: ``src`` and ``<link href>``."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is not None and (name == "src" or (tag == "link" and name == "href")):
                self.urls.append(value)


def references(html: str) -> list[str]:
    parser = _References()
    parser.feed(html)
    return parser.urls


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    with running_api() as running:
        yield running


@pytest.mark.parametrize("page", PAGES)
def test_a_docs_page_loads_nothing_from_another_host(api: Api, page: str) -> None:
    response = api.get(page, key=None)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    urls = references(response.text)
    assert urls  # its scripts at least
    for url in urls:
        parts = urlsplit(url)
        assert parts.scheme in {"", "data"}, url
        assert not parts.netloc, url
    assert "fonts.googleapis" not in response.text


@pytest.mark.parametrize("page", PAGES)
def test_every_script_and_style_of_a_page_is_served_without_a_key(api: Api, page: str) -> None:
    for url in references(api.get(page, key=None).text):
        if url.startswith("data:"):
            continue
        response = api.get(url, key=None)
        assert response.status_code == 200, url
        kind = "text/css" if url.endswith(".css") else "javascript"
        assert kind in response.headers["content-type"], url
        assert "immutable" in response.headers["cache-control"]
        assert len(response.content) > 10_000


def test_rapidoc_is_told_not_to_load_web_fonts(api: Api) -> None:
    assert '<rapi-doc load-fonts="false"' in api.get("/schema/rapidoc", key=None).text


def test_the_vendored_folders_hold_exactly_the_listed_files_and_their_licences() -> None:
    on_disk = {
        str(path.relative_to(ASSETS_DIR)) for path in ASSETS_DIR.rglob("*") if path.is_file()
    }
    listed = {f"{p.folder}/{name}" for p in ASSETS for name in (*p.files, *p.licences)}

    assert on_disk == listed
    for package in ASSETS:
        assert package.licences
        assert all((ASSETS_DIR / package.folder / name).stat().st_size for name in package.licences)


def test_the_public_addresses_a_bundle_would_load_are_replaced() -> None:
    patched = [p for p in ASSETS if p.patches]
    assert patched  # Redoc's logo

    for package in patched:
        for file, text, replacement in package.patches:
            content = (ASSETS_DIR / package.folder / file).read_text()
            assert text not in content
            assert replacement in content


def test_an_asset_that_is_not_vendored_is_404(api: Api) -> None:
    assert api.get("/schema/assets/nothing-1.0/a.js", key=None).status_code == 404


def test_the_openapi_document_is_still_served_as_json_and_yaml(api: Api) -> None:
    assert api.get("/schema/openapi.json", key=None).json()["info"]["title"] == "Credit Ledger"
    assert "title: Credit Ledger" in api.get("/schema/openapi.yaml", key=None).text
