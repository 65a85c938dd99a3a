"""The public API's error paths under hypothesis: bodies of every shape, sent as raw bytes to
/v1/chat/completions, /v1/completions and /v1/embeddings over a real socket.

Whatever the bytes, the answer is a success or SPEC 3's JSON error with a 4xx status: never a
500, never a dropped connection (httpx raises on one, failing the test). The gateway has only
the demo backend, so a body that happens to be valid is answered locally and nothing reaches
the network. Bounded for CI: a fixed seed (`derandomize`), no example database, no deadline.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sluicegate.config.schema import GatewayConfig
from support import RunningGateway

ENDPOINTS = ("/v1/chat/completions", "/v1/completions", "/v1/embeddings")
KEY = "sk-fuzz-bodies"
SCRIBE = "sk-fuzz-bodies-scribe"  # detail_logging: the body is also kept as text
VALID: dict[str, dict[str, Any]] = {
    "/v1/chat/completions": {
        "model": "demo-echo",
        "messages": [{"role": "user", "content": "hello there"}],
    },
    "/v1/completions": {"model": "demo-echo", "prompt": "hello there"},
    "/v1/embeddings": {"model": "demo-echo", "input": "hello there"},
}
FIELDS = (
    "model",
    "messages",
    "prompt",
    "input",
    "stream",
    "stream_options",
    "max_tokens",
    "temperature",
    "n",
    "tools",
    "user",
)

FUZZ = settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63, max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=16,
)


@pytest.fixture(scope="module")
def fuzzed_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    folder = tmp_path_factory.mktemp("fuzz-bodies")
    config = GatewayConfig.model_validate(
        {
            "database": {"url": f"sqlite+aiosqlite:///{folder}/gateway.db"},
            # Room for 10,000 nested arrays: the parser, not the size limit, must refuse them.
            "server": {"master_key": "sk-fuzz-bodies-master", "max_body_bytes": 1_000_000},
            "backends": [{"name": "demo", "type": "demo", "models": ["demo-echo"]}],
            "models": [{"name": "demo-echo", "targets": [{"backend": "demo", "model": "x"}]}],
            "users": [
                {"name": "fuzzer", "api_keys": [KEY], "models": ["*"]},
                {"name": "scribe", "api_keys": [SCRIBE], "models": ["*"], "detail_logging": True},
            ],
        }
    )
    running = RunningGateway(config)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def http(fuzzed_gateway: RunningGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fuzzed_gateway.url, timeout=30) as client:
        yield client


def post(http: httpx.Client, path: str, content: bytes, key: str = KEY) -> httpx.Response:
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    return http.post(path, content=content, headers=headers)


def assert_answered(response: httpx.Response) -> None:
    """A success, or a 4xx with exactly SPEC 3's error body."""
    if response.status_code == 200:
        return
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"], body
    error = body["error"]
    assert set(error) == {"message", "type", "code", "param"}, body
    assert isinstance(error["message"], str) and error["message"], body
    assert isinstance(error["type"], str), body
    assert error["code"] is None or isinstance(error["code"], str), body
    assert error["param"] is None or isinstance(error["param"], str), body


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


CHAT_START = b'{"model": "demo-echo", "messages": [{"role": "user", "content": '
HOSTILE: dict[str, tuple[bytes, int]] = {
    # body: the status it must get
    "empty": (b"", 400),
    "whitespace": (b" \n\t ", 400),
    "null": (b"null", 400),
    "array": (b"[1, 2]", 400),
    "string": (b'"model"', 400),
    "number": (b"42", 400),
    "deep arrays": (nested(10_000), 400),
    "deep objects": (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, 400),
    "deep inside messages": (CHAT_START + nested(10_000) + b"}]}", 400),
    "float overflow": (CHAT_START + b'"hi"}], "temperature": 1e400}', 400),
    "negative overflow": (CHAT_START + b'"hi"}], "max_tokens": -1e400}', 400),
    "huge integer": (CHAT_START + b'"hi"}], "max_tokens": ' + str(2**70).encode() + b"}", 200),
    "4400-digit integer": (CHAT_START + b'"hi"}], "n": ' + b"9" * 4400 + b"}", 400),
    "NaN": (CHAT_START + b'"hi"}], "temperature": NaN}', 400),
    "invalid UTF-8": (CHAT_START + b'"caf\xe9"}]}', 400),
    "lone surrogate": (CHAT_START + b'"\\ud800"}]}', 400),
    "NUL byte": (CHAT_START + b'"a\\u0000b"}]}', 200),
    "BOM": (b"\xef\xbb\xbf" + CHAT_START + b'"hi"}]}', 400),
    "duplicate keys": (
        b'{"model": "nope", "model": "demo-echo", "messages": [{"role": "user"}]}',
        200,
    ),
    "trailing garbage": (CHAT_START + b'"hi"}]} x', 400),
    "truncated": (CHAT_START + b'"hi"', 400),
    "messages not a list": (b'{"model": "demo-echo", "messages": {"role": "user"}}', 400),
    "model a number": (b'{"model": 2e400, "messages": []}', 400),
    "stream a string": (CHAT_START + b'"hi"}], "stream": "yes"}', 400),
}


@pytest.mark.parametrize("key", [KEY, SCRIBE], ids=["plain", "detail-logged"])
@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_chat_body_gets_its_status(http: httpx.Client, name: str, key: str) -> None:
    content, status = HOSTILE[name]
    response = post(http, "/v1/chat/completions", content, key)
    assert response.status_code == status, response.text
    assert_answered(response)


@pytest.mark.parametrize("path", ENDPOINTS)
@FUZZ
@given(document=json_values)
def test_any_json_document_is_answered(http: httpx.Client, path: str, document: Any) -> None:
    assert_answered(post(http, path, json.dumps(document).encode()))


@pytest.mark.parametrize("path", ENDPOINTS)
@FUZZ
@given(field=st.sampled_from(FIELDS) | st.text(max_size=8), value=json_values, scribe=st.booleans())
def test_a_valid_body_with_one_field_replaced_is_answered(
    http: httpx.Client, path: str, field: str, value: Any, scribe: bool
) -> None:
    body = {**VALID[path], field: value}
    assert_answered(post(http, path, json.dumps(body).encode(), SCRIBE if scribe else KEY))


@FUZZ
@given(
    message=st.dictionaries(
        st.sampled_from(["role", "content", "name", "tool_calls"]) | st.text(max_size=6),
        json_values,
        max_size=4,
    ),
    stream=st.booleans(),
)
def test_any_chat_message_is_answered(http: httpx.Client, message: Any, stream: bool) -> None:
    body = {"model": "demo-echo", "messages": [message], "stream": stream}
    assert_answered(post(http, "/v1/chat/completions", json.dumps(body).encode()))


@pytest.mark.parametrize("path", ENDPOINTS)
@FUZZ
@given(data=st.binary(max_size=64) | st.binary(max_size=8).map(lambda b: CHAT_START + b))
def test_any_bytes_are_answered(http: httpx.Client, path: str, data: bytes) -> None:
    assert_answered(post(http, path, data))


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_oversized_body_is_413_not_a_dropped_connection(
    http: httpx.Client, chunked: bool
) -> None:
    data = CHAT_START + b'"' + b"x" * 2_000_000 + b'"}]}'

    def pieces() -> Iterator[bytes]:
        for start in range(0, len(data), 65536):
            yield data[start : start + 65536]

    headers = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}
    response = http.post(
        "/v1/chat/completions", content=pieces() if chunked else data, headers=headers
    )
    assert response.status_code == 413
    assert_answered(response)
    assert response.json()["error"]["code"] == "request_too_large"
