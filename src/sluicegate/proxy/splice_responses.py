"""Resume of a /v1/responses stream forwarded in the Responses API's own events (a
`responses: native` backend, SPEC 4.9): continued through chat, then translated on.

The Responses API has no prefill (no way to ask for the continuation of an assistant text),
so a native stream is continued the way a translated one is: the request translated to chat
(`translate.responses`) plus the text so far as the last assistant message, sent to any target
of the model that serves chat (a `responses: native` backend serves chat as well). From the
switch on, the front door translates the continuation's chat chunks with a translator seeded
from what the client already has (`ChunksToEvents.continuing`): the same response id and
`sequence_number`s, more `output_text.delta`s of the open message item (same item id), and
one `response.completed` built by the gateway, with the whole text and the usage summed over
the tries. Only a stream whose single output item so far is that message is continued: a
function call or reasoning item that went out blocks resume, as on the chat wire.
"""

from __future__ import annotations

from typing import Any

from ..config.schema import BackendConfig
from ..errors import GatewayError
from ..providers.base import Operation
from ..providers.continuation import continue_body
from ..record import Usage
from ..routing.table import Target
from ..translate.responses.request import responses_to_chat
from ..translate.responses.stream import ChunksToEvents
from .context import RequestContext
from .endpoint import Prepare
from .splice import Call, Splice
from .splice_openai import OpenAIShape, OpenAITrack
from .validation import with_model

_FINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})


class ResponsesTrack:
    """What a native Responses stream has sent (then, once continued, its chat chunks)."""

    __slots__ = (
        "_blocked",
        "_chat",
        "_created",
        "_ctx",
        "_finished",
        "_item",
        "_model",
        "_part",
        "_rid",
        "_seq",
        "_switched",
        "parts",
    )

    def __init__(self, ctx: RequestContext) -> None:
        self._ctx = ctx
        self.parts: list[str] = []  # output_text deltas sent, then the continuations' text
        self._chat = OpenAITrack(completions=False)
        self._chat.parts = self.parts
        self._blocked = False
        self._finished = False
        self._switched = False
        self._rid: str | None = None
        self._model: Any = None
        self._created: Any = None
        self._seq = 0
        self._item: str | None = None  # the open message item's id (output index 0)
        self._part = False  # its output_text part was opened

    @property
    def blocked(self) -> bool:
        if self._switched:
            return self._chat.blocked
        # Whatever came before the open text part cannot be told apart from the continuation.
        return self._blocked or self._rid is None or (self._item is not None and not self._part)

    @property
    def finished(self) -> bool:
        return self._finished or self._chat.finished

    def note(self, obj: dict[str, Any]) -> None:
        if self._switched:
            self._chat.note(obj)  # a continuation's chat chunk
            return
        seq = obj.get("sequence_number")
        if type(seq) is int:
            self._seq = seq + 1
        kind = obj.get("type")
        if kind == "response.output_text.delta":
            delta = obj.get("delta")
            if isinstance(delta, str) and delta:
                self.parts.append(delta)
            if obj.get("content_index") != 0:
                self._blocked = True
        elif kind == "response.created":
            response = obj.get("response")
            if isinstance(response, dict):
                self._rid = response.get("id")
                self._model = response.get("model")
                self._created = response.get("created_at")
        elif kind == "response.output_item.added":
            item = obj.get("item")
            first = self._item is None and obj.get("output_index") == 0
            if first and isinstance(item, dict) and item.get("type") == "message":
                self._item = item.get("id")
            else:  # a function call, reasoning, a second item: not continued
                self._blocked = True
        elif kind == "response.content_part.added":
            self._part = True
        elif kind == "response.output_text.done" or kind in _FINAL:
            self._finished = True  # the text is whole

    def call(self, prepare: Prepare, request: dict[str, Any], target: Target) -> Call | None:
        """The chat request this target would continue from (see the module docstring)."""
        if not target.provider.supports(Operation.CHAT):
            return None
        try:
            chat = responses_to_chat(request, target.model)
        except GatewayError:
            return None
        return Operation.CHAT, with_model(chat, target.model, True)

    def body(
        self, config: BackendConfig, body: dict[str, Any], text: str
    ) -> tuple[dict[str, Any], str]:
        if not self._switched:
            # From the first continuation request on, the front door translates chat (the
            # request's `ctx.op`): its translator must go on from what the client has, for
            # the continuation's deltas and for the response.failed if none opens.
            self._switched = True
            assert self._rid is not None  # else `blocked`
            self._ctx.stream_state = ChunksToEvents.continuing(
                self._rid, self._model, self._created, self._seq, self._item, text
            )
        return continue_body(config, body, text)

    def splice(self, prefix: str, tail: str, carried: Usage | None) -> Splice:
        return Splice(OpenAIShape({}, False, carried), prefix, tail)
