"""User hooks named in the config (`hooks: [{class: "pkg.mod:Name", options: {...}}]`)."""

from __future__ import annotations

import importlib

from .base import Hook


class HookLoadError(Exception):
    """Raised when a configured hook cannot be imported or built."""


def load_hook(spec: str, options: dict[str, object]) -> Hook:
    module_name, _, class_name = spec.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise HookLoadError(f"hook '{spec}': cannot import it ({exc})") from exc
    if not (isinstance(cls, type) and issubclass(cls, Hook)):
        raise HookLoadError(f"hook '{spec}' must subclass sluicegate.hooks.base.Hook")
    try:
        return cls(**options)
    except TypeError as exc:
        raise HookLoadError(f"hook '{spec}': bad options ({exc})") from exc
