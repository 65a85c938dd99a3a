"""Azure OpenAI backends: the OpenAI wire format, with the deployment in the path.

Only the differences from `openai.py` live here: the URL names the deployment (the target's
model) and carries `api-version`, and the key travels in an `api-key` header.

    {base_url}/openai/deployments/{model}/chat/completions?api-version={api_version}
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..config.schema import AZURE_API_VERSION, BackendConfig
from .base import Operation
from .openai import OpenAIProvider


class AzureProvider(OpenAIProvider):
    """An Azure OpenAI resource (`https://NAME.openai.azure.com`) or a compatible proxy."""

    def __init__(self, config: BackendConfig) -> None:
        super().__init__(config)
        # Accept both the resource root and a base_url already ending in /openai.
        base = self._base_url.removesuffix("/openai")
        self._deployments = base + "/openai/deployments/"
        self._query = "?api-version=" + quote(config.api_version or AZURE_API_VERSION, safe="")
        # (deployment, op) → URL; deployments are few, so the cache stays small.
        self._by_deployment: dict[tuple[str, Operation], str] = {}

    def _credentials(self) -> dict[str, str]:
        return {"api-key": self.config.api_key} if self.config.api_key else {}

    def _url(self, op: Operation, body: dict[str, Any]) -> str:
        deployment = str(body.get("model") or "")
        key = (deployment, op)
        url = self._by_deployment.get(key)
        if url is None:
            url = self._deployments + quote(deployment, safe="") + op.value + self._query
            if len(self._by_deployment) < 1024:
                self._by_deployment[key] = url
        return url
