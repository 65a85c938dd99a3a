"""Fault-injecting OpenAI-compatible mock upstream (`sluicegate mock-upstream --port P`).

Endpoints: POST /v1/chat/completions and POST /v1/completions (stream and non-stream),
POST /v1/embeddings (deterministic 8-dimension vectors, floats or base64), Anthropic's
POST /v1/messages (stream and non-stream) and POST /v1/messages/count_tokens (their wire
format in `mock/anthropic.py`), OpenAI's POST /v1/responses (`mock/responses.py`),
GET /v1/models, GET /v1/models/{id}, GET /health; the OpenAI three under Azure OpenAI's
`/openai/deployments/{deployment}/...?api-version=V` (with an `api-key` header), and
Gemini's `/v1beta/models/{model}:generateContent` and
`:streamGenerateContent` (`mock/gemini.py`). Each request chooses its faults and timings with
a `#mock key=value ...` directive in its last user message, prompt or input, for example
`#mock chunks=5 ttft_ms=200 inter_ms=10 disconnect_after=2`. Keys: chunks, latency_ms,
ttft_ms, inter_ms, status, retry_after, fail_times, reset_before, empty, disconnect_after,
error_event_after, reasoning, reasoning_content, tools, fault_model, continue_ttft_ms, echo;
the table of what each does is in `sluicegate.mock.directives`. A chat or Messages request
whose last message is the assistant's text is continued from there (`continuation.py`).
Streams are OpenAI's exactly: `data: {json}\\n\\n` chunks (role in the first delta), a
`finish_reason` chunk with an empty delta, a usage chunk (`choices: []`) only when
`stream_options.include_usage` is true, then `data: [DONE]`.

Observation, for tests. Every inference request is recorded, newest last, in a ring of 2000:

    {seq, path, query, model, stream, text, body, authorization, headers, status, outcome,
     chunks_sent, started_at, ended_at}

`query` the raw query string, `text` where the directive was looked for, `body` the parsed
JSON, `headers` the request headers with lower-cased names, `status` the HTTP status sent
(None if none), `chunks_sent` the content chunks written, the times `time.time()` floats.
`outcome` is None while in flight, then one of:

    completed            answered in full (also a 400 for a body that is not a JSON object)
    client_disconnected  the client went away while we slept or sent (recorded at once)
    fault_status         status=N answered
    fault_reset          reset_before=1: connection reset before any byte
    fault_disconnect     disconnect_after=N: connection dropped mid-stream
    fault_error_event    error_event_after=N: error event sent, stream ended
    empty                empty=1: stream ended with no event

GET /_mock/requests[?contains=S] returns `{"requests": [...]}` (records whose text contains
S); DELETE /_mock/requests clears them and the fail_times counts.

A fault that drops the connection, and a client disconnect, both end the handler with
CancelledError: that is aiohttp's quiet path for a request that gets no answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from collections import deque
from collections.abc import Callable
from typing import Any, NamedTuple

import orjson
from aiohttp import web

from . import anthropic, continuation, gemini, responses
from .directives import (
    DEFAULT,
    ERROR_EVENT,
    Directive,
    Meta,
    chat_body,
    chat_stream,
    chat_text,
    completion_body,
    completion_stream,
    embedding_body,
    parse,
    prompt_text,
    status_body,
)

__all__ = ["MODEL_IDS", "RECORDER", "Recorder", "Started", "build_app", "run", "start"]

MODEL_IDS = ("mock-model", "mock-model-large", "mock-embedding")
_HISTORY = 2000
_SHUTDOWN_TIMEOUT = 0.5  # seconds given to in-flight streams when the mock stops

_JSON = "application/json"
_SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
_LINGER_RESET = struct.pack("ii", 1, 0)


def _model_object(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 1700000000, "owned_by": "sluicegate"}


_MODELS_BODY = orjson.dumps({"object": "list", "data": [_model_object(m) for m in MODEL_IDS]})
_HEALTH_BODY = orjson.dumps({"status": "ok"})
_BAD_JSON_BODY = orjson.dumps(
    {
        "error": {
            "message": "mock: the request body is not a JSON object",
            "type": "invalid_request_error",
            "code": "invalid_json",
            "param": None,
        }
    }
)


# Request records ------------------------------------------------------------------------


class Recorder:
    """The ring of request records and the per-line `fail_times` counts of one app."""

    def __init__(self) -> None:
        self.records: deque[dict[str, Any]] = deque(maxlen=_HISTORY)
        self._seq = 0
        self._fault_counts: dict[str, int] = {}

    def open(self, request: web.Request, body: Any, text: str, stream: bool) -> dict[str, Any]:
        self._seq += 1
        record = {
            "seq": self._seq,
            "path": request.path,
            "query": request.query_string,
            "model": body.get("model") if isinstance(body, dict) else None,
            "stream": stream,
            "text": text,
            "body": body,
            "authorization": request.headers.get("Authorization"),
            "headers": {name.lower(): value for name, value in request.headers.items()},
            "status": None,
            "outcome": None,
            "chunks_sent": 0,
            "started_at": time.time(),
            "ended_at": None,
        }
        self.records.append(record)
        return record

    def gate(self, directive: Directive) -> Directive:
        """Apply `fail_times`: the directive itself while its budget lasts, then no faults."""
        if directive.fail_times is None:
            return directive
        seen = self._fault_counts.get(directive.line, 0) + 1
        self._fault_counts[directive.line] = seen
        return directive if seen <= directive.fail_times else directive.without_faults()

    def clear(self) -> None:
        self.records.clear()
        self._fault_counts.clear()


def _finish(record: dict[str, Any], outcome: str, status: int | None = None) -> None:
    # The first outcome wins: a fault recorded before its abort cancels the handler
    # must not be overwritten by the cancellation that follows.
    if record["outcome"] is None:
        record["outcome"] = outcome
        record["ended_at"] = time.time()
        if status is not None:
            record["status"] = status


RECORDER = web.AppKey("recorder", Recorder)


# Sending --------------------------------------------------------------------------------


def _abort(request: web.Request, *, reset: bool) -> None:
    """Drop the connection; with `reset`, as a TCP RST instead of a FIN."""
    transport = request.transport
    if transport is None:
        return
    if reset:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError, AttributeError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    transport.abort()


async def _flush(request: web.Request) -> None:
    """Wait until the kernel holds every byte written so far, so an abort drops none."""
    transport = request.transport
    if transport is not None and transport.get_write_buffer_size():
        transport.set_write_buffer_limits(high=0)  # paused until the buffer is empty
        await request.writer.drain()


def _no_headers(record: dict[str, Any]) -> dict[str, str]:
    return {}


class Wire(NamedTuple):
    """What differs between the API families the mock speaks, for the shared request flow."""

    status_body: Callable[[Directive], bytes]  # the error body answered with status=N
    error_event: bytes  # the SSE event error_event_after=N sends
    headers: Callable[[dict[str, Any]], dict[str, str]] = _no_headers  # from the record
    # Set where the path, not the body, says stream or not and which model (Gemini).
    stream: bool | None = None
    model: str | None = None


OPENAI_WIRE = Wire(status_body, ERROR_EVENT, _no_headers)


def _status_response(d: Directive, wire: Wire, record: dict[str, Any]) -> web.Response:
    headers = wire.headers(record)
    if d.retry_after:
        headers["Retry-After"] = d.retry_after
    body = wire.status_body(d)
    return web.Response(status=d.status, body=body, content_type=_JSON, headers=headers)


async def _sleep_ms(ms: int) -> None:
    if ms:
        await asyncio.sleep(ms / 1000)


async def _stream(
    request: web.Request,
    record: dict[str, Any],
    d: Directive,
    content: list[bytes],
    tail: list[bytes],
    wire: Wire = OPENAI_WIRE,
) -> web.StreamResponse:
    response = web.StreamResponse(headers={**_SSE_HEADERS, **wire.headers(record)})
    await response.prepare(request)  # StreamResponse sends its headers at once
    record["status"] = 200
    await _sleep_ms(d.ttft_ms)
    if d.empty:
        await response.write_eof()
        _finish(record, "empty")
        return response
    cut = d.disconnect_after if d.disconnect_after is not None else d.error_event_after
    if cut is None:
        events, content_sent = content + tail, len(content)
    else:
        events = content[:cut]
        content_sent = len(events)
        if d.disconnect_after is None:
            events.append(wire.error_event)
    if not d.inter_ms:
        if events:
            await response.write(b"".join(events))
        record["chunks_sent"] = content_sent
    else:
        for index, event in enumerate(events):
            if index:
                await _sleep_ms(d.inter_ms)
            await response.write(event)
            if index < content_sent:
                record["chunks_sent"] = index + 1
    if d.disconnect_after is not None:
        await _flush(request)
        _finish(record, "fault_disconnect")
        _abort(request, reset=False)
        raise asyncio.CancelledError  # aiohttp's way to drop a request without an answer
    await response.write_eof()
    _finish(record, "completed" if cut is None else "fault_error_event")
    return response


# Handlers -------------------------------------------------------------------------------

_Stream = Callable[[Directive, Meta], tuple[list[bytes], list[bytes]]]
_Body = Callable[[Directive, Meta], tuple[bytes, int]]


def _error_response(status: int, body: bytes, retry_after: str | None = None) -> web.Response:
    headers = {"Retry-After": retry_after} if retry_after else None
    return web.Response(status=status, body=body, content_type=_JSON, headers=headers)


async def _generate(
    request: web.Request,
    body: dict[str, Any],
    text: str,
    prompt_tokens: int,
    id_prefix: str,
    stream_answer: _Stream | None,
    body_answer: _Body,
    wire: Wire = OPENAI_WIRE,
) -> web.StreamResponse:
    """Answer one inference request; `wire` overrides OpenAI's stream flag, model, error body
    and error event for another API's wire format."""
    recorder = request.app[RECORDER]
    stream = stream_answer is not None and body.get("stream") is True
    if wire.stream is not None:
        stream = wire.stream
    record = recorder.open(request, body, text, stream)
    if wire.model is not None:
        record["model"] = wire.model
    d = parse(text)
    model = body.get("model") if wire.model is None else wire.model
    if d is not DEFAULT:
        d = continuation.adjust(recorder.gate(d), body, model)
    options = body.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    meta = Meta(
        id=f"{id_prefix}-mock{record['seq']}",
        created=int(record["started_at"]),
        model=model if isinstance(model, str) else MODEL_IDS[0],
        prompt_tokens=prompt_tokens,
        include_usage=include_usage,
        request=body,
    )
    try:
        await _sleep_ms(d.latency_ms)
        if d.reset_before:
            _finish(record, "fault_reset")
            _abort(request, reset=True)
            raise asyncio.CancelledError
        if d.status >= 400:
            _finish(record, "fault_status", d.status)
            return _status_response(d, wire, record)
        if stream and stream_answer is not None:
            content, tail = stream_answer(d, meta)
            return await _stream(request, record, d, content, tail, wire)
        payload, chunks = body_answer(d, meta)
        record["chunks_sent"] = chunks
        _finish(record, "completed", 200)
        return web.Response(body=payload, content_type=_JSON, headers=wire.headers(record))
    except asyncio.CancelledError:
        _finish(record, "client_disconnected")
        raise
    except ConnectionError as exc:  # wrote into a connection the client already closed
        _finish(record, "client_disconnected")
        raise asyncio.CancelledError from exc


