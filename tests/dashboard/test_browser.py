"""The dashboard in real headless Chromium: sign-in (wrong key refused), the request log and a
request's detail, creating a user and using its key shown once, management pages, a phone
screen, keyboard use, CSRF, sign-out, and that no page reaches beyond the gateway.

Every page is screenshotted into test-artifacts/dashboard/ (docs/dashboard.md shows copies).
"""

from __future__ import annotations

import uuid

import httpx
import openai
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from sluicegate.auth import session
from support import RunningGateway, wait_until

from .browser import PHONE, Page
from .conftest import SCRIBE_KEY


def tag() -> str:
    return "t" + uuid.uuid4().hex[:10]


def chat(gateway: RunningGateway, key: str, text: str, stream: bool = False) -> str:
    """One chat completion through the openai SDK; returns its x-request-id."""
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0)
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": text}]
    if stream:
        with client.chat.completions.with_streaming_response.create(
            model="demo-echo", messages=messages, stream=True
        ) as response:
            list(response.iter_lines())
            return response.headers["x-request-id"]
    raw = client.chat.completions.with_raw_response.create(model="demo-echo", messages=messages)
    return raw.headers["x-request-id"]


def test_wrong_key_is_refused_in_the_browser(page: Page) -> None:
    page.driver.delete_all_cookies()
    page.go("/dashboard")
    page.wait().until(lambda d: d.current_url.endswith("/dashboard/login"))
    page.screenshot("signin")
    page.sign_in("sk-wrong-key")
    message = page.text_appears("not the master key", "#message")
    assert message.get_attribute("role") == "alert"
    assert page.driver.get_cookie(session.COOKIE_NAME) is None
    page.screenshot("signin-refused")
    page.sign_in()
    page.find("#nav")
    assert page.driver.current_url.endswith("/dashboard")


def test_session_cookie_is_httponly_and_the_key_is_not_in_browser_storage(
    browser: Page,
) -> None:
    cookie = browser.driver.get_cookie(session.COOKIE_NAME)
    assert cookie is not None
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert browser.driver.execute_script("return document.cookie") == ""
    stored = browser.driver.execute_script(
        "return JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
    )
    assert stored == "[[],[]]"


def test_overview_shows_totals_and_top_lists(browser: Page, dash_gateway: RunningGateway) -> None:
    request_id = chat(dash_gateway, SCRIBE_KEY, "overview " + tag())
    wait_until(lambda: logged(browser, request_id), 10, 0.1)
    browser.open("#/overview")
    browser.text_appears("Requests", "#totals")
    browser.text_appears("Top models", "main")
    browser.text_appears("demo-echo", ".tops")
    browser.screenshot("overview")


def test_request_is_listed_and_its_detail_shows_body_and_attempts(
    browser: Page, dash_gateway: RunningGateway
) -> None:
    word = tag()
    request_id = chat(dash_gateway, SCRIBE_KEY, f"hello {word}", stream=True)
    wait_until(lambda: logged(browser, request_id), 10, 0.1)
    browser.open("#/requests?model=demo-echo")
    browser.screenshot("requests")
    first = browser.find("main tbody tr td a")
    first.click()
    browser.text_appears(word, "#request-body")
    browser.text_appears(request_id, ".facts")
    attempts = browser.driver.find_elements(By.CSS_SELECTOR, ".timeline li")
    assert len(attempts) == 1
    assert "demo / demo-echo" in attempts[0].text
    assert "200" in attempts[0].text
    # The compact stream rendered as a conversation: the system, user and assistant turns.
    roles = [e.text for e in browser.driver.find_elements(By.CSS_SELECTOR, ".msg .role")]
    assert roles[:3] == ["SYSTEM", "USER", "ASSISTANT"]
    browser.text_appears("Streamed:", ".conversation")
    browser.screenshot("request-detail")


def logged(browser: Page, request_id: str) -> bool:
    """Whether the request log has written `request_id`'s row (asked with the session)."""
    return bool(
        browser.driver.execute_script(
            "return fetch('/admin/analytics/requests/' + arguments[0]).then(r => r.ok)",
            request_id,
        )
    )


