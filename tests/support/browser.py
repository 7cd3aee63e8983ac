"""What the console's browser tests and ``make screenshots`` share: Debian's chromium driven by
Selenium, kept from reaching any host but 127.0.0.1, and a demo ledger to look at.

:func:`chromium_driver` starts headless chromium through ``chromedriver`` (Debian's
``chromium`` and ``chromium-driver`` packages; nothing is downloaded). Every host name
resolves to nothing but 127.0.0.1, and every other connection is sent to a proxy that does
not exist, so a page that tried to load anything from elsewhere would fail, and the
performance log (recorded) shows what it asked for. :func:`seed` fills a running server with
wallets, grants, a month of usage, budgets, holds, keys and a webhook through its HTTP API.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

__all__ = [
    "CHROMEDRIVER",
    "CHROMIUM",
    "Demo",
    "chromium_driver",
    "external_urls",
    "have_chromium",
    "log_entries",
    "requested_urls",
    "seed",
]

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
MODELS = ("gpt-4.1", "claude-sonnet", "llama-70b")


def have_chromium() -> bool:
    """Whether Debian's chromium and its driver are installed (scripts/test.sh installs them)."""
    return Path(CHROMIUM).exists() and shutil.which(CHROMEDRIVER) is not None


def chromium_driver(
    *, downloads: Path | None = None, width: int = 1280, time_zone: str | None = None
) -> webdriver.Chrome:
    """Headless chromium that can reach 127.0.0.1 only, logging every request it makes;
    files it downloads go to ``downloads``; ``time_zone`` is the viewer's zone (IANA)."""
    options = Options()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},1000",
        # Only 127.0.0.1 resolves, and anything else goes to a proxy nobody listens on
        # (chromium never proxies loopback addresses).
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--proxy-server=http://127.0.0.1:9",
        # chromium's own background traffic (updates, safe browsing, sync) stays off.
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--no-first-run",
        "--no-default-browser-check",
        "--lang=en-US",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    if downloads is not None:
        options.add_experimental_option(
            "prefs",
            {"download.default_directory": str(downloads), "download.prompt_for_download": False},
        )
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    if downloads is not None:
        driver.execute_cdp_cmd(
            "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
        )
    if time_zone is not None:
        driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": time_zone})
    return driver


def log_entries(driver: webdriver.Chrome, kind: str) -> list[dict[str, Any]]:
    """The entries of one of chromium's logs (``browser``, ``performance``) since the last
    call: reading a log empties it."""
    entries: list[dict[str, Any]] = driver.get_log(kind)  # type: ignore[no-untyped-call]
    return entries