async def _json_object(request: web.Request) -> dict[str, Any] | None:
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None


def _bad_json(request: web.Request) -> web.Response:
    record = request.app[RECORDER].open(request, None, "", False)
    _finish(record, "completed", 400)
    return web.Response(status=400, body=_BAD_JSON_BODY, content_type=_JSON)


async def chat_completions(request: web.Request) -> web.StreamResponse:
    body = await _json_object(request)
    if body is None:
        return _bad_json(request)
    text, words = chat_text(body.get("messages"))
    return await _generate(request, body, text, words, "chatcmpl", chat_stream, chat_body)


async def completions(request: web.Request) -> web.StreamResponse:
    body = await _json_object(request)
    if body is None:
        return _bad_json(request)
    text, words = prompt_text(body.get("prompt"))
    return await _generate(request, body, text, words, "cmpl", completion_stream, completion_body)


async def embeddings(request: web.Request) -> web.StreamResponse:
    body = await _json_object(request)
    if body is None:
        return _bad_json(request)
    text, words = prompt_text(body.get("input"))
    return await _generate(request, body, text, words, "emb", None, embedding_body)


ANTHROPIC_WIRE = Wire(anthropic.status_body, anthropic.ERROR_EVENT, anthropic.headers)


async def _anthropic(request: web.Request, count: bool) -> web.StreamResponse:
    body = await _json_object(request)
    if body is None:
        return _bad_json(request)
    refused = anthropic.check(request.headers, body, count)
    if refused is None and (message := continuation.prefill_refusal(body)):
        refused = 400, anthropic.error_body(400, message)
    if refused is not None:
        record = request.app[RECORDER].open(request, body, "", False)
        _finish(record, "completed", refused[0])
        return web.Response(status=refused[0], body=refused[1], content_type=_JSON)
    text, words = anthropic.messages_text(body)
    if count:
        answer = anthropic.count_tokens_body
        return await _generate(request, body, text, words, "msg", None, answer, ANTHROPIC_WIRE)
    return await _generate(
        request, body, text, words, "msg", anthropic.stream, anthropic.body, ANTHROPIC_WIRE
    )


