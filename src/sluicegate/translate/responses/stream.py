"""Chat chunks → Responses stream events, as a small state machine fed one chunk at a time.

    first chunk          ─► response.created, response.in_progress (status in_progress)
    reasoning            ─► output_item.added (reasoning), content_part.added (reasoning_text),
                            response.reasoning_text.delta ...
    content              ─► output_item.added (message), content_part.added (output_text),
                            response.output_text.delta ...
    tool_calls[k]        ─► output_item.added (function_call), function_call_arguments.delta ...
                            (a new item closes the open one: *.done, content_part.done,
                            output_item.done)
    clean end            ─► the open item closed, then response.completed (or
                            response.incomplete for finish_reason length / content_filter)
                            with the whole Response and its usage
    broken stream        ─► response.failed (status failed, `error` {code, message}), and
                            nothing after it

Every event carries `sequence_number`, counting from 0. The end waits for the clean end of the
chat stream because OpenAI sends the usage chunk after the finish chunk.
"""

from __future__ import annotations

import time
from typing import Any

from .response import call_item, message_item, reasoning_item, response_id, response_object

_PART: dict[str, dict[str, Any]] = {
    "message": {"type": "output_text", "text": "", "annotations": [], "logprobs": []},
    "reasoning": {"type": "reasoning_text", "text": ""},
}
_PREFIX = {"message": "msg", "reasoning": "rs"}
_TEXT_EVENT = {"message": "response.output_text", "reasoning": "response.reasoning_text"}


class _Item:
    """One output item being built: its kind, id, text (or arguments) so far, chat call."""

    __slots__ = ("call", "id", "kind", "pieces")

    def __init__(self, kind: str, item_id: str, call: dict[str, Any] | None = None) -> None:
        self.kind = kind
        self.id = item_id
        self.call = call
        self.pieces: list[str] = []

    def snapshot(self, status: str) -> dict[str, Any]:
        text = "".join(self.pieces)
        if self.kind == "message":
            return message_item(self.id, text, status)
        if self.kind == "reasoning":
            return reasoning_item(self.id, text, status)
        return call_item(self.call or {}, text, status)


