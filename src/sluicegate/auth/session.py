"""Dashboard sessions: a signed, expiring cookie and the CSRF token bound to it, stateless.

Signing in with the master key yields a token that every worker and instance can verify
without shared state (no session table, no Redis), and that a master-key change invalidates:

    signing key = HMAC-SHA256(master_key, "sluicegate dashboard session v1")
    token       = "v1.<expires unix s>.<nonce>.<HMAC(signing key, "v1.<expires>.<nonce>")>"
    csrf token  = HMAC(signing key, "csrf.<nonce>")      (sent back as `x-csrf-token`)

The cookie holds only the token, never the master key; the CSRF token is derived from the
token's random nonce, so it is useless with another session and cannot be forged without the
signing key. Sign-out clears the cookie in the browser; a copy taken before then stays valid
until it expires (`LIFETIME_SECONDS`) or the master key changes (docs/decisions.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

COOKIE_NAME = "sluicegate_session"
CSRF_HEADER = "x-csrf-token"
LIFETIME_SECONDS = 12 * 3600
_VERSION = "v1"
_CONTEXT = b"sluicegate dashboard session v1"


@dataclass(frozen=True, slots=True)
class Session:
    token: str
    csrf: str
    expires_at: int


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _signing_key(master_key: str) -> bytes:
    return hmac.new(master_key.encode("utf-8", "surrogatepass"), _CONTEXT, hashlib.sha256).digest()


def _mac(key: bytes, message: str) -> str:
    return _b64(hmac.new(key, message.encode("ascii"), hashlib.sha256).digest())


def issue(master_key: str, now: float | None = None, lifetime: int = LIFETIME_SECONDS) -> Session:
    """A new session for whoever just proved they hold `master_key`."""
    expires = int(now if now is not None else time.time()) + lifetime
    nonce = _b64(secrets.token_bytes(18))
    key = _signing_key(master_key)
    body = f"{_VERSION}.{expires}.{nonce}"
    return Session(f"{body}.{_mac(key, body)}", _mac(key, "csrf." + nonce), expires)


def verify(token: str | None, master_key: str | None, now: float | None = None) -> Session | None:
    """The session `token` stands for, or None when it is malformed, forged, signed with
    another master key, or expired. The signature is compared in constant time."""
    if not token or not master_key or len(token) > 200:
        return None
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != _VERSION or not parts[1].isdigit():
        return None
    key = _signing_key(master_key)
    body = ".".join(parts[:3])
    if not hmac.compare_digest(_mac(key, body), parts[3]):
        return None
    expires = int(parts[1])
    if expires <= (now if now is not None else time.time()):
        return None
    return Session(token, _mac(key, "csrf." + parts[2]), expires)


def csrf_matches(session: Session, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(session.csrf.encode(), (given or "").encode())


def cookie_from_header(header: bytes | str | None, name: str = COOKIE_NAME) -> str | None:
    """The value of cookie `name` in a `Cookie` request header (the last one wins)."""
    if not header:
        return None
    text = header.decode("latin-1") if isinstance(header, bytes) else header
    found = None
    for part in text.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            found = value.strip().strip('"')
    return found
