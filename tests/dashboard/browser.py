"""Headless Chromium for the dashboard tests: Debian's `chromium` driven through its
`chromedriver` by Selenium (no downloaded browser), with the performance log on so a test can
list every request a page made, and screenshots saved as test artifacts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from support import ROOT

from .conftest import MASTER_KEY

ARTIFACTS = ROOT / "test-artifacts" / "dashboard"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
LAPTOP = (1366, 900)
PHONE = (390, 844)


def start_browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",  # no update checks etc.: only the page's requests
        "--disable-component-update",
        "--disable-sync",
        "--password-store=basic",
        f"--window-size={LAPTOP[0]},{LAPTOP[1]}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    service = Service(shutil.which("chromedriver") or CHROMEDRIVER)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(30)
    return driver


class Page:
    """The browser pointed at one gateway, with the few moves every test makes."""

    def __init__(self, driver: webdriver.Chrome, base_url: str) -> None:
        self.driver = driver
        self.base_url = base_url
        self.requested: list[str] = []

    def wait(self, timeout: float = 10) -> WebDriverWait[webdriver.Chrome]:
        return WebDriverWait(
            self.driver,
            timeout,
            poll_frequency=0.05,
            ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
        )

    def go(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def find(self, css: str, timeout: float = 10) -> WebElement:
        return self.wait(timeout).until(lambda d: d.find_element(By.CSS_SELECTOR, css))

    def text_appears(self, text: str, css: str = "main", timeout: float = 10) -> WebElement:
        def found(driver: webdriver.Chrome) -> WebElement | bool:
            for element in driver.find_elements(By.CSS_SELECTOR, css):
                if text in element.text:
                    return element
            return False

        element: WebElement = self.wait(timeout).until(found)
        return element

    def sign_in(self, key: str = MASTER_KEY) -> None:
        self.go("/dashboard/login")
        if "/dashboard/login" not in self.driver.current_url:
            return  # still signed in
        box = self.find("#key")
        box.clear()
        box.send_keys(key)
        self.find("#signin").click()

    def ensure_signed_in(self) -> None:
        self.go("/dashboard")
        if "/dashboard/login" in self.driver.current_url:
            self.sign_in()
            self.find("#nav")

    def open(self, page: str) -> None:
        """Navigate the app to `#/page...` (again, if it is there already) and wait until the
        page module has finished rendering."""
        before = self.driver.execute_script(
            "const before = Number(document.body.dataset.renders || 0);"
            "if (window.location.hash === arguments[0]) {"
            "  window.dispatchEvent(new HashChangeEvent('hashchange'));"
            "} else { window.location.hash = arguments[0]; }"
            "return before;",
            page,
        )
        self.wait().until(
            lambda d: d.execute_script("return Number(document.body.dataset.renders || 0)") > before
        )

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def network_requests(self) -> list[str]:
        """Every URL the browser asked for since the last call (Chrome's performance log)."""
        for entry in self.driver.get_log("performance"):
            message: dict[str, Any] = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.requestWillBeSent":
                self.requested.append(message["params"]["request"]["url"])
        return self.requested

    def foreign_requests(self) -> list[str]:
        origin = urlsplit(self.base_url)
        return [
            url
            for url in self.network_requests()
            if not url.startswith("data:")
            and (urlsplit(url).scheme, urlsplit(url).netloc) != (origin.scheme, origin.netloc)
        ]

    def console_errors(self) -> list[str]:
        return [e["message"] for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]
