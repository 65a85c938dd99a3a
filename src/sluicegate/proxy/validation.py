"""Field checks shared by the OpenAI-shaped endpoints; each failure names its `param`."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidRequest


def model_of(request: dict[str, Any]) -> str:
    model = request.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("'model' is required and must be a non-empty string.", param="model")
    return model


def stream_of(request: dict[str, Any]) -> bool:
    stream = request.get("stream", False)
    if stream is None:
        return False
    if not isinstance(stream, bool):
        raise InvalidRequest("'stream' must be a boolean.", param="stream")
    return stream


def wants_usage(request: dict[str, Any]) -> bool:
    options = request.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def with_model(request: dict[str, Any], model: str, stream: bool) -> dict[str, Any]:
    """The upstream body: the target's model, and usage asked for on streams (SPEC 4.6).

    `metadata` is dropped unless `store` is true: LiteLLM clients send it for the gateway
    (tags, trace ids), OpenAI refuses it without `store`, and LiteLLM does not forward it either.
    """
    body = dict(request)
    body["model"] = model
    if "metadata" in body and body.get("store") is not True:
        del body["metadata"]
    if stream:
        options = request.get("stream_options")
        if not (isinstance(options, dict) and options.get("include_usage") is True):
            body["stream_options"] = {
                **(options if isinstance(options, dict) else {}),
                "include_usage": True,
            }
    return body
