"""The dashboard's server side over real sockets, no browser: sign-in, cookie flags, the
session authorising /admin, CSRF, the sign-in throttle, sign-out, headers and assets."""

from __future__ import annotations

import re

import httpx
import pytest

from sluicegate.auth import session
from sluicegate.dashboard.throttle import FREE, SignInThrottle
from support import RunningGateway

from .conftest import MASTER_KEY, sign_in


def client(gateway: RunningGateway) -> httpx.Client:
    return httpx.Client(base_url=gateway.url, timeout=30)


def test_dashboard_without_session_redirects_to_sign_in(dash_gateway: RunningGateway) -> None:
    with client(dash_gateway) as http:
        response = http.get("/dashboard")
        assert response.status_code == 303
        assert response.headers["location"] == "/dashboard/login"
        form = http.get("/dashboard/login")
        assert form.status_code == 200
        assert 'action="/dashboard/login"' in form.text
        assert 'name="key"' in form.text


def test_sign_in_sets_a_strict_httponly_session_cookie(dash_gateway: RunningGateway) -> None:
    with client(dash_gateway) as http:
        response = sign_in(http)
        assert response.status_code == 303
        assert response.headers["location"] == "/dashboard"
        cookie = response.headers["set-cookie"]
        assert cookie.startswith(session.COOKIE_NAME + "=v1.")
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "samesite=strict", "path=/"} <= flags
        assert "secure" not in flags  # plain http on loopback; https gets Secure
        assert MASTER_KEY not in cookie
        shell = http.get("/dashboard")
        assert shell.status_code == 200
        assert MASTER_KEY not in shell.text
        assert shell.headers["cache-control"] == "no-store"
        # Signed in: the sign-in form sends you on to the dashboard.
        assert http.get("/dashboard/login").headers["location"] == "/dashboard"


def test_wrong_key_is_refused(dash_gateway: RunningGateway, throttle: SignInThrottle) -> None:
    with client(dash_gateway) as http:
        response = sign_in(http, "sk-not-the-master-key")
        assert response.status_code == 401
        assert "not the master key" in response.text
        assert "set-cookie" not in response.headers
        assert sign_in(http, "").status_code == 401
        assert http.post("/dashboard/login", content=b"x" * 9000).status_code == 401
        assert http.get("/dashboard").status_code == 303


def test_repeated_wrong_keys_are_slowed_down(
    dash_gateway: RunningGateway, throttle: SignInThrottle
) -> None:
    real_clock = throttle.clock
    with client(dash_gateway) as http:
        for _ in range(FREE):
            assert sign_in(http, "sk-wrong").status_code == 401
        # Locked: even the right key waits, told how long by Retry-After.
        locked = sign_in(http)
        assert locked.status_code == 429
        assert int(locked.headers["retry-after"]) >= 1
        assert "set-cookie" not in locked.headers
        assert "Too many wrong keys" in locked.text
        # Once the lock has passed (the throttle's clock moved on), the right key works.
        throttle.clock = lambda: real_clock() + 3600
        try:
            assert sign_in(http).status_code == 303
        finally:
            throttle.clock = real_clock


def test_session_cookie_authorises_admin_reads(
    signed_in: tuple[httpx.Client, str],
) -> None:
    http, _ = signed_in
    response = http.get("/admin/users")
    assert response.status_code == 200
    assert any(user["name"] == "scribe" for user in response.json()["data"])
    # A request that sends a key is judged by the key alone.
    response = http.get("/admin/users", headers={"authorization": "Bearer sk-wrong"})
    assert response.status_code == 401


