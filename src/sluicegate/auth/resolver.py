"""API key → Principal: the key store the hot path consults, swapped whole on reload."""

from __future__ import annotations

from collections.abc import Iterable

from ..config.schema import UserConfig
from ..errors import AuthenticationFailed
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
        principals: dict[bytes, Principal] = {}
        for user in users:
            for index, key in enumerate(user.api_keys):
                digest = hash_key(key)
                principals[digest] = Principal(
                    key_digest=digest,
                    user_id=user.name,
                    user_name=user.name,
                    key_id=f"{user.name}#{index}",
                    model_globs=tuple(user.models),
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
