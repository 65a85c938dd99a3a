"""The cache key: a hash of who asks, which front door, which public model and the canonical body.

The canonical body is the request without the fields that do not change the answer's content
(`stream`, `stream_options`, `user`), serialised with sorted keys so that two clients sending
the same object in a different key order share one entry. Stream-ness is not part of the key:
one entry answers both kinds, converted for the other kind (`cache/convert/`).
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

# Fields that differ between identical questions; never part of the key.
IGNORED = ("stream", "stream_options", "user")


def canonical_body(request: dict[str, Any]) -> bytes:
    """The request as sorted-key JSON, without the IGNORED fields."""
    if any(name in request for name in IGNORED):
        request = {k: v for k, v in request.items() if k not in IGNORED}
    return orjson.dumps(request, option=orjson.OPT_SORT_KEYS)


def cache_key(
    owner: str | None,
    path: str,
    model: str,
    variant: str,
    request: dict[str, Any],
) -> str:
    """The key of `request`: `owner` is the user id (None: shared by every user), `variant` any
    per-caller setting that changes the answer's shape (e.g. reasoning copied)."""
    digest = hashlib.blake2b(digest_size=20)
    # Length-prefixed parts, so no two different tuples can hash the same bytes.
    for part in (owner or "", path, model, variant):
        encoded = part.encode()
        digest.update(b"%d:" % len(encoded))
        digest.update(encoded)
    digest.update(canonical_body(request))
    scope = "u" if owner is not None else "g"
    return f"{scope}:{digest.hexdigest()}"
