"""API key → Principal: the key store the hot path consults, swapped whole on reload."""

from __future__ import annotations

from collections.abc import Iterable

from ..config.schema import UserConfig
from ..errors import AuthenticationFailed
from ..storage.catalog_view import CatalogUser
from .keys import hash_key, same_digest
from .principal import Principal


class KeyStore:
    """Digest-indexed principals plus the master key.

    The dict lookup is by SHA-256 digest, so its timing says nothing about any stored key; the
    matched digest is then compared in constant time all the same.
    """

    def __init__(self, master_key: str | None, principals: dict[bytes, Principal]) -> None:
        self._master = hash_key(master_key) if master_key else None
        self._by_digest = principals
        self.master_principal = Principal(
            user_id=None, user_name="master", key_id=None, is_master=True
        )

    @classmethod
    def from_config(cls, master_key: str | None, users: Iterable[UserConfig]) -> KeyStore:
        """Principals straight from the config file (before the database answered)."""
        entries = [
            (
                user,
                user.name,
                [(f"{user.name}#{i}", hash_key(k)) for i, k in enumerate(user.api_keys)],
                [],
            )
            for user in users
        ]
        return cls.build(master_key, entries)

    @classmethod
    def from_catalog(cls, master_key: str | None, users: Iterable[CatalogUser]) -> KeyStore:
        """Principals from the database catalog: ids are row ids, grants add globs."""
        entries = [
            (u.config, u.id, [(key_id, bytes.fromhex(h)) for key_id, h in u.keys], u.granted)
            for u in users
        ]
        return cls.build(master_key, entries)

    @classmethod
    def build(
        cls,
        master_key: str | None,
        entries: Iterable[tuple[UserConfig, str, list[tuple[str, bytes]], list[str]]],
    ) -> KeyStore:
        principals: dict[bytes, Principal] = {}
        for user, user_id, keys, granted in entries:
            globs = tuple(dict.fromkeys([*user.models, *granted]))
            for key_id, digest in keys:
                principals[digest] = Principal(
                    key_digest=digest,
                    user_id=user_id,
                    user_name=user.name,
                    key_id=key_id,
                    model_globs=globs,
                    rpm=user.rpm,
                    tpm=user.tpm,
                    budget_usd=user.budget_usd,
                    budget_period=user.budget_period,
                    model_limits={
                        name: (limit.rpm, limit.tpm) for name, limit in user.model_limits.items()
                    },
                    detail_logging=user.detail_logging,
                    copy_reasoning=user.copy_reasoning_to_reasoning_content,
                )
        return cls(master_key, principals)

    def authenticate(self, key: str | None) -> Principal:
        if not key:
            raise AuthenticationFailed("Missing API key. Send 'Authorization: Bearer <key>'.")
        digest = hash_key(key)
        if self._master is not None and same_digest(digest, self._master):
            return self.master_principal
        principal = self._by_digest.get(digest)
        if principal is None or not same_digest(digest, principal.key_digest):
            raise AuthenticationFailed("Invalid API key.")
        return principal


def key_from_headers(authorization: bytes | None, x_api_key: bytes | None) -> str | None:
    """`Authorization: Bearer K` wins over `x-api-key: K` when both are sent."""
    if authorization is not None:
        scheme, _, token = authorization.decode("latin-1").strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        return None
    if x_api_key is not None:
        return x_api_key.decode("latin-1").strip() or None
    return None
