"""LiteLLM `model_list` → sluicegate backends and models (SPEC 11).

    model_list[i] {model_name, litellm_params {model: "<provider>/<X>", api_base, api_key, …}}
        ──▶ backend of the provider's type, one per distinct connection (type, base URL, key,
            api_version, headers) and backend settings (timeouts, retries)
        ──▶ target {backend, model: X, weight} of the model named `model_name`

Several deployments under one `model_name` become that model's targets. Weights follow LiteLLM's
`simple-shuffle`: by `weight` when the group's first deployment sets one, else by `rpm`, else
by `tpm`, else equal; a deployment the rule gives 0 (LiteLLM never draws it) gets a token weight
(1e-6), since sluicegate's weights must be positive and it stays reachable as a retry.
"""

from __future__ import annotations

from typing import Any

from .values import Values, join

# LiteLLM provider prefix → (backend type, LiteLLM's env var for the key, default base URL).
# The OpenAI-compatible servers (vLLM, Ollama) are `openai` backends at their /v1.
_PROVIDERS: dict[str, tuple[str, str | None, str | None]] = {
    "openai": ("openai", "OPENAI_API_KEY", None),
    "azure": ("azure", "AZURE_API_KEY", None),
    "anthropic": ("anthropic", "ANTHROPIC_API_KEY", None),
    "gemini": ("gemini", "GEMINI_API_KEY", None),
    "hosted_vllm": ("openai", "HOSTED_VLLM_API_KEY", "http://localhost:8000"),
    "ollama_chat": ("openai", None, "http://localhost:11434"),
    "ollama": ("openai", None, "http://localhost:11434"),
}
_OPENAI_COMPATIBLE = ("hosted_vllm", "ollama_chat", "ollama")
# A model string without a provider: LiteLLM infers it from the name (its model cost map).
_BARE: tuple[tuple[str, str], ...] = (("claude", "anthropic"), ("gpt-", "openai"))
_BARE += (("o1", "openai"), ("o3", "openai"), ("o4", "openai"), ("chatgpt-", "openai"))
_BARE += (("text-embedding-", "openai"),)

# litellm_params this mapping reads; the rest of a deployment is reported unmapped.
_READ = {"model", "api_base", "api_key", "api_version", "rpm", "tpm", "weight", "timeout"}
_READ |= {"stream_timeout", "max_retries", "extra_headers", "organization"}
_READ |= {"input_cost_per_token", "output_cost_per_token"}
_NOT_SENT = "not mapped: a LiteLLM call parameter (sluicegate forwards the client's request as is)"
TOKEN_WEIGHT = 1e-6