def test_filters_narrow_the_log(browser: Page, dash_gateway: RunningGateway) -> None:
    chat(dash_gateway, SCRIBE_KEY, "filter " + tag())
    browser.open("#/requests")
    status = browser.find("input[name=status_code]")
    status.send_keys("404")
    status.send_keys(Keys.ENTER)
    browser.wait().until(lambda d: "status_code=404" in d.current_url)
    browser.text_appears("No request matches.", "main")
    browser.open("#/requests?status_code=200&stream=false")
    assert browser.find("select[name=stream]").get_attribute("value") == "false"
    browser.text_appears("200", "main tbody")


def test_create_user_copy_its_key_and_see_its_call_in_the_log(
    browser: Page, dash_gateway: RunningGateway
) -> None:
    name = "ui-" + tag()
    browser.open("#/users")
    browser.find("#new").click()
    dialog = browser.find("dialog[open]")
    dialog.find_element(By.NAME, "name").send_keys(name)
    dialog.find_element(By.NAME, "models").send_keys("*")
    dialog.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    panel = browser.find(".secret-panel")
    key = panel.find_element(By.CSS_SELECTOR, "input.secret").get_attribute("value")
    assert key and key.startswith("sk-")
    # The copy button: with clipboard permission granted, the clipboard holds the key.
    browser.driver.execute_cdp_cmd(
        "Browser.grantPermissions",
        {
            "origin": browser.base_url,
            "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"],
        },
    )
    panel.find_element(By.CSS_SELECTOR, "button.copy").click()
    browser.text_appears("Copied.", ".copy-status")
    copied = browser.driver.execute_async_script(
        "navigator.clipboard.readText().then(arguments[0], e => arguments[0]('error ' + e))"
    )
    assert copied == key
    browser.screenshot("user-key-shown-once")
    # The key works, and its call shows in the log under the new user.
    request_id = chat(dash_gateway, key, "from the new user " + tag())
    assert dash_gateway.completion(request_id).status_code == 200
    users = httpx.get(
        dash_gateway.url + "/admin/users", cookies=browser_cookie(browser), timeout=10
    ).json()["data"]
    user_id = next(u["id"] for u in users if u["name"] == name)

    wait_until(lambda: logged(browser, request_id), 10, 0.1)
    browser.open(f"#/requests?user_id={user_id}")
    rows = browser.driver.find_elements(By.CSS_SELECTOR, "main tbody tr")
    assert len(rows) == 1
    assert name in rows[0].text


def browser_cookie(browser: Page) -> dict[str, str]:
    cookie = browser.driver.get_cookie(session.COOKIE_NAME)
    assert cookie is not None
    return {session.COOKIE_NAME: cookie["value"]}


def test_csrf_less_post_with_the_browser_session_is_refused(
    browser: Page, dash_gateway: RunningGateway
) -> None:
    cookies = browser_cookie(browser)
    with httpx.Client(base_url=dash_gateway.url, cookies=cookies, timeout=10) as http:
        assert http.get("/admin/users").status_code == 200
        refused = http.post("/admin/users", json={"name": "csrf-less"})
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "csrf_token_invalid"
        names = [u["name"] for u in http.get("/admin/users").json()["data"]]
        assert "csrf-less" not in names


def test_management_pages_show_config_entities_read_only(browser: Page) -> None:
    for page_name, entity in (("backends", "demo"), ("models", "demo-echo"), ("users", "scribe")):
        browser.open(f"#/{page_name}")
        row = browser.text_appears(entity, "main tbody tr")
        assert "config file" in row.text
        assert not row.find_elements(By.XPATH, ".//button[text()='Delete']")
        browser.screenshot(page_name)


