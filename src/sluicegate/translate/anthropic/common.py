"""What both directions share: stop reasons, usage, the `max_tokens` default, error types."""

from __future__ import annotations

from typing import Any

ANTHROPIC_VERSION = "2023-06-01"

# Anthropic requires max_tokens, OpenAI does not: a chat request without one gets this much.
# Enough for a long answer, within every current Claude model's output limit.
DEFAULT_MAX_TOKENS = 4096

# When thinking is on, max_tokens must exceed the thinking budget; this is the room left for
# the answer itself when the client gave no max_tokens.
ANSWER_ROOM = 4096

STOP_TO_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

FINISH_TO_STOP = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}

# Anthropic's error types by HTTP status (SPEC 3), for the /v1/messages envelope.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    499: "api_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}
KNOWN_ERROR_TYPES = frozenset(ERROR_TYPES.values())


def error_type(status: int) -> str:
    """Anthropic's error type for an HTTP status."""
    found = ERROR_TYPES.get(status)
    if found is not None:
        return found
    return "invalid_request_error" if status < 500 else "api_error"


def finish_reason(stop_reason: Any) -> str | None:
    if stop_reason is None:
        return None
    return STOP_TO_FINISH.get(stop_reason, "stop")


def stop_reason(finish: Any) -> str | None:
    if finish is None:
        return None
    return FINISH_TO_STOP.get(finish, "end_turn")


def _int(value: Any) -> int:
    return value if type(value) is int and value > 0 else 0


def chat_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """Anthropic usage → OpenAI usage.

    Anthropic's `input_tokens` leaves out the cached part; OpenAI's `prompt_tokens` is the whole
    prompt, with the part read from the cache in `prompt_tokens_details.cached_tokens`.
    """
    cache_read = _int(usage.get("cache_read_input_tokens"))
    cache_write = _int(usage.get("cache_creation_input_tokens"))
    prompt = _int(usage.get("input_tokens")) + cache_read + cache_write
    completion = _int(usage.get("output_tokens"))
    out: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if cache_read or cache_write:
        out["prompt_tokens_details"] = {"cached_tokens": cache_read}
        if cache_write:
            out["cache_creation_input_tokens"] = cache_write
    return out


def messages_usage(usage: dict[str, Any] | None) -> dict[str, Any]:
    """OpenAI usage → Anthropic usage (the inverse of `chat_usage`)."""
    if not isinstance(usage, dict):
        return {"input_tokens": 0, "output_tokens": 0}
    details = usage.get("prompt_tokens_details")
    cached = _int(details.get("cached_tokens")) if isinstance(details, dict) else 0
    cache_write = _int(usage.get("cache_creation_input_tokens"))
    out: dict[str, Any] = {
        "input_tokens": max(0, _int(usage.get("prompt_tokens")) - cached - cache_write),
        "output_tokens": _int(usage.get("completion_tokens")),
    }
    if cached or cache_write:
        out["cache_read_input_tokens"] = cached
        out["cache_creation_input_tokens"] = cache_write
    return out
