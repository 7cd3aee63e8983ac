"""The API documentation pages render in a browser that can reach nothing but this machine.

Before, every page loaded its scripts from public CDNs and stayed blank offline. Here a real
``ledger serve`` process answers a headless Chromium (tests/support/browser.py) whose every
request outside 127.0.0.1 fails; each page must show the API's operations and must not even
try another host.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.browser import chromium_driver, external_urls
from tests.support.live_server import LiveServer, live_server, server_env

RENDER_SECONDS = 60.0
_TEXT = """
const text = document.body ? document.body.innerText : "";
const rapidoc = document.querySelector("rapi-doc");
return text + (rapidoc && rapidoc.shadowRoot ? rapidoc.shadowRoot.textContent : "");
"""
_SECTIONS = "return document.querySelectorAll('[data-section-id^=\"operation/\"]').length"
"""Redoc's operation sections (each also has a ``tag/<tag>/operation/...`` twin)."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(server_env("memory://"), tmp_path_factory.mktemp("logs")) as running:
        yield running


@pytest.fixture(scope="module")
def document(server: LiveServer) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{server.url}/schema/openapi.json").json()
    return body


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    driver = chromium_driver()
    try:
        yield driver
    finally:
        driver.quit()


def _operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [op for item in document["paths"].values() for op in item.values()]


def _summary(document: dict[str, Any], method: str, path: str) -> str:
    return str(document["paths"][path][method]["summary"])


def _wait_for_text(browser: WebDriver, text: str) -> None:
    WebDriverWait(browser, RENDER_SECONDS, poll_frequency=0.25).until(
        lambda driver: text in driver.execute_script(_TEXT)
    )


def test_swagger_ui_shows_every_operation_offline(
    server: LiveServer, document: dict[str, Any], browser: WebDriver, tmp_path: Path
) -> None:
    browser.get(f"{server.url}/schema/swagger")
    expected = len(_operations(document))
    WebDriverWait(browser, RENDER_SECONDS, poll_frequency=0.25).until(
        lambda driver: len(driver.find_elements(By.CSS_SELECTOR, ".opblock")) >= expected
    )

    blocks = browser.find_elements(By.CSS_SELECTOR, ".opblock")
    paths = {b.find_element(By.CSS_SELECTOR, ".opblock-summary-path").text for b in blocks}
    browser.save_screenshot(str(tmp_path / "swagger.png"))
    assert len(blocks) == expected
    assert "/v1/wallets/{wallet_id}/debits" in {p.replace("\u200b", "") for p in paths}
    assert external_urls(browser) == []


@pytest.mark.parametrize("page", ["/schema", "/schema/redoc"])
def test_redoc_shows_every_operation_offline(
    page: str, server: LiveServer, document: dict[str, Any], browser: WebDriver
) -> None:
    browser.get(f"{server.url}{page}")
    expected = len(_operations(document))

    WebDriverWait(browser, RENDER_SECONDS, poll_frequency=0.25).until(
        lambda driver: driver.execute_script(_SECTIONS) >= expected
    )
    _wait_for_text(browser, _summary(document, "post", "/v1/wallets/{wallet_id}/debits"))
    assert external_urls(browser) == []


def test_elements_shows_an_operation_offline(
    server: LiveServer, document: dict[str, Any], browser: WebDriver
) -> None:
    hold = document["paths"]["/v1/wallets/{wallet_id}/holds"]["post"]

    browser.get(f"{server.url}/schema/elements#/operations/{hold['operationId']}")

    _wait_for_text(browser, "Debits")  # the sidebar lists the groups of operations
    _wait_for_text(browser, hold["summary"])
    assert external_urls(browser) == []


def test_rapidoc_shows_the_operations_offline(
    server: LiveServer, document: dict[str, Any], browser: WebDriver
) -> None:
    browser.get(f"{server.url}/schema/rapidoc")

    _wait_for_text(browser, _summary(document, "post", "/v1/wallets/{wallet_id}/debits"))
    _wait_for_text(browser, _summary(document, "post", "/v1/wallets/{wallet_id}/holds"))
    assert external_urls(browser) == []
