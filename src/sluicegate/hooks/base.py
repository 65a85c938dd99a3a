"""The hook interface: code that runs before each call and after it, on every way it ends.

    class Hook:
        async def before(self, info: RequestInfo) -> None   # may raise a GatewayError to refuse
        async def check_input(self, request: GuardedRequest) -> None   # a third-party guardrail:
        async def check_output(self, reply: GuardedReply) -> None      # replace texts or block
        def after(self, completion: Completion) -> None     # exactly once per request; no I/O wait
        async def start(self) -> None / async def close(self) -> None

`before` runs for every inference request that passed auth and permission checks, in order,
just before the first upstream attempt; raising `errors.GatewayError` (for example
`RateLimited`) refuses the request with that error. `after` runs once per inference request,
rejected ones included, with the frozen `record.Completion`; it runs in the request's task, so
it must only enqueue or count (start a task for I/O). The built-in limiter, request log and
metrics are hooks; users add theirs under `hooks:` in the config (docs/hooks.md).

`check_input` and `check_output` make a hook a guardrail (docs/guardrails.md): they run after
the built-in guardrails, on every model, just before the upstream call and on each whole
(non-stream) answer. They may replace items of `texts` (masking) or raise
`errors.ContentFiltered(name)` (the 400 `content_filter`); a hook that did either is named in
the log's `guardrails` field by its `guardrail_name` (its class name unless set).
"""

from __future__ import annotations

from ..guardrails.texts import GuardedReply, GuardedRequest
from ..record import Completion, RequestInfo


class Hook:
    """Base class with no-op methods; override what you need."""

    async def start(self) -> None:
        return None

    async def before(self, info: RequestInfo) -> None:
        return None

    def after(self, completion: Completion) -> None:
        return None

    async def check_input(self, request: GuardedRequest) -> None:
        return None

    async def check_output(self, reply: GuardedReply) -> None:
        return None

    @property
    def guardrail_name(self) -> str:
        return type(self).__name__

    async def close(self) -> None:
        return None


def overrides(hook: Hook, name: str) -> bool:
    return getattr(type(hook), name) is not getattr(Hook, name)
