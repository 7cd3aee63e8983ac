"""The console in chromium, signed in with an auditor key: the journal explorer (filters,
pages, CSV download), the trial balance as of a time, and a wallet at a point in time."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from tests.browser.conftest import Site
from tests.browser.pages import Console

pytestmark = pytest.mark.browser


def downloaded(folder: Path, name: str, timeout: float = 15.0) -> Path:
    path = folder / name
    deadline = time.monotonic() + timeout
    while not path.exists() or list(folder.glob("*.crdownload")):
        assert time.monotonic() < deadline, f"{name} was not downloaded"
        time.sleep(0.1)
    return path


def test_an_auditor_pages_through_the_journal(console: Console, site: Site) -> None:
    console.sign_in(site.demo.auditor)
    assert console.nav() == ["Wallets", "Journal", "Trial balance", "Wallet as of"]
    console.open("#/finance/journal")

    first = console.column("journal-table", 0)
    page = site.api(site.demo.auditor, "GET", "/v1/journal", params={"limit": 25}).json()
    assert first == [str(e["position"]) for e in page["entries"]]
    console.find(".pager button.next").click()
    console.wait(lambda _: console.column("journal-table", 0) != first)
    second = console.column("journal-table", 0)
    assert int(second[0]) > int(first[-1])
    console.find(".pager button").click()  # Previous
    console.wait(lambda _: console.column("journal-table", 0) == first)


def test_journal_filters_and_csv_download(console: Console, site: Site) -> None:
    console.sign_in(site.demo.auditor)
    console.open("#/finance/journal")

    console.find("#journal-filter input[name=wallet_id]").send_keys("globex")
    console.find("#journal-filter button[type=submit]").click()
    console.wait(lambda _: set(console.column("journal-table", 2)) == {"globex"})
    rows = site.api(site.demo.auditor, "GET", "/v1/journal", params={"wallet_id": "globex"})
    assert len(console.column("journal-table", 2)) == len(rows.json()["entries"])

    console.find("#journal-csv").click()
    console.wait_for("#csv-done")
    with downloaded(site.downloads, "journal.csv").open() as exported:
        table = list(csv.DictReader(exported))
    assert {row["wallet_id"] for row in table} == {"globex"}
    assert [int(row["position"]) for row in table] == [
        e["position"] for e in rows.json()["entries"]
    ]


def test_the_trial_balance_is_shown_as_the_api_answers(console: Console, site: Site) -> None:
    console.sign_in(site.demo.auditor)
    console.open("#/finance/trial-balance")

    shown = console.wait_for("#trial-balance")
    answer = site.api(site.demo.auditor, "GET", "/v1/trial-balance").json()
    assert "balanced" in shown.find_element(By.CSS_SELECTOR, ".badge").text
    accounts = console.column("trial-balance-table", 0)
    balances = [text.replace(",", "") for text in console.column("trial-balance-table", 3)]
    assert accounts == [a["account"] for a in answer["accounts"]]
    assert balances == [str(a["balance"]) for a in answer["accounts"]]

    as_of = console.find("#trial-balance-form input[name=as_of]")
    console.driver.execute_script("arguments[0].value = '2020-01-01T00:00:00'", as_of)
    console.find("#trial-balance-form button[type=submit]").click()
    assert "No postings up to that time" in console.wait_for("#trial-balance .empty").text


def test_a_wallet_at_a_point_in_time(console: Console, site: Site) -> None:
    console.sign_in(site.demo.auditor)
    console.open("#/finance/as-of")
    form = console.find("#wallet-as-of-form")
    form.find_element(By.NAME, "wallet_id").send_keys("acme-labs")
    when = form.find_element(By.NAME, "as_of")
    console.driver.execute_script(
        "const now = new Date(Date.now() + 60000 - new Date().getTimezoneOffset() * 60000);"
        "arguments[0].value = now.toISOString().slice(0, 19);",
        when,
    )
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    available = console.wait_for("#as-of-available .amount")
    assert available.get_attribute("data-value") == "50000"

    console.driver.execute_script("arguments[0].value = '2020-01-01T00:00:00'", when)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    error = console.wait_for('#wallet-as-of .error[data-status="404"]')
    assert "check the id" in error.text