class Deployments:
    """Collects backends and models from `model_list`, deployment by deployment."""

    def __init__(self, values: Values, defaults: dict[str, Any]) -> None:
        self.values = values
        # Router-wide backend settings (timeouts, max_retries) a deployment may override.
        self.defaults = defaults
        self.backends: list[dict[str, Any]] = []
        self._by_key: dict[str, str] = {}
        self.models: dict[str, dict[str, Any]] = {}
        # Per model: the litellm_params of its deployments, for the shuffle weights.
        self._params: dict[str, list[dict[str, float | None]]] = {}

    def add_all(self, model_list: list[Any]) -> None:
        for i, entry in enumerate(model_list):
            self._add(entry, f"model_list[{i}]")
        for name, model in self.models.items():
            weights = shuffle_weights(self._params[name])
            for target, weight in zip(model["targets"], weights, strict=True):
                target["weight"] = weight

    def _add(self, entry: Any, path: str) -> None:
        v = self.values
        entry = v.mapping(entry, path)
        name = entry.get("model_name")
        params = v.mapping(entry.get("litellm_params"), join(path, "litellm_params"))
        if not isinstance(name, str) or not name:
            v.problems.append(f"{join(path, 'model_name')}: required, a non-empty string")
            return
        for key in entry:
            if key not in ("model_name", "litellm_params", "rpm", "tpm"):
                v.skip(join(path, key), "not mapped (model_info and the like are LiteLLM's own)")
        if "*" in name:
            v.skip(path, "wildcard model names are not mapped; call '<backend>/<model>' instead")
            return
        ppath = join(path, "litellm_params")
        found = self._provider(params.get("model"), join(ppath, "model"))
        if found is None:
            return
        prefix, upstream_model = found
        backend = self._backend(prefix, params, ppath)
        if backend is None:
            return
        v.skip_rest(params, ppath, _READ, _NOT_SENT)
        model = self.models.setdefault(name, {"name": name, "targets": []})
        self._params.setdefault(name, []).append(self._shuffle_keys(entry, params, path))
        model["targets"].append({"backend": backend, "model": upstream_model})
        self._pricing(model, params, ppath)

    def _shuffle_keys(
        self, entry: dict[str, Any], params: dict[str, Any], path: str
    ) -> dict[str, float | None]:
        """weight, rpm, tpm as numbers; rpm/tpm may also sit beside litellm_params (older docs)."""
        out: dict[str, float | None] = {}
        for key in ("weight", "rpm", "tpm"):
            if key in params:
                out[key] = self.values.number(params[key], join(join(path, "litellm_params"), key))
            elif key != "weight" and key in entry:
                out[key] = self.values.number(entry[key], join(path, key))
        return out

    def _provider(self, value: Any, path: str) -> tuple[str, str] | None:
        """(LiteLLM provider prefix, upstream model) of `litellm_params.model`."""
        v = self.values
        if not isinstance(value, str) or not value:
            v.problems.append(f"{path}: required, a string such as 'openai/gpt-4o'")
            return None
        prefix, _, rest = value.partition("/")
        if rest and prefix in _PROVIDERS:
            if "*" in rest:
                v.skip(path, f"wildcard '{value}' is not mapped; call '<backend>/<model>' instead")
                return None
            return prefix, rest
        for start, provider in _BARE:
            if value.startswith(start):
                return provider, value
        v.skip(
            path,
            f"provider of '{value}' is not supported (mapped: {', '.join(_PROVIDERS)}); "
            "deployment left out",
        )
        return None

    def _backend(self, prefix: str, params: dict[str, Any], path: str) -> str | None:
        """The name of the backend serving this deployment, created on first use."""
        v = self.values
        kind, key_var, default_base = _PROVIDERS[prefix]
        base = v.text(params.get("api_base"), join(path, "api_base"))
        key = v.text(params.get("api_key"), join(path, "api_key"))
        if key is None and "api_key" not in params and key_var:
            key = v.env_default(key_var)
        if base is None and prefix == "azure":
            base = v.env_default("AZURE_API_BASE")
            if not base:
                v.problems.append(
                    f"{join(path, 'api_base')}: required for azure/ (or AZURE_API_BASE)"
                )
                return None
        if prefix in _OPENAI_COMPATIBLE:
            base = _with_v1(base or default_base or "")
        elif prefix == "anthropic" and base:
            base = base.rstrip("/").removesuffix("/v1/messages").removesuffix("/v1")
        elif prefix == "gemini" and base:
            base = base.rstrip("/").removesuffix("/v1beta")
        backend: dict[str, Any] = {"type": kind}
        if base:
            backend["base_url"] = base
        if key:
            backend["api_key"] = key
        if prefix == "azure":
            version = v.text(params.get("api_version"), join(path, "api_version"))
            backend["api_version"] = version or v.env_default("AZURE_API_VERSION")
        elif "api_version" in params:
            v.skip(join(path, "api_version"), "applies to azure/ deployments only")
        headers = self._headers(params, path)
        if headers:
            backend["headers"] = headers
        backend.update(self._settings(params, path))
        return self._named(prefix, {k: val for k, val in backend.items() if val is not None})

    def _headers(self, params: dict[str, Any], path: str) -> dict[str, str]:
        v = self.values
        extra = v.mapping(params.get("extra_headers"), join(path, "extra_headers"))
        headers = {
            str(name): text
            for name, value in extra.items()
            if (text := v.text(value, join(join(path, "extra_headers"), name))) is not None
        }
        organization = v.text(params.get("organization"), join(path, "organization"))
        if organization:
            headers["OpenAI-Organization"] = organization
        return headers

    def _settings(self, params: dict[str, Any], path: str) -> dict[str, Any]:
        """timeouts and max_retries: the deployment's own, else the router-wide ones."""
        v = self.values
        out = dict(self.defaults)
        timeout = v.number(params.get("timeout"), join(path, "timeout"), positive=True)
        stream = v.number(params.get("stream_timeout"), join(path, "stream_timeout"), positive=True)
        if timeout is not None or stream is not None:
            out["timeouts"] = backend_timeouts(timeout, stream, self.defaults.get("timeouts"))
        retries = v.number(params.get("max_retries"), join(path, "max_retries"))
        if retries is not None:
            out["max_retries"] = min(int(retries), 10)
        return out

    def _named(self, prefix: str, backend: dict[str, Any]) -> str:
        key = repr(sorted(backend.items()))
        if key in self._by_key:
            return self._by_key[key]
        taken = {b["name"] for b in self.backends}
        name, n = prefix.replace("_", "-"), 1
        while name in taken:
            n += 1
            name = f"{prefix.replace('_', '-')}-{n}"
        self.backends.append({"name": name, **backend})
        self._by_key[key] = name
        return name

    def _pricing(self, model: dict[str, Any], params: dict[str, Any], path: str) -> None:
        """LiteLLM's per-token custom prices → the model's per-million-token pricing."""
        for key, field in (("input_cost_per_token", "input"), ("output_cost_per_token", "output")):
            cost = self.values.number(params.get(key), join(path, key))
            if cost is not None:
                pricing = model.setdefault("pricing", {})
                pricing.setdefault(f"{field}_per_mtok", round(cost * 1_000_000, 9))