async def messages(request: web.Request) -> web.StreamResponse:
    return await _anthropic(request, count=False)


async def count_tokens(request: web.Request) -> web.StreamResponse:
    return await _anthropic(request, count=True)


RESPONSES_WIRE = Wire(status_body, responses.ERROR_EVENT)


async def responses_create(request: web.Request) -> web.StreamResponse:
    """OpenAI's Responses API (`responses.py`), for `responses: native` backends."""
    body = await _json_object(request)
    if body is None:
        return _bad_json(request)
    text, words = responses.request_text(body)
    return await _generate(
        request, body, text, words, "resp", responses.stream, responses.body, RESPONSES_WIRE
    )


async def gemini_generate(request: web.Request) -> web.StreamResponse:
    """`/v1beta/models/{model}:generateContent` and `:streamGenerateContent` (`gemini.py`);
    the same under `/v1/` (the google-genai SDK's default)."""
    model, _, method = request.match_info["model"].rpartition(":")
    if not model or method not in ("generateContent", "streamGenerateContent"):
        return _error_response(404, gemini.error_body(404, f"mock: unknown method {method!r}"))
    if not request.headers.get(gemini.API_KEY_HEADER) and not request.query.get("key"):
        message = "Method doesn't allow unregistered callers. Please use an API key."
        return _error_response(403, gemini.error_body(403, message))
    body = await _json_object(request)
    if body is None:
        record = request.app[RECORDER].open(request, None, "", False)
        _finish(record, "completed", 400)
        return _error_response(400, gemini.error_body(400, "Invalid JSON payload received."))
    text, words = gemini.request_text(body)
    stream = method == "streamGenerateContent"
    wire = Wire(gemini.status_body, gemini.ERROR_EVENT, stream=stream, model=model)
    return await _generate(
        request, body, text, words, "gm", gemini.stream_answer, gemini.body_answer, wire
    )


