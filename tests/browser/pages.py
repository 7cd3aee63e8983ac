"""Driving the console: sign in with a key, open a page and wait until it has loaded.

The console marks ``<main data-ready="#/route">`` once a page has rendered, which is what
:meth:`Console.open` waits for.
"""

from __future__ import annotations

from selenium import webdriver
from selenium.common.exceptions import JavascriptException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

__all__ = ["WAIT_SECONDS", "Console"]

WAIT_SECONDS = 20


class Console:
    """The console at ``base_url`` in ``driver``'s one tab."""

    def __init__(self, driver: webdriver.Chrome, base_url: str) -> None:
        self.driver = driver
        self.base_url = base_url

    def wait(self, condition: object, message: str = "") -> object:
        wait = WebDriverWait(
            self.driver, WAIT_SECONDS, ignored_exceptions=(StaleElementReferenceException,)
        )
        return wait.until(condition, message)  # type: ignore[arg-type]

    def ready(self) -> str | None:
        try:
            value = self.driver.execute_script(
                "return document.getElementById('main').dataset.ready"
            )
        except JavascriptException:
            return None
        return None if value is None else str(value)

    def start(self) -> None:
        """The sign-in page in a fresh session (no key kept from an earlier test)."""
        self.driver.get(f"{self.base_url}/console")
        self.driver.execute_script("sessionStorage.clear(); location.hash = '#/signin';")
        self.driver.refresh()
        self.wait(lambda d: d.find_elements(By.ID, "api-key"), "no sign-in form")

    def sign_in(self, key: str) -> None:
        """Sign in with ``key`` from the sign-in page; waits for the wallet list."""
        self.start()
        self.driver.find_element(By.ID, "api-key").send_keys(key)
        self.driver.find_element(By.CSS_SELECTOR, "#sign-in button[type=submit]").click()
        self.wait(lambda _: self.ready() == "#/wallets", "the wallet list did not load")

    def open(self, route: str) -> None:
        """Go to ``#<route>`` (another page than the current one) and wait until it rendered."""
        self.driver.execute_script("location.hash = arguments[0]", route)
        self.wait(lambda _: self.ready() == route, f"{route} did not load")

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str) -> list[WebElement]:
        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def wait_for(self, css: str) -> WebElement:
        """The first element matching ``css``, once there is one."""
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, css), f"no {css}")
        return self.find(css)

    def nav(self) -> list[str]:
        return [link.text for link in self.all("#nav a")]

    def column(self, table_id: str, index: int) -> list[str]:
        """The texts of one column (0-based) of a table's body."""
        # One script, so a table redrawn meanwhile cannot leave a stale row behind.
        texts = self.driver.execute_script(
            "return [...document.querySelectorAll(`#${arguments[0]} tbody tr`)]"
            ".map(row => row.children[arguments[1]].innerText)",
            table_id,
            index,
        )
        return [str(text) for text in texts]

    def full_height(self, most: int = 1200) -> None:
        """Make the window as tall as the page, up to ``most`` pixels (for screenshots)."""
        height, chrome = self.driver.execute_script(
            "return [document.documentElement.scrollHeight,"
            " window.outerHeight - window.innerHeight]"
        )
        width = int(self.driver.get_window_size()["width"])
        self.driver.set_window_size(width, min(max(int(height), 600), most) + int(chrome))
