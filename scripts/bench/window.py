"""CPU accounting around one measured run: who used the cores (our servers, the load
generator, everyone else), so that a figure taken on a machine that was not quiet is known."""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass, field

from procstat import TICKS, all_process_ticks, core_times
from settings import QUIET_TIMEOUT, log


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Window:
    """CPU accounting over one measured run."""

    ours: dict[str, list[int]]  # role -> pids
    started: float = 0.0
    core_start: dict[str, tuple[int, int]] = field(default_factory=dict)
    proc_start: dict[int, int] = field(default_factory=dict)
    child_start: float = 0.0
    result: dict[str, float] = field(default_factory=dict)

    def __enter__(self) -> Window:
        self.started = time.perf_counter()
        self.core_start = core_times()
        self.proc_start = all_process_ticks()
        self.child_start = children_cpu_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        elapsed = time.perf_counter() - self.started
        core_end = core_times()
        proc_end = all_process_ticks()
        client = children_cpu_seconds() - self.child_start
        result: dict[str, float] = {"elapsed_s": elapsed, "client_cpu_s": client}
        for core, (busy, total) in core_end.items():
            busy0, total0 = self.core_start.get(core, (busy, total))
            result[f"core{core}_busy_pct"] = 100.0 * (busy - busy0) / max(1, total - total0)
        ours: set[int] = {os.getpid()}
        for role, pids in self.ours.items():
            ticks = sum(proc_end.get(p, 0) - self.proc_start.get(p, 0) for p in pids)
            result[f"{role}_cpu_s"] = ticks / TICKS
            ours.update(pids)
        other = 0
        for pid, ticks in proc_end.items():
            if pid in ours:
                continue
            # A process that started during the window counts in full; our own load
            # generator is a child that has exited by now, so it is not in proc_end.
            other += max(0, ticks - self.proc_start.get(pid, 0))
        result["other_cpu_pct"] = 100.0 * other / TICKS / max(elapsed, 1e-9)
        # Busy time on the cores that no process we saw accounts for: mostly kernel work
        # (loopback softirqs) plus processes that came and went during the window.
        busy = sum(core_end[c][0] - self.core_start.get(c, core_end[c])[0] for c in core_end)
        seen = sum(max(0, t - self.proc_start.get(p, 0)) for p, t in proc_end.items())
        unseen = busy - seen - client * TICKS
        result["unattributed_cpu_pct"] = 100.0 * unseen / TICKS / max(elapsed, 1e-9)
        self.result = result


def noise(cpu: dict[str, float]) -> float:
    """% of a core used by processes not ours during a window. Processes that came and went
    inside the window show up only as unattributed busy time, which also holds a few % of
    kernel work and tick rounding: only the part above 5% is counted."""
    return cpu.get("other_cpu_pct", 0.0) + max(0.0, cpu.get("unattributed_cpu_pct", 0.0) - 5.0)


def wait_quiet(label: str) -> None:
    """Wait (up to QUIET_TIMEOUT) until the cores are idle while our servers are idle."""
    if QUIET_TIMEOUT <= 0:
        return
    deadline = time.monotonic() + QUIET_TIMEOUT
    warned = False
    while True:
        start = core_times()
        time.sleep(0.5)
        end = core_times()
        busy = max(100.0 * (end[c][0] - start[c][0]) / max(1, end[c][1] - start[c][1]) for c in end)
        if busy < 10.0:
            return
        if time.monotonic() >= deadline:
            log(f"machine still busy ({busy:.0f}% on a core) before {label}; measuring anyway")
            return
        if not warned:
            log(f"other processes are using the CPU ({busy:.0f}% on a core); waiting for quiet")
            warned = True