def _azure(handler: Callable[[web.Request], Any]) -> Callable[[web.Request], Any]:
    """An OpenAI handler behind Azure OpenAI's checks: `api-version` query, `api-key` header
    (the deployment in the path is the model; errors in Azure's `{"error": {"code",
    "message"}}` shape)."""

    async def azure(request: web.Request) -> web.StreamResponse:
        if not request.query.get("api-version"):
            error = {"code": "404", "message": "Resource not found"}
            return web.json_response({"error": error}, status=404, dumps=_dumps)
        if not request.headers.get("api-key"):
            error = {"code": "401", "message": "Access denied due to missing subscription key."}
            return web.json_response({"error": error}, status=401, dumps=_dumps)
        response: web.StreamResponse = await handler(request)
        return response

    return azure


def _dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


async def list_models(request: web.Request) -> web.Response:
    return web.Response(body=_MODELS_BODY, content_type=_JSON)


async def get_model(request: web.Request) -> web.Response:
    return web.Response(
        body=orjson.dumps(_model_object(request.match_info["model"])), content_type=_JSON
    )


async def health(request: web.Request) -> web.Response:
    return web.Response(body=_HEALTH_BODY, content_type=_JSON)


async def list_requests(request: web.Request) -> web.Response:
    records: list[dict[str, Any]] = list(request.app[RECORDER].records)
    contains = request.query.get("contains")
    if contains is not None:
        records = [record for record in records if contains in record["text"]]
    return web.Response(body=orjson.dumps({"requests": records}), content_type=_JSON)