def test_create_edit_and_delete_a_backend_model_and_permission(browser: Page) -> None:
    word = tag()
    browser.open("#/backends")
    browser.find("#new").click()
    dialog = browser.find("dialog[open]")
    dialog.find_element(By.NAME, "name").send_keys("b-" + word)
    dialog.find_element(By.NAME, "models").send_keys("x-" + word)
    dialog.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    row = browser.text_appears("b-" + word, "main tbody tr")
    row.find_element(By.XPATH, ".//button[text()='Edit']").click()
    dialog = browser.find("dialog[open]")
    retries = dialog.find_element(By.NAME, "max_retries")
    retries.clear()
    retries.send_keys("4")
    dialog.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    browser.wait().until(lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"))

    browser.open("#/models")
    browser.find("#new").click()
    dialog = browser.find("dialog[open]")
    dialog.find_element(By.NAME, "name").send_keys("m-" + word)
    dialog.find_element(By.NAME, "targets").send_keys(f"b-{word} x-{word}")
    dialog.find_element(By.NAME, "fallbacks").send_keys("demo-echo")
    dialog.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    row = browser.text_appears("m-" + word, "main tbody tr")
    assert f"b-{word}/x-{word}" in row.text

    browser.open("#/permissions")
    browser.find("#new").click()
    dialog = browser.find("dialog[open]")
    dialog.find_element(By.NAME, "user_id").send_keys("scribe")
    dialog.find_element(By.NAME, "model").send_keys(f"m-{word}*")
    dialog.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    row = browser.text_appears(f"m-{word}*", "main tbody tr")
    assert "scribe" in row.text
    browser.screenshot("permissions")
    row.find_element(By.XPATH, ".//button[text()='Delete']").click()
    browser.driver.switch_to.alert.accept()
    browser.wait().until(lambda d: f"m-{word}*" not in d.find_element(By.CSS_SELECTOR, "main").text)

    # A model still in use keeps its backend: deleting the backend first is refused.
    browser.open("#/backends")
    row = browser.text_appears("b-" + word, "main tbody tr")
    row.find_element(By.XPATH, ".//button[text()='Delete']").click()
    browser.driver.switch_to.alert.accept()
    browser.text_appears("", "#toast.error")
    browser.open("#/models")
    row = browser.text_appears("m-" + word, "main tbody tr")
    row.find_element(By.XPATH, ".//button[text()='Delete']").click()
    browser.driver.switch_to.alert.accept()
    browser.wait().until(lambda d: "m-" + word not in d.find_element(By.CSS_SELECTOR, "main").text)


def test_phone_screen_has_no_sideways_scrolling(browser: Page) -> None:
    browser.driver.set_window_size(*PHONE)
    for page_name in ("overview", "requests", "users"):
        browser.open(f"#/{page_name}")
        overflow = browser.driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, page_name
    browser.screenshot("phone-users")


def test_keyboard_reaches_the_skip_link_and_the_pages(browser: Page) -> None:
    browser.go("/dashboard#/overview")
    browser.driver.refresh()  # a fresh load: focus starts at the top of the document
    browser.find("#totals")
    browser.driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    active = browser.driver.switch_to.active_element
    assert active.text == "Skip to content"
    active.send_keys(Keys.ENTER)  # the skip link moves focus to the page, not the route
    assert browser.driver.switch_to.active_element.get_attribute("id") == "main"
    assert browser.driver.current_url.endswith("#/overview")
    browser.driver.refresh()
    browser.find("#totals")
    browser.driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    browser.driver.switch_to.active_element.send_keys(Keys.TAB)
    active = browser.driver.switch_to.active_element
    assert active.get_attribute("href").endswith("#/overview")
    active.send_keys(Keys.TAB)
    browser.driver.switch_to.active_element.send_keys(Keys.ENTER)
    browser.wait().until(lambda d: d.current_url.endswith("#/requests"))


def test_pages_reach_nothing_but_the_gateway(browser: Page) -> None:
    for page_name in ("overview", "requests", "live", "backends", "models", "users"):
        browser.open(f"#/{page_name}")
    assert browser.network_requests(), "the performance log recorded nothing"
    assert browser.foreign_requests() == []
    assert [e for e in browser.console_errors() if "Content Security Policy" in e] == []


def test_sign_out_ends_the_session(browser: Page, dash_gateway: RunningGateway) -> None:
    cookies = browser_cookie(browser)
    browser.find("#signout").click()
    browser.text_appears("You are signed out.", "#message")
    assert browser.driver.get_cookie(session.COOKIE_NAME) is None
    browser.go("/dashboard")
    browser.wait().until(lambda d: d.current_url.endswith("/dashboard/login"))
    # The browser dropped the cookie; a copy kept from before stays valid until it expires
    # (stateless sessions, docs/decisions.md).
    kept = httpx.get(dash_gateway.url + "/admin/users", cookies=cookies, timeout=10)
    assert kept.status_code == 200
