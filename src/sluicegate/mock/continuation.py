"""The mock as a continuing server (for resume tests, SPEC 4.9), as pure functions (no I/O).

A request whose last message is the assistant's text (OpenAI chat, or Anthropic prefill; in
Gemini's `contents`, a last turn of role `model`), or a legacy completions prompt with text on
the lines after its directive line (the gateway appends the text so far to the prompt), is a
continuation: the mock answers the words that follow it, numbering on from the words already
there (`w0 w1 w2` → `w3 ...` up to `chunks`). Keys of the directive for it:

    fault_model=A[,B]    the faults hit only requests for these upstream models; others are
                         answered without them (one request breaks on its first target and is
                         continued on the next)
    continue_ttft_ms=N   a continuation waits N ms before its first event (instead of ttft_ms)
    echo=1               a continuation first repeats the whole prefix (in two chunks, split
                         mid-word), as some servers do, then continues

An Anthropic prefill that ends in whitespace is refused (400), as Anthropic's API does; after a
prefill that ends in a word, the first continued word carries a leading space.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .directives import MARKER, Directive, content_text


def prefix_of(body: dict[str, Any]) -> str | None:
    """The text of the last message when it is the assistant's (or what follows a completions
    prompt's directive line), else None."""
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        marker = prompt.find(MARKER)
        newline = prompt.find("\n", marker) if marker >= 0 else -1
        return (prompt[newline + 1 :] or None) if newline >= 0 else None
    contents = body.get("contents")
    if isinstance(contents, list):  # Gemini: a turn's text is in its `parts`
        last = contents[-1] if contents else None
        if not isinstance(last, dict) or last.get("role") != "model":
            return None
        return content_text(last.get("parts"))
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not isinstance(messages[-1], dict):
        return None
    last = messages[-1]
    if last.get("role") != "assistant":
        return None
    return content_text(last.get("content"))


def adjust(d: Directive, body: dict[str, Any], model: object) -> Directive:
    """`d` for this request: faults kept only for `fault_model`, continuation offsets."""
    if d.fault_model and model not in d.fault_model.split(","):
        d = d.without_faults()
    prefix = prefix_of(body)
    if prefix is None:
        return d
    changes: dict[str, Any] = {"start": len(prefix.split()), "lead_space": not _ends_blank(prefix)}
    if d.continue_ttft_ms is not None:
        changes["ttft_ms"] = d.continue_ttft_ms
    if d.echo:
        changes["echo_text"] = prefix
    return dataclasses.replace(d, **changes)


def _ends_blank(text: str) -> bool:
    return not text or text[-1].isspace()


def prefill_refusal(body: dict[str, Any]) -> str | None:
    """Anthropic's 400 message for a prefill ending in whitespace, or None."""
    prefix = prefix_of(body)
    if prefix and prefix[-1].isspace():
        return "final assistant content cannot end with trailing whitespace"
    return None
