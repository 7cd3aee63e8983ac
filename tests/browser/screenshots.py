"""``make screenshots``: a PNG of every console page, on a demo ledger, for docs/console.md.

Run as ``python -m tests.browser.screenshots [OUT_DIR]`` (default ``docs/console``): starts
``ledger serve`` on a throwaway SQLite store, seeds it (:func:`tests.support.browser.seed`),
and photographs each page in headless chromium at 1280 px wide.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from selenium.webdriver.common.by import By

from tests.browser.pages import Console
from tests.support.browser import Demo, chromium_driver, seed
from tests.support.live_server import TEST_ADMIN_KEY, live_server, server_env

__all__ = ["main", "photograph"]

WIDTH = 1280


def _shot(console: Console, out: Path, name: str, most: int = 1100) -> None:
    console.driver.set_window_size(WIDTH, 800)
    console.full_height(most)
    console.driver.save_screenshot(str(out / f"{name}.png"))
    print(f"wrote {out / name}.png")  # noqa: T201 - the command's report


def photograph(console: Console, demo: Demo, out: Path) -> None:
    """Every page, signed in as the key each is for."""
    console.start()
    _shot(console, out, "sign-in")
    console.sign_in(demo.acme)
    _shot(console, out, "customer-wallets")
    console.open("#/wallets/acme")
    console.wait_for("svg.usage-chart")
    _shot(console, out, "customer-wallet", most=2400)
    console.find('.budget[data-budget="team-research"] button.edit').click()
    console.wait_for(".budget-form")
    _shot(console, out, "customer-budget-edit", most=800)
    console.driver.execute_script("document.querySelector('#budgets').scrollIntoView()")
    console.driver.save_screenshot(str(out / "customer-budget-edit.png"))

    console.sign_in(demo.auditor)
    console.open("#/finance/journal")
    _shot(console, out, "finance-journal")
    console.open("#/finance/trial-balance")
    _shot(console, out, "finance-trial-balance")
    console.open("#/finance/as-of")
    console.find("#wallet-as-of-form input[name=wallet_id]").send_keys("acme")
    as_of = console.find("#wallet-as-of-form input[name=as_of]")
    console.driver.execute_script(
        "const now = new Date(Date.now() - new Date().getTimezoneOffset() * 60000);"
        "arguments[0].value = now.toISOString().slice(0, 19);",
        as_of,
    )
    console.find("#wallet-as-of-form button[type=submit]").click()
    console.wait_for("#as-of-available")
    _shot(console, out, "finance-wallet-as-of")

    console.sign_in(demo.admin)
    _shot(console, out, "operator-wallets")
    console.open("#/operator/projections")
    _shot(console, out, "operator-projections")
    console.open("#/operator/keys")
    _shot(console, out, "operator-api-keys")
    console.open("#/operator/webhooks")
    _shot(console, out, "operator-webhooks")
    console.driver.find_element(By.LINK_TEXT, "ops-alerts").click()
    console.wait(lambda _: console.ready() == "#/operator/webhooks/ops-alerts")
    _shot(console, out, "operator-deliveries")


def main(argv: list[str]) -> int:
    out = Path(argv[1] if len(argv) > 1 else "docs/console")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        env = server_env(f"sqlite:///{tmp}/ledger.sqlite3")
        with live_server(env, Path(tmp) / "logs") as server:
            demo = seed(server.url, TEST_ADMIN_KEY)
            driver = chromium_driver(width=WIDTH)
            try:
                photograph(Console(driver, server.url), demo, out)
            finally:
                driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
