"""Every console page, opened with each kind of key, asks only 127.0.0.1 for anything, never
breaks its Content Security Policy, and keeps the key out of URLs and persistent storage.

Chromium is started unable to reach any other host (``tests.support.browser``), so a page
that needed one would fail visibly too; these tests also read what it asked for: the
DevTools performance log (every request) and the page's resource timing entries.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import Site
from tests.browser.pages import Console
from tests.support.browser import log_entries, requested_urls

pytestmark = pytest.mark.browser

PAGES = {
    "acme": ["#/wallets/acme", "#/wallets/acme-labs"],
    "auditor": [
        "#/finance/journal",
        "#/finance/trial-balance",
        "#/finance/as-of",
        "#/wallets/globex",
    ],
    "service": ["#/wallets/globex", "#/wallets/acme"],
    "admin": [
        "#/operator/projections",
        "#/operator/keys",
        "#/operator/webhooks",
        "#/operator/webhooks/ops-alerts",
        "#/wallets/acme",
    ],
}


@pytest.mark.parametrize("who", list(PAGES))
def test_every_page_loads_with_no_request_leaving_this_server(
    console: Console, site: Site, who: str
) -> None:
    key = getattr(site.demo, who)
    console.sign_in(key)
    for route in PAGES[who]:
        console.open(route)
        assert not console.all("#main .error"), console.find("#main .error").text

    # data: URLs never leave the browser (chromium draws the date picker's icon with one).
    asked = [url for url in requested_urls(console.driver) if not url.startswith("data:")]
    assert len(asked) > 10
    assert [url for url in asked if not url.startswith(f"{site.url}/")] == []
    resources = console.driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert resources
    assert [url for url in resources if not url.startswith(f"{site.url}/")] == []
    secret = key.split("_", 2)[-1]
    assert [url for url in asked if secret in url] == []
    logs = log_entries(console.driver, "browser")
    assert [entry for entry in logs if "Content Security Policy" in entry["message"]] == []
    assert [entry for entry in logs if entry["level"] == "SEVERE"] == []


def test_the_key_lives_only_in_the_tabs_session_storage(console: Console, site: Site) -> None:
    console.sign_in(site.demo.acme)

    stored = console.driver.execute_script(
        "return [sessionStorage.getItem('ledger-console.key'), localStorage.length,"
        " document.cookie, location.href]"
    )
    assert stored[0] == site.demo.acme
    assert stored[1:3] == [0, ""]
    assert site.demo.acme not in stored[3]

    console.find("#sign-out").click()
    console.wait_for("#api-key")
    assert console.driver.execute_script("return sessionStorage.length") == 0


def test_an_unknown_key_is_refused_with_what_to_do(console: Console) -> None:
    console.start()
    console.find("#api-key").send_keys("lk_0123456789abcdef_not-a-key")
    console.find("#sign-in button[type=submit]").click()

    error = console.wait_for('#sign-in-result .error[data-status="401"]')
    assert "sign in with a working key" in error.text
    assert console.driver.execute_script("return sessionStorage.length") == 0
