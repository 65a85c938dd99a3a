"""GET /v1/models and /v1/models/{id}: only the models the caller's key may use."""

from __future__ import annotations

import orjson

from ..auth.permissions import may_use
from ..auth.resolver import key_from_headers
from ..errors import ModelNotFound
from .headers import RequestHeaders
from .state import ProxyState


def _entry(model_id: str, owner: str) -> dict[str, object]:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": owner}


def list_models(state: ProxyState, headers: RequestHeaders) -> bytes:
    principal = state.keys.authenticate(key_from_headers(headers.authorization, headers.x_api_key))
    data = [
        _entry(name, owner)
        for name, owner in state.table.public_names()
        if may_use(principal, name)
    ]
    return orjson.dumps({"object": "list", "data": data})


def get_model(state: ProxyState, headers: RequestHeaders, model_id: str) -> bytes:
    principal = state.keys.authenticate(key_from_headers(headers.authorization, headers.x_api_key))
    for name, owner in state.table.public_names():
        if name == model_id and may_use(principal, name):
            return orjson.dumps(_entry(name, owner))
    # A model the key may not use is reported as absent, as OpenAI does.
    raise ModelNotFound(f"The model '{model_id}' does not exist.", param="model")
