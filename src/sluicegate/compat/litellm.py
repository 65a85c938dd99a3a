"""LiteLLM proxy config → a sluicegate config document, before validation (SPEC 11).

    LiteLLM YAML ──map_litellm──▶ Mapped(document, unmapped, problems)
        load:  config/loader.py validates `document` like any file (serve, check-config,
               reload) and warns once listing `unmapped`
        print: printer.py renders it as sluicegate YAML, `unmapped` as comments

The document is plain data in the shape of sluicegate's YAML, so `config` (which validates it)
imports this package and not the other way round. Settings LiteLLM keeps in three sections are
read from whichever holds them: `router_settings` first, then `litellm_settings`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from .deployments import Deployments, backend_timeouts
from .settings import NOTES, database_url
from .values import Values, join

STRATEGIES = {
    "simple-shuffle": "weighted",
    "least-busy": "least_busy",
    "latency-based-routing": "lowest_latency",
}
_SECTIONS = ("model_list", "router_settings", "litellm_settings", "general_settings")
_ROUTER = {"routing_strategy", "num_retries", "timeout", "stream_timeout", "allowed_fails"}
_ROUTER |= {"cooldown_time", "fallbacks", "default_fallbacks", "model_group_alias"}
_ROUTER |= {"redis_host", "redis_port", "redis_password", "redis_url"}
_LITELLM = {"num_retries", "request_timeout", "fallbacks", "default_fallbacks", "allowed_fails"}
_LITELLM |= {"cooldown_time", "cache", "cache_params", "stream_timeout"}


@dataclass
class Mapped:
    """A mapped LiteLLM config: sluicegate's document, what was left out, what is wrong."""

    document: dict[str, Any]
    unmapped: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def is_litellm(document: Mapping[str, Any]) -> bool:
    """A LiteLLM proxy config: its top level has `model_list` (SPEC 1)."""
    return "model_list" in document


