"""The dashboard pages fed by endpoints built on other branches (GET /admin/live/logs and
GET /admin/analytics/timeseries): these pass once those are merged, not before.

A request made with the openai SDK shows in the live tail within 2 s, pause holds new events
back, the type filter hides usage events; the overview draws its charts from the timeseries.
"""

from __future__ import annotations

import time

from selenium.webdriver.common.by import By

from support import RunningGateway, wait_until

from .browser import Page
from .conftest import SCRIBE_KEY
from .test_browser import chat, logged, tag


def live_rows(browser: Page, kind: str = "") -> list[str]:
    return [e.text for e in browser.driver.find_elements(By.CSS_SELECTOR, f"#live-rows tr{kind}")]


def open_live(browser: Page) -> None:
    browser.open("#/live")
    browser.text_appears("live", ".live-state")


def test_request_appears_in_the_live_tail_within_two_seconds(
    browser: Page, dash_gateway: RunningGateway
) -> None:
    open_live(browser)
    before = len(live_rows(browser, ".audit"))
    request_id = chat(dash_gateway, SCRIBE_KEY, "live " + tag())
    sent = time.monotonic()
    browser.wait(2.0).until(lambda d: len(live_rows(browser, ".audit")) > before)
    assert time.monotonic() - sent <= 2.0
    row = browser.find("#live-rows tr.audit")
    assert "demo-echo" in row.text
    assert "200" in row.text
    browser.screenshot("live")
    # Its detail link opens the request (once the log writer has stored it).
    wait_until(lambda: logged(browser, request_id), 10, 0.1)
    row.find_element(By.LINK_TEXT, "Open").click()
    browser.text_appears(request_id, ".facts")


def test_pause_holds_events_and_resume_shows_them(
    browser: Page, dash_gateway: RunningGateway
) -> None:
    open_live(browser)
    pause = browser.find(".toolbar button")
    pause.click()
    assert pause.get_attribute("aria-pressed") == "true"
    shown = len(live_rows(browser))
    chat(dash_gateway, SCRIBE_KEY, "paused " + tag())
    browser.text_appears("new while paused", ".held")
    assert len(live_rows(browser)) == shown
    pause.click()
    browser.wait().until(lambda d: len(live_rows(browser)) > shown)


def test_type_filter_leaves_out_usage_events(browser: Page, dash_gateway: RunningGateway) -> None:
    open_live(browser)
    browser.find("input[value=usage]").click()
    browser.text_appears("live", ".live-state")
    audits = len(live_rows(browser, ".audit"))
    usages = len(live_rows(browser, ".usage"))
    chat(dash_gateway, SCRIBE_KEY, "filtered " + tag())
    browser.wait().until(lambda d: len(live_rows(browser, ".audit")) > audits)
    assert len(live_rows(browser, ".usage")) == usages


def test_overview_draws_its_charts(browser: Page, dash_gateway: RunningGateway) -> None:
    request_id = chat(dash_gateway, SCRIBE_KEY, "chart " + tag())
    wait_until(lambda: logged(browser, request_id), 10, 0.1)
    browser.open("#/overview?range=1h")
    charts = browser.driver.find_elements(By.CSS_SELECTOR, "#charts figure.chart")
    assert len(charts) == 7, browser.find("#charts").text
    for chart in charts:
        assert chart.find_elements(By.CSS_SELECTOR, "canvas")
    assert "Responses by status class" in browser.find("#charts").text
    browser.screenshot("overview")