class ChunksToEvents:
    """OpenAI chat chunks in, Responses stream events out."""

    __slots__ = (
        "_created",
        "_finish",
        "_items",
        "_model",
        "_open",
        "_rid",
        "_seq",
        "_tools",
        "usage",
    )

    def __init__(self, model: str | None) -> None:
        self._model = model
        self._rid: str | None = None
        self._created = int(time.time())
        self._seq = 0
        self._items: list[_Item] = []
        self._open: int | None = None  # output index of the open item
        self._tools: dict[int, int] = {}  # chat tool call index → output index
        self._finish: str | None = None
        self.usage: dict[str, Any] | None = None

    @classmethod
    def continuing(
        cls, rid: str, model: Any, created: Any, seq: int, item_id: str | None, text: str
    ) -> ChunksToEvents:
        """A translator that goes on from a stream the client got in the Responses API's own
        events (a native stream continued through chat, SPEC 4.9): that response's id and
        numbering, and its open message item (output index 0) with the text it has."""
        translator = cls(model)
        translator._rid = rid
        if isinstance(created, int):
            translator._created = created
        translator._seq = seq
        if item_id is not None:
            item = _Item("message", item_id)
            item.pieces.append(text)
            translator._items.append(item)
            translator._open = 0
        return translator

    @property
    def started(self) -> bool:
        return self._rid is not None

    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return event

    def _response(self, status: str, **extra: Any) -> dict[str, Any]:
        finished = status in ("completed", "failed")
        output = [
            item.snapshot("completed" if finished and index != self._open else "incomplete")
            for index, item in enumerate(self._items)
        ]
        usage = self.usage if finished else None
        obj = response_object(
            self._rid or response_id(None),
            self._model,
            self._created,
            output,
            status,
            self._finish if status == "completed" else None,
            usage,
        )
        obj.update(extra)
        return obj

    def feed(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        if self._rid is None:
            self._rid = response_id(chunk.get("id"))
            self._model = self._model or chunk.get("model")
            if isinstance(chunk.get("created"), int):
                self._created = chunk["created"]
            events.append(self._event("response.created", response=self._response("in_progress")))
            events.append(
                self._event("response.in_progress", response=self._response("in_progress"))
            )
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue  # a Response is one answer
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                self._text(events, "reasoning", reasoning)
            content = delta.get("content")
            if isinstance(content, str) and content:
                self._text(events, "message", content)
            for call in delta.get("tool_calls") or ():
                if isinstance(call, dict):
                    self._tool_delta(events, call)
            if choice.get("finish_reason"):
                self._finish = choice["finish_reason"]
        return events

    def _text(self, events: list[dict[str, Any]], kind: str, text: str) -> None:
        index = self._open
        if index is None or self._items[index].kind != kind:
            index = self._start(events, _Item(kind, f"{_PREFIX[kind]}_{self._base()}"))
            item = self._items[index]
            events.append(
                self._event(
                    "response.content_part.added",
                    item_id=item.id,
                    output_index=index,
                    content_index=0,
                    part=dict(_PART[kind]),
                )
            )
        item = self._items[index]
        item.pieces.append(text)
        fields: dict[str, Any] = {"logprobs": []} if kind == "message" else {}
        events.append(
            self._event(
                _TEXT_EVENT[kind] + ".delta",
                item_id=item.id,
                output_index=index,
                content_index=0,
                delta=text,
                **fields,
            )
        )

    def _base(self) -> str:
        base = (self._rid or "resp_")[5:]
        return f"{base}_{len(self._items)}" if self._items else base

    def _start(self, events: list[dict[str, Any]], item: _Item) -> int:
        self._close(events)
        index = len(self._items)
        self._items.append(item)
        self._open = index
        events.append(
            self._event(
                "response.output_item.added",
                output_index=index,
                item=item.snapshot("in_progress"),
            )
        )
        return index

    def _tool_delta(self, events: list[dict[str, Any]], call: dict[str, Any]) -> None:
        tool = call.get("index", 0)
        function = call.get("function") or {}
        index = self._tools.get(tool)
        if index is None:
            chat_call = {
                "id": call.get("id") or f"call_{tool}",
                "function": {"name": function.get("name")},
            }
            item = _Item("function_call", "", chat_call)
            item.id = item.snapshot("in_progress")["id"]
            index = self._tools[tool] = self._start(events, item)
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            item = self._items[index]
            item.pieces.append(arguments)
            events.append(
                self._event(
                    "response.function_call_arguments.delta",
                    item_id=item.id,
                    output_index=index,
                    delta=arguments,
                )
            )

    def _close(self, events: list[dict[str, Any]]) -> None:
        index = self._open
        if index is None:
            return
        self._open = None
        item = self._items[index]
        done = item.snapshot("completed")
        text = "".join(item.pieces)
        where = {"item_id": item.id, "output_index": index}
        if item.kind == "function_call":
            events.append(
                self._event(
                    "response.function_call_arguments.done",
                    **where,
                    name=done["name"],
                    arguments=text,
                )
            )
        else:
            fields: dict[str, Any] = {"logprobs": []} if item.kind == "message" else {}
            events.append(
                self._event(
                    _TEXT_EVENT[item.kind] + ".done", **where, content_index=0, text=text, **fields
                )
            )
            events.append(
                self._event(
                    "response.content_part.done",
                    **where,
                    content_index=0,
                    part=done["content"][0],
                )
            )
        events.append(self._event("response.output_item.done", output_index=index, item=done))

    def finish(self) -> list[dict[str, Any]]:
        """The closing events after a clean end of the chat stream."""
        events: list[dict[str, Any]] = []
        self._close(events)
        response = self._response("completed")
        kind = "response." + response["status"]
        events.append(self._event(kind, response=response))
        return events

    def failed(self, code: str | None, message: str) -> dict[str, Any]:
        """The one `response.failed` event that ends a broken stream. Its `code` is
        `server_error` (the SDK accepts only OpenAI's codes); the gateway's code (SPEC 4.4)
        leads the message."""
        error = {"code": "server_error", "message": f"{code}: {message}" if code else message}
        if self._rid is None:
            self._rid = response_id(None)
        return self._event("response.failed", response=self._response("failed", error=error))
