"""Hooks: everything that reacts to a finished request (log, limits, metrics, live events)."""
