"""The telemetry hook: each Completion to `telemetry.otel` as spans; built only when it is on.

`after` builds the spans and queues them (no I/O: the SDK's thread sends them); `close`
flushes what is queued in a thread, bounded, so a dead collector cannot hold up shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..config.schema import TelemetryConfig
from ..record import Completion
from .base import Hook

if TYPE_CHECKING:
    from ..telemetry.otel import Traces

log = logging.getLogger("sluicegate.telemetry")

INSTALL_HINT = "pip install 'sluicegate[otel]'"
_CLOSE_SECONDS = 10.0


class TelemetryUnavailable(Exception):
    """Raised at start when `telemetry.otlp_endpoint` is set but the OpenTelemetry SDK or its
    OTLP/HTTP exporter is not installed."""


def load_traces_module() -> None:
    """Import the SDK side now, or raise `TelemetryUnavailable` saying what to install."""
    try:
        from ..telemetry import otel  # noqa: F401
    except ImportError as exc:
        raise TelemetryUnavailable(
            f"telemetry.otlp_endpoint is set but OpenTelemetry is not installed ({exc}); "
            f"install it with {INSTALL_HINT}, or unset telemetry.otlp_endpoint"
        ) from exc


class TelemetryHook(Hook):
    def __init__(self, config: TelemetryConfig, backend_type: Callable[[str], str | None]) -> None:
        load_traces_module()
        from ..telemetry.otel import Traces

        self.traces: Traces = Traces(config, backend_type)

    def after(self, completion: Completion) -> None:
        if completion.trace is not None:
            self.traces.record(completion)

    async def close(self) -> None:
        try:
            await asyncio.wait_for(asyncio.to_thread(self.traces.shutdown), _CLOSE_SECONDS)
        except TimeoutError:
            log.warning("telemetry: spans still queued after %gs were dropped", _CLOSE_SECONDS)