def requested_urls(driver: webdriver.Chrome) -> list[str]:
    """Every URL the browser asked for since the last call (the performance log)."""
    urls = []
    for entry in log_entries(driver, "performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(str(message["params"]["request"]["url"]))
    return urls


_LOCAL_PREFIXES = ("http://127.0.0.1", "data:", "blob:", "about:", "chrome:", "devtools:")


def external_urls(driver: webdriver.Chrome) -> list[str]:
    """The URLs of :func:`requested_urls` that are not on this machine's loopback address."""
    return [url for url in requested_urls(driver) if not url.startswith(_LOCAL_PREFIXES)]


@dataclass(frozen=True)
class Demo:
    """Keys of the seeded ledger (the admin key is the server's bootstrap key)."""

    admin: str
    auditor: str
    acme: str
    """A ``customer:acme`` key: wallets acme and acme-labs."""
    globex: str
    service: str


def seed(base_url: str, admin_key: str, now: datetime | None = None) -> Demo:
    """Wallets of two customers with grants, 30 days of usage by model, budgets, open and
    resolved holds, a refund, keys of every kind and a webhook."""
    now = now or datetime.now(UTC)
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {admin_key}"}) as http:

        def send(method: str, path: str, body: Any = None) -> dict[str, Any]:
            response = http.request(method, path, json=body)
            if response.status_code >= 300:
                raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
            return dict(response.json()) if response.content else {}

        for wallet_id, customer in (("acme", "acme"), ("acme-labs", "acme"), ("globex", "globex")):
            send("POST", "/v1/wallets", {"wallet_id": wallet_id, "customer_id": customer})
        expires = (now + timedelta(days=60)).isoformat()
        send(
            "POST",
            "/v1/wallets/acme/grants",
            {"amount": 2_500_000, "category": "paid", "grant_id": "paid-2026"},
        )
        send(
            "POST",
            "/v1/wallets/acme/grants",
            {
                "amount": 100_000,
                "category": "promotional",
                "grant_id": "welcome",
                "priority": 10,
                "expires_at": expires,
            },
        )
        send(
            "POST",
            "/v1/wallets/acme-labs/grants",
            {"amount": 50_000, "category": "trial", "grant_id": "trial"},
        )
        send(
            "POST",
            "/v1/wallets/globex/grants",
            {"amount": 900_000, "category": "paid", "grant_id": "g1"},
        )
        send(
            "PUT",
            "/v1/wallets/acme/budgets/team-research",
            {
                "scope": {"team_id": "research"},
                "limit": 400_000,
                "period": "month",
                "alert_thresholds": [0.75, 0.9, 1.0],
            },
        )
        send(
            "PUT",
            "/v1/wallets/acme/budgets/all",
            {"limit": 3_000_000, "period": "total", "mode": "soft"},
        )
        debit_ids = []
        for days_ago in range(29, -1, -1):
            for index, model in enumerate(MODELS):
                if (days_ago + index) % 4 == 0:
                    continue
                amount = 1_000 + ((days_ago * 7919 + index * 104_729) % 9_000)
                at = now - timedelta(days=days_ago, minutes=index)
                subject = {"model": model, "team_id": "research" if index == 0 else "product"}
                body = {"amount": amount, "subject": subject, "occurred_at": at.isoformat()}
                debit_ids.append(send("POST", "/v1/wallets/acme/debits", body)["debit_id"])
        send(
            "POST",
            f"/v1/wallets/acme/debits/{debit_ids[-1]}/refunds",
            {"amount": 500, "reason": "failed call"},
        )
        hook = {
            "url": "http://127.0.0.1:9/alerts",
            "secret": "demo-secret-0123456789",
            "events": ["budget.threshold_crossed", "wallet.balance_low"],
        }
        send("PUT", "/v1/webhooks/ops-alerts", hook)
        # globex falls below its low-balance threshold: an alert for the webhook, whose URL
        # answers nothing, so its delivery log shows failed attempts being retried.
        send("PUT", "/v1/wallets/globex/alert-settings", {"balance_low_threshold": 1_000_000})
        send(
            "POST", "/v1/wallets/globex/debits", {"amount": 12_345, "subject": {"model": "gpt-4.1"}}
        )
        send(
            "POST",
            "/v1/wallets/acme/holds",
            {"hold_id": "chat-4711", "amount": 5_000, "subject": {"model": "gpt-4.1"}},
        )
        send(
            "POST",
            "/v1/wallets/acme/holds",
            {"hold_id": "batch-12", "amount": 20_000, "subject": {"model": "llama-70b"}},
        )
        send("POST", "/v1/wallets/acme/holds", {"hold_id": "chat-4712", "amount": 3_000})
        send("POST", "/v1/wallets/acme/holds/chat-4712/capture", {"amount": 2_100})
        keys = {
            name: send("POST", "/v1/api-keys", {"scopes": [scope], "name": name})["key"]
            for name, scope in (
                ("finance team", "auditor"),
                ("acme dashboard", "customer:acme"),
                ("globex dashboard", "customer:globex"),
                ("backend", "service"),
            )
        }
    return Demo(
        admin=admin_key,
        auditor=keys["finance team"],
        acme=keys["acme dashboard"],
        globex=keys["globex dashboard"],
        service=keys["backend"],
    )
