"""API key hashing and generation: keys are kept only as SHA-256 digests.

SHA-256 rather than a slow password hash because keys are 192-bit random strings, not
passwords: nothing is gained by slowing the lookup done on every request (see
docs/decisions.md).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_PREFIX = "sk-sg-"


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


def same_digest(a: bytes, b: bytes) -> bool:
    """Constant-time comparison of two digests."""
    return hmac.compare_digest(a, b)


def is_master_key(given: str | None, master_key: str | None) -> bool:
    """Constant-time check; both sides are hashed first so lengths leak nothing either."""
    if not given or not master_key:
        return False
    return same_digest(hash_key(given), hash_key(master_key))


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(24)


def display_prefix(key: str) -> str:
    """The short, harmless part of a key shown in listings (`sk-sg-AbCd…`): at most a
    quarter of the key, so a short hand-chosen key is never shown almost whole."""
    return key[: min(len(KEY_PREFIX) + 4, len(key) // 4)] + "…"
