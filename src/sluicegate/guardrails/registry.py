"""Config → guardrails, and the plan each model runs: its built-ins, then the user hooks.

    Guardrails (one per config, rebuilt on reload)
      └── plan(route.guardrails) → Plan, cached per name list; None when nothing applies,
          so a gateway without guardrails pays one attribute test per request

A plan keeps input and output guardrails apart, in config order. User hooks with
`check_input` / `check_output` (docs/hooks.md) run after the built-ins, for every model.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ..config.content import GuardrailConfig
from ..errors import ContentFiltered
from .base import Guardrail
from .pii import PiiGuardrail
from .regex import RegexGuardrail
from .size import MaxInputTokens
from .texts import GuardedReply, GuardedRequest, Texts, reply_texts, request_texts
from .window import StreamWindow

_KINDS: dict[str, type[Guardrail]] = {
    "regex": RegexGuardrail,
    "pii": PiiGuardrail,
    "max_input_tokens": MaxInputTokens,
}

# A user hook's `check_input` / `check_output`, and the name it is logged under.
InputCheck = tuple[str, Callable[[GuardedRequest], Awaitable[None]]]
OutputCheck = tuple[str, Callable[[GuardedReply], Awaitable[None]]]


def build(config: GuardrailConfig) -> Guardrail:
    """One guardrail from its config entry; regexes are compiled here, once."""
    return _KINDS[config.type](config)


class Plan:
    """The guardrails one model runs."""

    __slots__ = ("input", "input_hooks", "output", "output_hooks")

    def __init__(
        self,
        guardrails: Sequence[Guardrail],
        input_hooks: Sequence[InputCheck],
        output_hooks: Sequence[OutputCheck],
    ) -> None:
        self.input = tuple(g for g in guardrails if g.on_input)
        self.output = tuple(g for g in guardrails if g.on_output)
        self.input_hooks = tuple(input_hooks)
        self.output_hooks = tuple(output_hooks)

    @property
    def guards_output(self) -> bool:
        return bool(self.output or self.output_hooks)

    async def check_input(
        self, path: str, model: str, body: dict[str, Any], acted: list[str]
    ) -> bool:
        """Check (and mask in place) a request body; whether it changed. Names that acted are
        appended to `acted`, a blocking one last, before `ContentFiltered` propagates."""
        if not (self.input or self.input_hooks):
            return False
        texts = request_texts(path, body)
        _run(self.input, texts.texts, acted)
        for name, check in self.input_hooks:
            await _hook(name, check, GuardedRequest(path, model, texts.texts), texts, acted)
        return texts.write_back()

    async def check_reply(
        self, path: str, model: str, obj: dict[str, Any], acted: list[str]
    ) -> bool:
        """Check (and mask in place) a whole answer in its front door's shape."""
        texts = reply_texts(path, obj)
        _run(self.output, texts.texts, acted)
        for name, check in self.output_hooks:
            await _hook(name, check, GuardedReply(path, model, texts.texts), texts, acted)
        return texts.write_back()

    def window(self, operation: str) -> StreamWindow | None:
        """The scanner of a stream of `operation`'s chunks, or None without output guardrails
        (user hooks see whole answers only)."""
        return StreamWindow(self.output, operation) if self.output else None


def _run(guardrails: Sequence[Guardrail], texts: list[str], acted: list[str]) -> None:
    for guardrail in guardrails:
        try:
            if guardrail.check(texts):
                acted.append(guardrail.name)
        except ContentFiltered:
            acted.append(guardrail.name)
            raise


async def _hook(
    name: str,
    check: Callable[[Any], Awaitable[None]],
    view: GuardedRequest,
    texts: Texts,
    acted: list[str],
) -> None:
    before = list(view.texts)
    try:
        await check(view)
    except ContentFiltered:
        acted.append(name)
        raise
    if len(view.texts) != len(before):
        raise TypeError(f"guardrail hook {name} must replace texts, not add or remove them")
    if any(new is not old for new, old in zip(view.texts, before, strict=True)):
        acted.append(name)


class Guardrails:
    """Every configured guardrail by name, and the plans built from them."""

    def __init__(
        self,
        configs: Sequence[GuardrailConfig],
        input_hooks: Sequence[InputCheck] = (),
        output_hooks: Sequence[OutputCheck] = (),
    ) -> None:
        self._all = [build(c) for c in configs]
        self._input_hooks = input_hooks
        self._output_hooks = output_hooks
        self._plans: dict[tuple[str, ...] | None, Plan | None] = {}

    def plan(self, names: tuple[str, ...] | None) -> Plan | None:
        """The plan of a model whose `guardrails:` is `names` (None: all of them)."""
        if names in self._plans:
            return self._plans[names]
        chosen = self._all if names is None else [g for g in self._all if g.name in names]
        plan = Plan(chosen, self._input_hooks, self._output_hooks)
        active = plan if plan.input or plan.input_hooks or plan.guards_output else None
        self._plans[names] = active
        return active


def guardrails_of(
    configs: Sequence[GuardrailConfig],
    input_hooks: Sequence[InputCheck],
    output_hooks: Sequence[OutputCheck],
) -> Guardrails | None:
    """None when nothing is configured: the proxy then skips guardrails altogether."""
    if not (configs or input_hooks or output_hooks):
        return None
    return Guardrails(configs, input_hooks, output_hooks)
