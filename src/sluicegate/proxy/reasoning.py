"""Per-user `copy_reasoning_to_reasoning_content`: a `reasoning` field is mirrored into
`reasoning_content` where that is absent, for clients that only read the latter (SPEC 4)."""

from __future__ import annotations

from typing import Any


def copy_reasoning(choices: Any, part: str) -> bool:
    """Copy in each choice's `part` ("message" or "delta"); True if anything changed."""
    changed = False
    if not isinstance(choices, list):
        return False
    for choice in choices:
        target = choice.get(part) if isinstance(choice, dict) else None
        if (
            isinstance(target, dict)
            and target.get("reasoning") is not None
            and target.get("reasoning_content") is None
        ):
            target["reasoning_content"] = target["reasoning"]
            changed = True
    return changed
