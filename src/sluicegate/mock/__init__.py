"""The fault-injecting OpenAI-compatible mock upstream: `upstream` serves, `directives` decides.

Run it with `sluicegate mock-upstream --port P`, or in-process with `await start(host, 0)`.
"""

from .upstream import Started, build_app, run, start

__all__ = ["Started", "build_app", "run", "start"]
