"""Where the texts of a body sit, per front door, so guardrails can read and replace them.

    door                 request texts                           answer texts
    /chat/completions    messages[].content (string or text parts)   choices[].message.content
    /completions         prompt (string or list of strings)         choices[].text
    /messages            system, messages[].content (text blocks)   content[] text blocks
    /responses           instructions, input (string or items'      output[] message
                         content, string or input_text parts)       output_text parts

`Texts` collects `(container, key)` slots while walking the parsed body once; guardrails then
work on the plain `texts` list and `write_back` stores only the texts that changed. Images,
tool calls and tool arguments are not texts here (docs/guardrails.md). `GuardedRequest` and
`GuardedReply` are what a user hook's `check_input` / `check_output` receive.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_TEXT_PARTS = frozenset({"text", "input_text", "output_text"})


class Texts:
    """The texts found in one body, in order, and the slot each came from."""

    __slots__ = ("_original", "_slots", "texts")

    def __init__(self) -> None:
        self.texts: list[str] = []
        self._slots: list[tuple[Any, Any]] = []
        self._original: list[str] = []

    def add(self, container: Any, key: Any) -> None:
        value = container[key]
        if isinstance(value, str):
            self.texts.append(value)
            self._slots.append((container, key))
            self._original.append(value)

    def add_content(self, holder: dict[str, Any], key: str) -> None:
        """A string, or a list of parts of which the text ones count."""
        content = holder.get(key)
        if isinstance(content, str):
            self.add(holder, key)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and part.get("type") in _TEXT_PARTS and "text" in part:
                    self.add(part, "text")

    def write_back(self) -> bool:
        """Store each replaced text in its slot; whether any was replaced."""
        changed = False
        for (container, key), old, new in zip(self._slots, self._original, self.texts, strict=True):
            if new is not old:
                container[key] = new
                changed = True
        return changed


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _chat(body: dict[str, Any], texts: Texts) -> None:
    for message in _dicts(body.get("messages")):
        texts.add_content(message, "content")


def _completions(body: dict[str, Any], texts: Texts) -> None:
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        texts.add(body, "prompt")
    elif isinstance(prompt, list):
        for i in range(len(prompt)):
            texts.add(prompt, i)


def _messages(body: dict[str, Any], texts: Texts) -> None:
    texts.add_content(body, "system")
    _chat(body, texts)


def _responses(body: dict[str, Any], texts: Texts) -> None:
    if "instructions" in body:
        texts.add(body, "instructions")
    if isinstance(body.get("input"), str):
        texts.add(body, "input")
    for item in _dicts(body.get("input")):
        texts.add_content(item, "content")


def _chat_reply(obj: dict[str, Any], texts: Texts) -> None:
    for choice in _dicts(obj.get("choices")):
        message = choice.get("message")
        if isinstance(message, dict):
            texts.add_content(message, "content")


def _completions_reply(obj: dict[str, Any], texts: Texts) -> None:
    for choice in _dicts(obj.get("choices")):
        if "text" in choice:
            texts.add(choice, "text")


def _messages_reply(obj: dict[str, Any], texts: Texts) -> None:
    texts.add_content(obj, "content")


def _responses_reply(obj: dict[str, Any], texts: Texts) -> None:
    for item in _dicts(obj.get("output")):
        if item.get("type") == "message":
            texts.add_content(item, "content")


Walk = Callable[[dict[str, Any], Texts], None]
_REQUEST: dict[str, Walk] = {
    "/chat/completions": _chat,
    "/completions": _completions,
    "/messages": _messages,
    "/responses": _responses,
}
_REPLY: dict[str, Walk] = {
    "/chat/completions": _chat_reply,
    "/completions": _completions_reply,
    "/messages": _messages_reply,
    "/responses": _responses_reply,
}


def door(path: str) -> str:
    """The front door of a request path, without the optional `/v1`."""
    return path[3:] if path.startswith("/v1/") else path


def has_answer_texts(path: str) -> bool:
    """Whether answers of this path carry texts (not embeddings, not count_tokens)."""
    return door(path) in _REPLY


def request_texts(path: str, body: dict[str, Any]) -> Texts:
    return _walk(_REQUEST, path, body)


def reply_texts(path: str, obj: dict[str, Any]) -> Texts:
    return _walk(_REPLY, path, obj)


def _walk(walks: dict[str, Walk], path: str, obj: dict[str, Any]) -> Texts:
    texts = Texts()
    walk = walks.get(door(path))
    if walk is not None:
        walk(obj, texts)
    return texts


class GuardedRequest:
    """A request as a user hook's `check_input` sees it: replace items of `texts` to change
    what goes upstream; raise `errors.ContentFiltered(name)` to refuse it."""

    __slots__ = ("model", "path", "texts")

    def __init__(self, path: str, model: str, texts: list[str]) -> None:
        self.path = path  # the front door, e.g. "/v1/chat/completions"
        self.model = model  # as the client asked for it
        self.texts = texts


class GuardedReply(GuardedRequest):
    """A non-stream answer as `check_output` sees it (same rules as `GuardedRequest`)."""

    __slots__ = ()
