"""`sluicegate serve` under uvicorn: one process or a supervisor with `--workers N`, the
guarded HTTP protocol, and a drain that ends with exit code 0.

uvicorn's own `run()` cannot carry our protocol's limits to spawned workers, so this builds
the `Config` itself (the limits ride on it when it is pickled for each worker) and starts the
server or supervisor as `uvicorn.run` does.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
from types import FrameType

import uvicorn
from uvicorn.supervisors import Multiprocess, multiprocess

from ..config import GatewayConfig
from .logs import log_config
from .protocol import LIMITS_ATTRIBUTE, ClientLimits, GuardedHttpToolsProtocol

# Beyond drain_seconds, the time uvicorn waits for connections before it cancels what is left
# (clients that stopped reading keep their socket until their buffer drains).
SHUTDOWN_GRACE_SECONDS = 5.0


def uvicorn_config(config: GatewayConfig, host: str, port: int, workers: int) -> uvicorn.Config:
    server = config.server
    uv_config = _Config(
        "sluicegate.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http=GuardedHttpToolsProtocol,
        lifespan="on",
        # Ours instead (hooks/access_log.py): one line per request, with user, model, tokens.
        access_log=False,
        log_config=log_config(config.logging),
        log_level=config.logging.level,
        timeout_graceful_shutdown=int(server.drain_seconds + SHUTDOWN_GRACE_SECONDS),
    )
    limits = ClientLimits(server.header_timeout_seconds, server.max_header_bytes)
    setattr(uv_config, LIMITS_ATTRIBUTE, limits)
    return uv_config


def serve(
    config: GatewayConfig, host: str, port: int, workers: int, stop_with_parent: bool = False
) -> None:
    """Serve until SIGTERM/SIGINT, drain, and return (exit code 0)."""
    if stop_with_parent:
        _sigterm_when_parent_exits()
    # Also makes SIGTERM/SIGINT end this process with exit code 0 (see _Config).
    uv_config = uvicorn_config(config, host, port, workers)
    server = uvicorn.Server(uv_config)
    if workers > 1:
        sock = uv_config.bind_socket()
        multiprocess.Process = _Worker  # uvicorn <0.55 (pinned) spawns workers by this name
        _Supervisor(uv_config, sockets=[sock]).run()
        return
    server.run()
    if not server.started:
        sys.exit(3)  # uvicorn's STARTUP_FAILURE


class _Config(uvicorn.Config):
    """uvicorn's Config; `configure_logging` is the one step uvicorn runs in every process it
    starts (the supervisor, each worker) before the server, so what each needs goes here."""

    def configure_logging(self) -> None:
        super().configure_logging()
        if threading.current_thread() is threading.main_thread():
            # uvicorn re-raises the signal it shut down for once it is done; with the default
            # handler that would kill the process (exit 143) after a clean drain, before its
            # log writer has written what is queued. Exit 0 instead.
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, _exit_cleanly)


class _Supervisor(Multiprocess):
    """uvicorn's worker supervisor, but it closes its copy of the listening socket before it
    signals the workers: otherwise the kernel keeps accepting connections that no draining
    worker will ever take, and their clients hang instead of being refused."""

    def terminate_all(self) -> None:
        for sock in self.sockets:
            sock.close()
        super().terminate_all()


class _Worker(multiprocess.Process):
    """A worker that drains and exits when its supervisor dies, `kill -9` included. Without
    this, the workers of a killed supervisor go on serving on the inherited socket, unmanaged,
    and the instance cannot be started again on its port."""

    def target(self, sockets: list[socket.socket] | None = None) -> None:
        _sigterm_when_parent_exits()
        super().target(sockets)


def _sigterm_when_parent_exits() -> None:
    """Linux: have the kernel send this process SIGTERM when its parent exits. `make serve`
    needs it: make, killed by SIGTERM, exits without passing the signal on to its child."""
    import ctypes

    pr_set_pdeathsig = 1
    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != parent:  # the parent was gone before the request took effect
        raise SystemExit(0)


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)
