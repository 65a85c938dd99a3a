"""A third-party guardrail as a user hook (the example of docs/guardrails.md)."""

from __future__ import annotations

import re

from sluicegate.errors import ContentFiltered
from sluicegate.guardrails.texts import GuardedReply, GuardedRequest
from sluicegate.hooks.base import Hook


class TicketGuard(Hook):
    """Masks internal ticket ids (`TCK-1234`) in prompts, refuses a prompt that mentions a
    codename from its list, and masks internal host names in (non-stream) answers."""

    guardrail_name = "tickets"  # how the request log names it when it acts
    TICKET = re.compile(r"\bTCK-\d+\b")
    HOST = re.compile(r"\b[\w-]+\.corp\.internal\b")

    def __init__(self, codenames: list[str]) -> None:
        self.codenames = [name.lower() for name in codenames]

    async def check_input(self, request: GuardedRequest) -> None:
        for i, text in enumerate(request.texts):
            if any(name in text.lower() for name in self.codenames):
                raise ContentFiltered(self.guardrail_name)  # 400 content_filter
            request.texts[i] = self.TICKET.sub("[TICKET]", text)

    async def check_output(self, reply: GuardedReply) -> None:
        for i, text in enumerate(reply.texts):
            reply.texts[i] = self.HOST.sub("[HOST]", text)