async def clear_requests(request: web.Request) -> web.Response:
    request.app[RECORDER].clear()
    return web.Response(body=orjson.dumps({"cleared": True}), content_type=_JSON)


# Running --------------------------------------------------------------------------------


def build_app() -> web.Application:
    """The mock as an aiohttp application with a fresh, empty request record."""
    app = web.Application()
    app[RECORDER] = Recorder()
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/v1/completions", completions)
    app.router.add_post("/v1/embeddings", embeddings)
    app.router.add_post("/v1/messages", messages)
    app.router.add_post("/v1/responses", responses_create)
    app.router.add_post("/v1/messages/count_tokens", count_tokens)
    azure = "/openai/deployments/{deployment}"
    app.router.add_post(azure + "/chat/completions", _azure(chat_completions))
    app.router.add_post(azure + "/completions", _azure(completions))
    app.router.add_post(azure + "/embeddings", _azure(embeddings))
    app.router.add_post("/v1beta/models/{model}", gemini_generate)
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/v1/models/{model}", get_model)
    app.router.add_post("/v1/models/{model}", gemini_generate)  # Gemini's v1 (google-genai)
    app.router.add_get("/health", health)
    app.router.add_get("/_mock/requests", list_requests)
    app.router.add_delete("/_mock/requests", clear_requests)
    return app


class Started(NamedTuple):
    """A running mock: its runner (await `runner.cleanup()` to stop) and its bound port."""

    runner: web.AppRunner
    port: int


async def start(host: str, port: int) -> Started:
    """Serve the mock on `host:port` (0 picks a free port) in the running loop."""
    runner = web.AppRunner(
        build_app(),
        access_log=None,
        handler_cancellation=True,  # a client disconnect cancels its handler at once
        shutdown_timeout=_SHUTDOWN_TIMEOUT,
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return Started(runner, runner.addresses[0][1])


async def _serve(host: str, port: int) -> None:
    started = await start(host, port)
    print(f"sluicegate mock upstream on http://{host}:{started.port}/v1", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await started.runner.cleanup()


def run(host: str = "127.0.0.1", port: int = 8001) -> None:
    """Serve the mock until interrupted, on uvloop when it is installed."""
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:
        pass
    with (
        contextlib.suppress(KeyboardInterrupt),
        asyncio.Runner(loop_factory=loop_factory) as runner,
    ):
        runner.run(_serve(host, port))
