"""The console in chromium, signed in with an admin key: projections with lag and a rebuild,
API keys (create, list, revoke), webhooks with their delivery log, wallets list and search."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.browser.conftest import Site
from tests.browser.pages import Console

pytestmark = pytest.mark.browser


def accept_confirm(console: Console) -> None:
    console.wait(lambda d: d.switch_to.alert, "no confirmation asked")
    console.driver.switch_to.alert.accept()


def test_an_operator_watches_projections_and_rebuilds_one(console: Console, site: Site) -> None:
    console.sign_in(site.demo.admin)
    assert console.nav() == [
        "Wallets",
        "Journal",
        "Trial balance",
        "Wallet as of",
        "Projections",
        "API keys",
        "Webhooks",
    ]
    console.open("#/operator/projections")

    answer = site.api(site.demo.admin, "GET", "/v1/admin/projections").json()["projections"]
    assert console.column("projections-table", 0) == [p["name"] for p in answer]
    assert "lists" in console.column("projections-table", 0)
    console.find('button.rebuild[data-projection="usage"]').click()
    accept_confirm(console)
    assert "Rebuilding usage" in console.wait_for("#rebuild-started").text


def test_an_operator_creates_lists_and_revokes_a_key(console: Console, site: Site) -> None:
    console.sign_in(site.demo.admin)
    console.open("#/operator/keys")

    Select(console.find("#new-key select[name=scope]")).select_by_value("auditor")
    console.find("#new-key input[name=name]").send_keys("night shift")
    console.find("#new-key button[type=submit]").click()
    key = str(console.wait_for("#new-key-value").get_attribute("value"))
    assert key.startswith("lk_")
    console.wait(lambda _: "night shift" in console.column("api-keys-table", 1))
    assert site.api(key, "GET", "/v1/whoami").json()["name"] == "night shift"

    key_id = key.split("_")[1]
    console.find(f'button.revoke[data-key="{key_id}"]').click()
    accept_confirm(console)
    console.wait(lambda _: not console.all(f'button.revoke[data-key="{key_id}"]'))
    assert site.api(key, "GET", "/v1/whoami").status_code == 401
    listed = site.api(site.demo.admin, "GET", "/v1/api-keys").json()["api_keys"]
    assert next(k for k in listed if k["key_id"] == key_id)["revoked_at"] is not None


def test_an_operator_sees_webhooks_and_their_delivery_log(console: Console, site: Site) -> None:
    console.sign_in(site.demo.admin)
    console.open("#/operator/webhooks")

    assert console.column("webhooks-table", 0) == ["ops-alerts"]
    console.driver.find_element(By.LINK_TEXT, "ops-alerts").click()
    console.wait(lambda _: console.ready() == "#/operator/webhooks/ops-alerts")
    log = site.api(site.demo.admin, "GET", "/v1/webhooks/ops-alerts/deliveries").json()
    assert log["deliveries"], "the seeded balance alert is in the log"
    assert console.column("deliveries-table", 1)[0] == log["deliveries"][0]["type"]


def test_an_operator_lists_and_finds_wallets(console: Console, site: Site) -> None:
    console.sign_in(site.demo.admin)
    assert console.column("wallets-table", 0) == ["acme", "acme-labs", "globex"]

    console.find("#wallet-filter input[name=customer_id]").send_keys("acme")
    console.find("#wallet-filter button[type=submit]").click()
    console.wait(lambda _: console.column("wallets-table", 0) == ["acme", "acme-labs"])
    console.find("#wallet-search input[name=wallet_id]").send_keys("globex")
    console.find("#wallet-search button[type=submit]").click()
    console.wait(lambda _: console.ready() == "#/wallets/globex")
    assert "globex" in console.find("h1").text
    assert console.all("#new-budget")  # admin keys may set budgets; auditors may not