def map_litellm(document: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Mapped:
    """Map a parsed LiteLLM config; `env` resolves `os.environ/NAME` (None: keep as `${NAME}`)."""
    extra = document.get("environment_variables")
    if env is not None and isinstance(extra, dict):
        # LiteLLM exports these before reading the rest of its config.
        env = {**env, **{str(k): str(v) for k, v in extra.items() if v is not None}}
    v = Values(env)
    for key in document:
        if key not in _SECTIONS and (key != "environment_variables" or env is None):
            v.skip(str(key), NOTES.get(key, "not mapped"))
    router = v.mapping(document.get("router_settings"), "router_settings")
    module = v.mapping(document.get("litellm_settings"), "litellm_settings")
    general = v.mapping(document.get("general_settings"), "general_settings")
    setting = _Setting(v, router, module)
    deployments = Deployments(v, _backend_defaults(setting))
    deployments.add_all(v.items(document.get("model_list"), "model_list"))
    models = deployments.models
    _strategy(setting, models)
    _fallbacks(setting, models)
    _aliases(setting, models)
    out: dict[str, Any] = {}
    server = _server(v, general)
    if server:
        out["server"] = server
    database = database_url(v, general)
    if database:
        out["database"] = {"url": database}
    redis = _redis(v, router, module)
    if redis:
        out["redis"] = {"url": redis}
    cache = _cache(v, module, redis)
    if cache:
        out["cache"] = cache
    out["backends"] = deployments.backends
    out["models"] = list(models.values())
    v.skip_rest(router, "router_settings", _ROUTER, "not mapped")
    v.skip_rest(module, "litellm_settings", _LITELLM, "not mapped")
    v.unmapped = [(path, NOTES.get(path.rsplit(".", 1)[-1], why)) for path, why in v.unmapped]
    return Mapped(out, v.unmapped, v.problems)


class _Setting:
    """A setting from router_settings, else litellm_settings, with the path it came from."""

    def __init__(self, v: Values, router: dict[str, Any], module: dict[str, Any]) -> None:
        self.v, self.router, self.module = v, router, module

    def get(self, key: str, module_key: str | None = None) -> tuple[Any, str]:
        if key in self.router:
            return self.router[key], f"router_settings.{key}"
        module_key = module_key or key
        return self.module.get(module_key), f"litellm_settings.{module_key}"

    def number(self, key: str, module_key: str | None = None) -> float | None:
        value, path = self.get(key, module_key)
        return None if value is None else self.v.number(value, path)


def _backend_defaults(s: _Setting) -> dict[str, Any]:
    """Backend settings every deployment starts from (a deployment's own win)."""
    out: dict[str, Any] = {}
    timeout = s.number("timeout", "request_timeout")
    stream = s.number("stream_timeout")
    if timeout or stream:
        out["timeouts"] = backend_timeouts(timeout or None, stream or None)
    retries = s.number("num_retries")
    if retries is not None:
        out["max_retries"] = min(int(retries), 10)
    cooldown: dict[str, Any] = {}
    fails = s.number("allowed_fails")
    if fails is not None:
        # LiteLLM cools a deployment once it fails more than allowed_fails times.
        cooldown["failures"] = int(fails) + 1
    seconds = s.number("cooldown_time")
    if seconds is not None:
        cooldown["seconds"] = seconds
    if cooldown:
        out["cooldown"] = cooldown
    return out


def _strategy(s: _Setting, models: dict[str, dict[str, Any]]) -> None:
    value, path = s.get("routing_strategy")
    if value is None:
        return
    strategy = STRATEGIES.get(str(value))
    if strategy is None:
        s.v.skip(path, f"'{value}' is not mapped; models use weighted (simple-shuffle)")
        return
    if strategy != "weighted":
        for model in models.values():
            model["strategy"] = strategy


def _fallbacks(s: _Setting, models: dict[str, dict[str, Any]]) -> None:
    """`fallbacks: [{"gpt-4": ["gpt-3.5"]}]` and `default_fallbacks: [m]` → models' fallbacks."""
    value, path = s.get("fallbacks")
    for i, entry in enumerate(s.v.items(value, path)):
        for name, targets in s.v.mapping(entry, join(path, i)).items():
            where = join(join(path, i), name)
            if name not in models:
                s.v.skip(where, f"no model '{name}' in model_list")
                continue
            for fallback in s.v.items(targets, where):
                _add_fallback(s.v, models, name, fallback, where)
    value, path = s.get("default_fallbacks")
    for fallback in s.v.items(value, path):
        for name in models:
            if name != fallback:
                _add_fallback(s.v, models, name, fallback, path)


def _add_fallback(
    v: Values, models: dict[str, dict[str, Any]], name: str, fallback: Any, path: str
) -> None:
    if fallback not in models or fallback == name:
        v.skip(path, f"fallback '{fallback}' is not a model of model_list")
        return
    chain = models[name].setdefault("fallbacks", [])
    if fallback not in chain:
        chain.append(fallback)


def _aliases(s: _Setting, models: dict[str, dict[str, Any]]) -> None:
    """`model_group_alias: {alias: model}` → a model named `alias` with the same targets."""
    value, path = s.get("model_group_alias")
    for alias, target in s.v.mapping(value, path).items():
        name = target.get("model") if isinstance(target, dict) else target
        if name not in models or alias in models:
            s.v.skip(join(path, alias), f"alias of '{name}' is not mapped")
            continue
        models[alias] = {**models[name], "name": alias}


def _server(v: Values, general: dict[str, Any]) -> dict[str, Any]:
    v.skip_rest(general, "general_settings", {"master_key", "database_url"}, "not mapped")
    explicit = "master_key" in general
    if explicit:
        key = v.text(general["master_key"], "general_settings.master_key")
    else:  # LiteLLM's docker images take the key from LITELLM_MASTER_KEY
        key = v.env_default("LITELLM_MASTER_KEY")
    if not key:
        return {}
    # LiteLLM listens on 0.0.0.0; sluicegate may do so only with a master key (SPEC 1), so
    # only one the file sets (a key from the environment may be unset when printed).
    return {"host": "0.0.0.0", "master_key": key} if explicit else {"master_key": key}


def _redis(v: Values, router: dict[str, Any], module: dict[str, Any]) -> str | None:
    """The Redis LiteLLM shares router state (router_settings) or caches (cache_params) in."""
    cache = v.mapping(module.get("cache_params"), "litellm_settings.cache_params")
    if module.get("cache"):
        for key in cache:
            if key not in ("type", "host", "port", "password", "url", "redis_url", "ttl"):
                v.skip(join("litellm_settings.cache_params", key), "not mapped")
        if cache.get("type", "redis") != "redis":
            return None
    elif cache:
        v.skip("litellm_settings.cache_params", "not mapped: litellm_settings.cache is off")
        cache = {}
    for section, prefix, path in ((router, "redis_", "router_settings"), (cache, "", "")):
        where = path or "litellm_settings.cache_params"
        url = section.get(f"{prefix}url") or section.get("redis_url")
        if url:
            return v.text(url, join(where, f"{prefix}url"))
        host = v.text(section.get(f"{prefix}host"), join(where, f"{prefix}host"))
        if host:
            port = v.text(section.get(f"{prefix}port", 6379), join(where, f"{prefix}port"))
            password = v.text(section.get(f"{prefix}password"), join(where, f"{prefix}password"))
            return _redis_url(host, port, password)
    if module.get("cache") and cache.get("type", "redis") == "redis":
        return _redis_from_env(v)
    return None


def _cache(v: Values, module: dict[str, Any], redis: str | None) -> dict[str, Any] | None:
    """LiteLLM's response cache as `cache:`. Its entries are shared by every key (the key is
    the request alone), hence `scope: global`; a Redis cache without a Redis found is kept in
    memory rather than refused."""
    if not module.get("cache"):
        return None
    params = v.mapping(module.get("cache_params"), "litellm_settings.cache_params")
    kind = params.get("type", "redis")
    mode = {"local": "memory", "redis": "redis"}.get(kind) if isinstance(kind, str) else None
    if mode is None:
        v.skip(
            "litellm_settings.cache",
            f"not mapped: a '{kind}' cache; sluicegate's is exact-match, in memory or Redis",
        )
        return None
    if mode == "redis" and not redis:
        v.skip("litellm_settings.cache_params.type", "no Redis found: the cache is in memory")
        mode = "memory"
    out: dict[str, Any] = {"mode": mode, "scope": "global"}
    ttl = v.number(params.get("ttl"), "litellm_settings.cache_params.ttl", positive=True)
    if ttl is not None:
        out["ttl_seconds"] = ttl
    return out


def _redis_from_env(v: Values) -> str | None:
    """LiteLLM's cache reads REDIS_HOST, REDIS_PORT, REDIS_PASSWORD when cache_params do not."""
    if v.env is None:
        v.skip("litellm_settings.cache_params", "set redis.url from REDIS_HOST/PORT/PASSWORD")
        return None
    host = v.env.get("REDIS_HOST")
    if not host:
        return None
    return _redis_url(host, v.env.get("REDIS_PORT") or "6379", v.env.get("REDIS_PASSWORD"))


def _redis_url(host: str, port: str | None, password: str | None) -> str:
    auth = f":{_quoted(password)}@" if password else ""
    return f"redis://{auth}{host}:{port or 6379}/0"


def _quoted(password: str) -> str:
    return password if password.startswith("${") else quote(password, safe="")
