"""The continuation request of a broken stream (SPEC 4.9), in the form each backend type
continues: a chat body plus the text the client already has as the last assistant message.

    openai                      assistant message last; most servers continue it as is
      continue_final_message    + `continue_final_message: true, add_generation_prompt:
                                false` (vLLM, SGLang: without them they open a new turn)
    anthropic                   assistant turn last = prefill (translate.anthropic keeps it);
                                trailing whitespace stripped, which the API refuses in one
    others                      assistant message last (best effort)
    legacy completions          the prompt + the text (a prompt has no messages)
    Anthropic's own Messages    assistant turn last = prefill, as for chat (`continue_body`
      body (/v1/messages)       takes either: both have `messages`)

Knows nothing of the gateway: the caller gives the chat body it would send this target and
gets back the body to send and the prefix the target was given (a prefix of `text`).
"""

from __future__ import annotations

from typing import Any

from ..config.schema import BackendConfig


def continue_body(
    config: BackendConfig, body: dict[str, Any], text: str
) -> tuple[dict[str, Any], str]:
    """`body` (a chat request) asking `config`'s backend to continue `text`, and the prefix
    it was given. With no text yet (a break after the role chunk), the body as it was."""
    if not text:
        return body, ""
    prefix = text.rstrip() if config.type == "anthropic" else text
    if not prefix:  # only whitespace so far: nothing a model could continue
        return body, ""
    messages = [*body.get("messages", ()), {"role": "assistant", "content": prefix}]
    out = {**body, "messages": messages}
    if config.continue_final_message:
        out["continue_final_message"] = True
        out["add_generation_prompt"] = False
    return out, prefix


def continue_prompt(body: dict[str, Any], text: str) -> tuple[dict[str, Any], str]:
    """A legacy completions `body` asked to continue `text`: the prompt with the text after
    it (the caller resumes only a string prompt), and the prefix it was given (all of it)."""
    if not text:
        return body, ""
    return {**body, "prompt": str(body.get("prompt", "")) + text}, text
