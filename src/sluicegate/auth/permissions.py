"""Which public model names a principal may use: shell-style globs, memoized per principal."""

from __future__ import annotations

from fnmatch import fnmatchcase

from .principal import Principal


def may_use(principal: Principal, model: str) -> bool:
    if principal.is_master:
        return True
    cached = principal.allowed_cache.get(model)
    if cached is None:
        cached = any(fnmatchcase(model, glob) for glob in principal.model_globs)
        if len(principal.allowed_cache) < 4096:
            principal.allowed_cache[model] = cached
    return cached
