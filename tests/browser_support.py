"""A headless Chromium driven by Selenium, for tests that look at pages as a person would.

:func:`chromium_driver` starts Debian's ``chromium`` with its ``chromedriver`` (scripts/test.sh
installs both with apt-get when they are missing; see scripts/_browser.sh). With
``offline=True`` (the default) the browser can reach nothing but this machine's loopback
address: every host name resolves to nothing and every other address goes through a proxy on a
dead port. :func:`requested_urls` lists what a page asked for (from the browser's network log),
so a test can tell whether it tried to reach anything else.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver

__all__ = ["chromium_driver", "external_urls", "find_binaries", "requested_urls"]

_BROWSERS = ("chromium", "chromium-browser", "google-chrome")
_DRIVERS = ("chromedriver",)
_DRIVER_PATHS = (Path("/usr/lib/chromium/chromedriver"), Path("/usr/bin/chromedriver"))
_LOCAL_PREFIXES = ("http://127.0.0.1", "data:", "blob:", "about:", "chrome:", "devtools:")
OFFLINE_ARGUMENTS = (
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    # Loopback bypasses a proxy implicitly; every other address meets a closed port.
    "--proxy-server=http://127.0.0.1:9",
)


def find_binaries() -> tuple[str, str] | None:
    """Paths of the browser and its driver, or None when either is not installed."""
    browser = next((found for name in _BROWSERS if (found := shutil.which(name))), None)
    driver = next((found for name in _DRIVERS if (found := shutil.which(name))), None)
    driver = driver or next((str(p) for p in _DRIVER_PATHS if p.is_file()), None)
    if browser is None or driver is None:
        return None
    return browser, driver


@contextmanager
def chromium_driver(
    *, offline: bool = True, width: int = 1280, height: int = 900
) -> Iterator[WebDriver]:
    """A headless Chromium session, quit on exit; fails the test if none is installed."""
    binaries = find_binaries()
    if binaries is None:
        pytest.fail(
            "chromium and chromedriver are not installed: run the tests with scripts/test.sh "
            "(it installs them) or `apt-get install chromium chromium-driver`",
            pytrace=False,
        )
    browser, driver_path = binaries
    options = Options()
    options.binary_location = browser
    for argument in (
        "--headless=new",
        "--no-sandbox",  # tests run as root in containers
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--disable-extensions",
        "--no-first-run",
        f"--window-size={width},{height}",
        *(OFFLINE_ARGUMENTS if offline else ()),
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def requested_urls(driver: WebDriver) -> list[str]:
    """Every URL the browser asked for since the last call (it drains the network log)."""
    urls = []
    for entry in driver.get_log("performance"):  # type: ignore[no-untyped-call]
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(str(message["params"]["request"]["url"]))
    return urls


def external_urls(driver: WebDriver) -> list[str]:
    """The URLs of :func:`requested_urls` that are not on this machine's loopback address."""
    return [url for url in requested_urls(driver) if not url.startswith(_LOCAL_PREFIXES)]
