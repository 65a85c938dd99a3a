"""The telemetry hook: each Completion to `telemetry.otel` as spans; built only when it is on.

`after` builds the spans and queues them (no I/O: the SDK's thread sends them); `close`
flushes what is queued in a thread, bounded: past `_FLUSH_SECONDS` (a collector that is down
keeps an export in its retries) the export is aborted and what is left is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
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
_FLUSH_SECONDS = 3.0
_ABORT_SECONDS = 2.0


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
        # Shielded: the flush thread goes on when the wait times out, and is then aborted.
        flush = asyncio.ensure_future(asyncio.to_thread(self.traces.shutdown))
        try:
            await asyncio.wait_for(asyncio.shield(flush), _FLUSH_SECONDS)
            return
        except TimeoutError:
            log.warning("telemetry: spans not sent within %gs of shutdown dropped", _FLUSH_SECONDS)
        self.traces.abort()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(flush, _ABORT_SECONDS)