def backend_timeouts(
    timeout: float | None, stream: float | None, base: dict[str, float] | None = None
) -> dict[str, float]:
    """LiteLLM's `timeout`/`stream_timeout` as sluicegate's timeouts (migrating-from-litellm.md).

    LiteLLM hands `timeout` to the OpenAI client as its per-read limit, `stream_timeout` instead
    on streams: a non-stream request gets `timeout` for its answer, a stream that long for its
    first event and between events. So `timeout` → `total` (and `first_token`, `idle`), and
    `stream_timeout` → `first_token` and `idle`; `connect` never exceeds either.
    """
    out = dict(base or {})
    if timeout is not None:
        out.update(total=timeout, first_token=timeout, idle=timeout)
    if stream is not None:
        out.update(first_token=stream, idle=stream)
    limits = [t for t in (out.get("total"), out.get("first_token")) if t is not None]
    if limits and min(limits) < 5.0:
        out["connect"] = min(limits)
    return out


def shuffle_weights(deployments: list[dict[str, float | None]]) -> list[float]:
    """LiteLLM's `simple-shuffle` weights of one model group (its router_strategy module)."""
    for key in ("weight", "rpm", "tpm"):
        if deployments[0].get(key) is not None:
            raw = [float(d.get(key) or 0.0) for d in deployments]
            if sum(raw) > 0:
                return [_tidy(w) if w > 0 else TOKEN_WEIGHT for w in raw]
            break
    return [1] * len(deployments)


def _tidy(weight: float) -> float:
    """60 rather than 60.0 in printed YAML."""
    return int(weight) if weight.is_integer() else weight


def _with_v1(base: str) -> str:
    base = base.rstrip("/")
    return base if base.endswith("/v1") else base + "/v1"
