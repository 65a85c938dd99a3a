"""ProxyCache: the response cache on the request path: lookup, replay of hits, recording misses.

    request ─► auth, permission, before hooks (limits count every request, hits too)
            ─► lookup ─┬─ hit ──────► replay the stored bytes (JSON, or SSE ending like the
                       │              original: `[DONE]`, usage event only if asked); an
                       │              entry of the other kind converted first (cache.convert)
                       └─ miss/bypass ► upstream as usual; every byte sent is also recorded
            ─► request end: finished cleanly, 200, no error event? ─► store (unless no-store)

All of it hangs off one wrapper of the ASGI `send` (`open`): it adds `x-sluicegate-cache` to
every response start of an inference path and records bodies when an answer is to be stored,
so the relay and the reply code know nothing of the cache. Identical misses in flight together
are not coalesced (docs/decisions.md): each calls the upstream and the last to finish is kept.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..cache.convert import convert
from ..cache.entry import Entry
from ..cache.key import cache_key
from ..cache.recorder import Recorder
from ..cache.store import CacheStore
from ..config.content import CacheConfig
from ..errors import CacheUnavailable
from ..providers.sse import KEEPALIVE_FRAME
from ..types import Message, Send
from .context import RequestContext
from .detail import body_text
from .headers import SSE_HEADERS, overhead_header
from .replies import send_reply

HEADER = b"x-sluicegate-cache"
HIT, MISS, BYPASS = "hit", "miss", "bypass"
# Front doors whose answers are never cached: counting tokens costs nothing upstream.
_UNCACHED = ("/messages/count_tokens",)
# Entries up to this size are converted inline (well under a millisecond); larger ones in a
# worker thread.
INLINE_CONVERT_BYTES = 16 * 1024


class CacheTicket:
    """One request's dealings with the cache: its result, and what to store at its end."""

    __slots__ = ("key", "recorder", "status")

    def __init__(self) -> None:
        self.status = BYPASS
        self.key: str | None = None
        self.recorder: Recorder | None = None


def directives(cache_control: bytes | None) -> tuple[bool, bool]:
    """(no-cache, no-store) from a request's `cache-control` header."""
    if not cache_control:
        return False, False
    tokens = {t.strip().split(b"=")[0] for t in cache_control.lower().split(b",")}
    return b"no-cache" in tokens, b"no-store" in tokens


class ProxyCache:
    def __init__(self, store: CacheStore, config: CacheConfig) -> None:
        self.store = store
        self.per_user = config.scope == "user"

    def open(self, ctx: RequestContext, send: Send) -> Send:
        """Give `ctx` its ticket; the returned `send` tags and records the answer."""
        ticket = ctx.cache = CacheTicket()

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (HEADER, ticket.status.encode())]
            elif ticket.recorder is not None:
                body = message.get("body", b"")
                if body and body != KEEPALIVE_FRAME:
                    ticket.recorder.add(body)
            await send(message)

        return tagged

    async def answer(
        self,
        ctx: RequestContext,
        request: dict[str, Any],
        cache_control: bytes | None,
        send: Send,
    ) -> bool:
        """Answer from the cache if an entry matches (True); else arrange for the answer to be
        recorded and return False."""
        ticket: CacheTicket = ctx.cache
        path = ctx.path.removeprefix("/v1")
        principal = ctx.principal
        if path in _UNCACHED or principal is None or ctx.model is None:
            return False
        no_cache, no_store = directives(cache_control)
        owner = None
        if self.per_user:
            owner = principal.user_id or ("<master>" if principal.is_master else principal.key_id)
        variant = "reasoning" if principal.copy_reasoning else ""
        key = cache_key(owner, path, ctx.model, variant, request)
        if not no_cache:
            try:
                entry = await self.store.get(key)
            except CacheUnavailable:
                return False  # bypass: answered without the cache, nothing stored
            if entry is not None and entry.stream != ctx.stream:
                entry = await _converted(path, entry, ctx.stream)
            if entry is not None:
                ticket.status = HIT
                await _replay(ctx, entry, send)
                return True
            ticket.status = MISS
        if not no_store:
            ticket.key = key
            ticket.recorder = Recorder()
        return False

    def settle(self, ctx: RequestContext) -> None:
        """At the request's end: store what was recorded if it is a complete success."""
        ticket: CacheTicket | None = ctx.cache
        if ticket is None or ticket.recorder is None or ticket.key is None:
            return
        if ctx.error is not None or not ctx.response_started or ctx.status != 200:
            return
        if ctx.stream and not ctx.stream_done:
            return
        entry = ticket.recorder.entry(ctx.stream, ctx.usage)
        if entry is not None:
            self.store.put(ticket.key, entry)

    async def close(self) -> None:
        await self.store.close()


async def _converted(path: str, entry: Entry, stream: bool) -> Entry | None:
    """`entry` for a request of the other kind; a large one converted in a worker thread, so
    that folding thousands of stored events does not hold up the event loop's other requests."""
    if entry.size <= INLINE_CONVERT_BYTES:
        return convert(path, entry, stream)
    return await asyncio.to_thread(convert, path, entry, stream)


async def _replay(ctx: RequestContext, entry: Entry, send: Send) -> None:
    """Send a stored answer; its usage is logged (for information), its cost is 0 (no target)."""
    ctx.usage = entry.usage
    detail = ctx.principal is not None and ctx.principal.detail_logging
    if not ctx.stream:
        if detail:
            ctx.response_text = body_text(entry.body)
        await send_reply(ctx, send, entry.body)
        return
    payload = entry.payload(ctx.client_wants_usage)
    ctx.capture = None  # the detail log keeps a hit's stream as raw SSE text
    if detail:
        ctx.response_text = body_text(payload)
    headers = [
        *SSE_HEADERS,
        (b"x-request-id", ctx.request_id.encode()),
        overhead_header(ctx.mark_overhead()),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    ctx.response_started = True
    ctx.status = 200
    ctx.ttft = ctx.elapsed()
    await send({"type": "http.response.body", "body": payload, "more_body": False})
    ctx.stream_done = True
