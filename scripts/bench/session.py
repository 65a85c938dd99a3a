"""One benchmark run's state, handed to every phase: the running servers and targets, the
figures gathered so far, and the measured run (warm-up, CPU window, repeat while noisy)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from load import run_wrk
from procs import Servers
from procstat import descendants, status_kb
from settings import NOISE_LIMIT, RETRIES, SECONDS, WARMUP, log
from targets import Target
from window import Window, noise, wait_quiet


@dataclass
class Bench:
    """Everything a phase needs, in one object, so a phase is a plain function of it and the
    registry can hold any phase without knowing its inputs."""

    servers: Servers
    env: dict[str, str]  # what the servers were started with (helpers start with it too)
    direct: Target  # the mock
    gateway: Target
    gateway_pid: int
    mock_pid: int
    db_path: Path  # the gateway's request log (SQLite)
    results: dict[str, Any] = field(default_factory=dict)
    gateway_requests: int = 0  # requests the gateway has answered so far (approximate)
    soak_errors: int = 0
    helpers: dict[str, int] = field(default_factory=dict)  # role -> pid of a load-core helper

    @property
    def targets(self) -> list[Target]:
        """Direct first, gateway second: the order every two-sided phase measures in."""
        return [self.direct, self.gateway]

    @property
    def mock_port(self) -> int:
        return self.direct.port

    def gateway_pids(self) -> list[int]:
        return descendants(self.gateway_pid)

    def rss_kb(self, key: str = "VmRSS") -> int:
        return sum(status_kb(pid, key) for pid in self.gateway_pids())

    def window(self) -> Window:
        roles = {"gateway": self.gateway_pids(), "mock": descendants(self.mock_pid)}
        roles.update({role: descendants(pid) for role, pid in self.helpers.items()})
        return Window(roles)

    def measured_wrk(self, target: Target, connections: int, **kw: Any) -> dict[str, Any]:
        if WARMUP:
            warm = run_wrk(target, connections, WARMUP, **kw)
            self.count(target, warm)

        def once() -> dict[str, Any]:
            with self.window() as window:
                result = run_wrk(target, connections, SECONDS, **kw)
            self.count(target, result)
            result["cpu"] = window.result
            return result

        return self.quietest(f"{target.name} c{connections}", once)

    def quietest(self, label: str, once: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run `once` until a run is quiet (other processes < NOISE_LIMIT), at most
        1 + RETRIES times; return the quietest run, with how many runs were made."""
        best: dict[str, Any] | None = None
        for attempt in range(1 + RETRIES):
            wait_quiet(label)
            result = once()
            self.servers.check_alive()
            result["noise_pct"] = noise(result["cpu"])
            result["runs"] = attempt + 1
            if best is None or result["noise_pct"] < best["noise_pct"]:
                best = {**result, "runs": attempt + 1}
            if result["noise_pct"] <= NOISE_LIMIT:
                break
            if attempt < RETRIES:
                log(
                    f"other processes used {result['noise_pct']:.0f}% of a core during "
                    f"{label}; running it again"
                )
        assert best is not None
        best["runs"] = attempt + 1
        return best

    def count(self, target: Target, result: dict[str, Any]) -> None:
        if target.name == "gateway":
            self.gateway_requests += int(result.get("requests", 0))
