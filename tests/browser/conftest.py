"""Fixtures of the console's browser tests: one real server on SQLite with a demo ledger, and
one headless chromium (Debian's, through chromedriver) for the whole run.

``scripts/test.sh`` installs ``chromium`` and ``chromium-driver`` when they are missing; the
tests fail (they are never skipped) if the browser is still not there.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from selenium import webdriver

from tests.browser.pages import Console
from tests.support.browser import (
    Demo,
    chromium_driver,
    have_chromium,
    log_entries,
    requested_urls,
    seed,
)
from tests.support.live_server import TEST_ADMIN_KEY, live_server, server_env

VIEWER_TIME_ZONE = "Europe/Berlin"
"""The browser's zone, not UTC, so times shown in the viewer's zone are told apart."""


@dataclass(frozen=True)
class Site:
    """The running server, its demo keys and where the browser saves downloads."""

    url: str
    demo: Demo
    downloads: Path

    def api(self, key: str, method: str, path: str, **kwargs: object) -> httpx.Response:
        """The server's own answer to a request with ``key``."""
        headers = {"Authorization": f"Bearer {key}"}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=10, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("console")
    env = server_env(f"sqlite:///{root / 'ledger.sqlite3'}")
    with live_server(env, root / "logs") as server:
        downloads = root / "downloads"
        downloads.mkdir()
        yield Site(server.url, seed(server.url, TEST_ADMIN_KEY), downloads)


@pytest.fixture(scope="session")
def driver(site: Site) -> Iterator[webdriver.Chrome]:
    if not have_chromium():
        pytest.fail(
            "chromium and chromium-driver are not installed (scripts/test.sh installs them)"
        )
    browser = chromium_driver(downloads=site.downloads, time_zone=VIEWER_TIME_ZONE)
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture
def console(driver: webdriver.Chrome, site: Site) -> Console:
    requested_urls(driver)  # forget what earlier tests asked for
    log_entries(driver, "browser")
    return Console(driver, site.url)
