"""The console in chromium, signed in with a ``customer:acme`` key: its own wallets only,
exact amounts with the unit, times in the viewer's zone, the usage chart as the API's series,
and budgets edited through the page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.browser.conftest import VIEWER_TIME_ZONE, Site
from tests.browser.pages import Console

pytestmark = pytest.mark.browser


def test_a_customer_sees_its_own_wallets_with_exact_amounts(console: Console, site: Site) -> None:
    console.sign_in(site.demo.acme)

    assert console.nav() == ["Wallets"]
    assert console.column("wallets-table", 0) == ["acme", "acme-labs"]
    listed = site.api(site.demo.acme, "GET", "/v1/wallets").json()["wallets"]
    shown = [
        (cell.get_attribute("data-value"), cell.text)
        for cell in console.all("#wallets-table tbody td:nth-child(3) .amount")
    ]
    assert [value for value, _ in shown] == [str(w["balance"]["available"]) for w in listed]
    # Digit grouping, no decimals, the wallet's unit: "2,172,289 credits".
    assert all(re.fullmatch(r"\d{1,3}(,\d{3})* credits", text) for _, text in shown)


def test_times_are_in_the_viewers_zone_with_utc_on_hover(console: Console, site: Site) -> None:
    console.sign_in(site.demo.acme)

    stamps = console.all("#wallets-table time")
    assert stamps
    for stamp in stamps:
        instant = datetime.fromisoformat(str(stamp.get_attribute("datetime")))
        assert stamp.get_attribute("title") == instant.strftime("%Y-%m-%d %H:%M:%S UTC")
        local = instant.astimezone(ZoneInfo(VIEWER_TIME_ZONE))
        clock = re.search(r"(\d{1,2}):(\d{2}):(\d{2})\s?([AP]M)", stamp.text)
        assert clock is not None, stamp.text
        assert clock.group(0).replace("\u202f", " ") == local.strftime("%-I:%M:%S %p")


def test_a_customer_cannot_reach_another_customers_wallet_or_staff_pages(
    console: Console, site: Site
) -> None:
    console.sign_in(site.demo.acme)

    console.open("#/wallets/globex")
    error = console.find("#main .error")
    assert error.get_attribute("data-status") == "404"
    assert "check the id" in error.text
    assert "887,655" not in console.driver.page_source  # globex's balance is nowhere
    for route in ("#/operator/keys", "#/operator/projections", "#/finance/journal"):
        console.open(route)
        assert "needs" in console.find("#denied").text
    # and the API refuses the key whatever the page does
    assert site.api(site.demo.acme, "GET", "/v1/api-keys").status_code == 403
    assert site.api(site.demo.acme, "GET", "/v1/wallets/globex").status_code == 404


def test_the_usage_chart_draws_the_series_the_api_returns(console: Console, site: Site) -> None:
    console.sign_in(site.demo.acme)
    console.open("#/wallets/acme")
    chart = console.wait_for("svg.usage-chart")

    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    window = {
        "window": "day",
        "group_by": "model",
        "from": (today - timedelta(days=29)).isoformat(),
        "to": (today + timedelta(days=1)).isoformat(),
    }
    series = site.api(site.demo.acme, "GET", "/v1/wallets/acme/usage", params=window).json()
    expected = sorted(
        (
            p["window_start"][:10],
            p["group"]["model"] or "(no model)",
            str(p["debited"]),
            str(p["count"]),
        )
        for p in series["series"]
    )
    bars = chart.find_elements(By.CSS_SELECTOR, "rect.bar")
    drawn = sorted(
        (
            b.get_attribute("data-day"),
            b.get_attribute("data-model"),
            b.get_attribute("data-debited"),
            b.get_attribute("data-count"),
        )
        for b in bars
    )
    assert len(expected) > 30
    assert drawn == expected
    # The busiest day's stack reaches the top of the plot; the axis says its total.
    totals: dict[str, int] = {}
    for day, _, debited, _ in expected:
        totals[day] = totals.get(day, 0) + int(debited)
    assert chart.get_attribute("data-max") == str(max(totals.values()))
    assert min(float(str(b.get_attribute("y"))) for b in bars) == 12


def test_editing_a_budget_changes_what_the_api_answers(console: Console, site: Site) -> None:
    console.sign_in(site.demo.acme)
    console.open("#/wallets/acme")

    console.find('.budget[data-budget="team-research"] button.edit').click()
    form = console.wait_for('.budget-form[data-budget="team-research"]')
    limit = form.find_element(By.NAME, "limit")
    limit.clear()
    limit.send_keys("654321")
    Select(form.find_element(By.NAME, "mode")).select_by_value("soft")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    console.wait_for('.budget[data-budget="team-research"][data-limit="654321"]')
    answer = site.api(site.demo.acme, "GET", "/v1/wallets/acme/budgets/team-research").json()
    assert (answer["limit"], answer["mode"]) == (654_321, "soft")
    bar = console.find('.budget[data-budget="team-research"] svg.spent-bar')
    assert bar.get_attribute("data-permille") == str(answer["spent"] * 1000 // 654_321)


def test_a_refused_budget_says_what_to_fix_and_changes_nothing(
    console: Console, site: Site
) -> None:
    before = site.api(site.demo.acme, "GET", "/v1/wallets/acme/budgets/all").json()
    console.sign_in(site.demo.acme)
    console.open("#/wallets/acme")
    console.find('.budget[data-budget="all"] button.edit').click()
    form = console.wait_for('.budget-form[data-budget="all"]')

    limit = form.find_element(By.NAME, "limit")
    limit.clear()
    limit.send_keys("12.5")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert "limit: a whole number" in console.wait_for(".budget-form .error").text

    limit.clear()
    limit.send_keys("100")
    zone = form.find_element(By.NAME, "timezone")
    zone.clear()
    zone.send_keys("Mars/Olympus")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    refused = console.wait_for('.budget-form .error[data-status="422"]')
    assert "timezone" in refused.text
    assert "fix the fields" in refused.text
    assert site.api(site.demo.acme, "GET", "/v1/wallets/acme/budgets/all").json() == before