def test_change_without_csrf_token_is_refused(signed_in: tuple[httpx.Client, str]) -> None:
    http, csrf = signed_in
    for headers in ({}, {session.CSRF_HEADER: "forged"}, {session.CSRF_HEADER: csrf[:-1]}):
        response = http.post("/admin/users", json={"name": "nocsrf"}, headers=headers)
        assert response.status_code == 403
        assert response.json() == {
            "error": {
                "message": "A change made with the dashboard session needs its CSRF token "
                "in 'x-csrf-token'.",
                "type": "permission_error",
                "code": "csrf_token_invalid",
                "param": None,
            }
        }
    assert all(u["name"] != "nocsrf" for u in http.get("/admin/users").json()["data"])
    created = http.post("/admin/users", json={"name": "withcsrf"}, headers={"x-csrf-token": csrf})
    assert created.status_code == 201, created.text
    deleted = http.delete(f"/admin/users/{created.json()['id']}", headers={"x-csrf-token": csrf})
    assert deleted.status_code == 200


def test_forged_or_foreign_cookies_are_refused(dash_gateway: RunningGateway) -> None:
    other = session.issue("sk-some-other-master-key")
    expired = session.issue(MASTER_KEY, now=0)
    good = session.issue(MASTER_KEY)
    tampered = good.token[:-2] + ("AA" if not good.token.endswith("AA") else "BB")
    for token in (other.token, expired.token, tampered, "v1.x.y.z", "garbage"):
        with client(dash_gateway) as http:
            http.cookies.set(session.COOKIE_NAME, token)
            response = http.get("/admin/users")
            assert response.status_code == 401, token
            assert response.json()["error"]["code"] == "invalid_api_key"
            assert http.get("/dashboard").status_code == 303


def test_sign_out_needs_the_csrf_token_and_clears_the_cookie(
    signed_in: tuple[httpx.Client, str],
) -> None:
    http, csrf = signed_in
    refused = http.post("/dashboard/logout", data={"csrf": "forged"})
    assert refused.status_code == 403
    assert http.get("/admin/users").status_code == 200
    cross_site = http.post(
        "/dashboard/logout", data={"csrf": csrf}, headers={"origin": "https://evil.example"}
    )
    assert cross_site.status_code == 403
    response = http.post("/dashboard/logout", data={"csrf": csrf})
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/login?signed_out"
    cleared = response.headers["set-cookie"]
    assert cleared.startswith(session.COOKIE_NAME + '=""') or "max-age=0" in cleared.lower()
    assert http.get("/admin/users").status_code == 401
    assert http.get("/dashboard").status_code == 303
    assert "signed out" in http.get("/dashboard/login?signed_out").text


def test_sign_in_from_another_origin_is_refused(dash_gateway: RunningGateway) -> None:
    with client(dash_gateway) as http:
        response = http.post(
            "/dashboard/login",
            data={"key": MASTER_KEY},
            headers={"origin": "https://evil.example"},
        )
        assert response.status_code == 403
        assert "set-cookie" not in response.headers


def test_every_answer_carries_a_strict_content_security_policy(
    signed_in: tuple[httpx.Client, str],
) -> None:
    http, _ = signed_in
    for path in ("/dashboard", "/dashboard/login", "/dashboard/static/js/app.js"):
        response = http.get(path)
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
    shell = http.get("/dashboard").text
    # No inline script or style: every <script> has a same-origin src.
    assert not re.search(r"<script(?![^>]*\bsrc=\"/dashboard/static/)", shell)
    assert "<style" not in shell
    assert " style=" not in shell


def test_static_assets_are_served_and_unknown_ones_are_404(
    dash_gateway: RunningGateway,
) -> None:
    with client(dash_gateway) as http:
        script = http.get("/dashboard/static/vendor/uPlot.iife.min.js")
        assert script.status_code == 200
        assert "javascript" in script.headers["content-type"]
        assert http.get("/dashboard/static/nope.js").status_code == 404
        assert http.get("/dashboard/static/../routes.py").status_code == 404


def test_gateway_without_master_key_signs_nobody_in() -> None:
    assert session.verify(session.issue("k").token, None) is None


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_every_changing_method_needs_the_csrf_token(
    signed_in: tuple[httpx.Client, str], method: str
) -> None:
    http, _ = signed_in
    response = http.request(method, "/admin/users/unknown", json={})
    assert response.status_code == 403
