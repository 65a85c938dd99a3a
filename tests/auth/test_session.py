"""Signed session tokens: round trip, expiry, tampering, master-key change, CSRF binding."""

from __future__ import annotations

from sluicegate.auth import session

KEY = "sk-master-for-sessions"


def test_issued_token_verifies_and_keeps_its_csrf_token() -> None:
    issued = session.issue(KEY, now=1000, lifetime=60)
    assert issued.expires_at == 1060
    verified = session.verify(issued.token, KEY, now=1059)
    assert verified == issued
    assert session.csrf_matches(verified, issued.csrf)
    assert KEY not in issued.token


def test_expired_token_is_refused() -> None:
    issued = session.issue(KEY, now=1000, lifetime=60)
    assert session.verify(issued.token, KEY, now=1060) is None


def test_changing_the_master_key_ends_every_session() -> None:
    issued = session.issue(KEY, now=1000)
    assert session.verify(issued.token, KEY + "-rotated", now=1001) is None


def test_a_changed_expiry_or_nonce_breaks_the_signature() -> None:
    issued = session.issue(KEY, now=1000, lifetime=60)
    version, expires, nonce, mac = issued.token.split(".")
    longer = ".".join([version, str(int(expires) + 10**6), nonce, mac])
    changed = "B" if nonce[0] == "A" else "A"  # a random nonce may start with either
    other_nonce = ".".join([version, expires, changed + nonce[1:], mac])
    for token in (longer, other_nonce, issued.token + "x", "v2" + issued.token[2:]):
        assert session.verify(token, KEY, now=1001) is None


def test_csrf_token_is_bound_to_its_session() -> None:
    one, two = session.issue(KEY), session.issue(KEY)
    assert one.csrf != two.csrf
    assert not session.csrf_matches(one, two.csrf)
    assert not session.csrf_matches(one, None)
    assert not session.csrf_matches(one, "")


def test_malformed_tokens_are_refused() -> None:
    for token in (None, "", "v1", "v1.a.b.c", "v1.1.2", "x" * 500):
        assert session.verify(token, KEY) is None
    assert session.verify(session.issue(KEY).token, None) is None


def test_cookie_from_header() -> None:
    header = b'a=1; sluicegate_session="v1.x"; b=2'
    assert session.cookie_from_header(header) == "v1.x"
    assert session.cookie_from_header("sluicegate_session=one; sluicegate_session=two") == "two"
    assert session.cookie_from_header(None) is None
    assert session.cookie_from_header(b"other=1") is None
