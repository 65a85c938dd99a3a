"""Process control: the environment the servers start with, the mock and the gateway (and the
phases' helpers) started pinned to their core in their own process groups, and stopped."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from settings import BIN, CONFIG, SERVER, log


class Servers:
    """The mock and the gateway, started pinned, stopped (their own process groups) at exit."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.procs: list[tuple[str, subprocess.Popen[bytes], Path]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        logfile = self.workdir / f"{name}.log"
        with logfile.open("wb") as out:
            proc = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.workdir,
                start_new_session=True,
            )
        self.procs.append((name, proc, logfile))
        return proc

    def wait_healthy(self, name: str, proc: subprocess.Popen[bytes], port: int) -> None:
        deadline = time.monotonic() + 30.0
        url = f"http://127.0.0.1:{port}/health"
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self.fail(f"{name} exited with status {proc.returncode} during start-up")
            try:
                with urllib.request.urlopen(url, timeout=1.0) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        self.fail(f"{name} did not answer {url} within 30 s")

    def check_alive(self) -> None:
        for name, proc, _ in self.procs:
            if proc.poll() is not None:
                self.fail(f"{name} exited with status {proc.returncode} during the benchmark")

    def fail(self, message: str) -> None:
        log(message)
        for name, _, logfile in self.procs:
            with contextlib.suppress(OSError):
                tail = logfile.read_text(errors="replace").splitlines()[-20:]
                print(f"--- last lines of the {name} log ---", file=sys.stderr)
                print("\n".join(tail), file=sys.stderr)
        raise SystemExit(1)

    def stop_helper(self, proc: subprocess.Popen[bytes], timeout: float) -> None:
        """SIGTERM to a phase's helper, wait for it (it may print figures as it stops: the
        live subscribers' counts, the OTLP sink's spans), and stop watching it."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout)
        self.procs = [entry for entry in self.procs if entry[1] is not proc]

    def stop(self) -> None:
        for _, proc, _ in reversed(self.procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10.0
        for _, proc, _ in reversed(self.procs):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def logged_figures(logfile: Path) -> dict[str, Any] | None:
    """The last `BENCH_JSON {...}` line a helper wrote to its log, if any."""
    found = None
    for line in logfile.read_text().splitlines():
        if line.startswith("BENCH_JSON "):
            found = json.loads(line[len("BENCH_JSON ") :])
    return found


def gateway_argv(port: int) -> list[str]:
    if SERVER == "uvicorn":
        return [str(BIN / "sluicegate"), "serve", "--config", str(CONFIG), "--port", str(port)]
    if SERVER == "granian":
        return [
            str(BIN / "granian"),
            "--interface", "asgi",
            "--factory",
            "--loop", "uvloop",
            "--workers", "1",
            "--http", "1",
            "--no-ws",
            "--host", "127.0.0.1",
            "--port", str(port),
            "sluicegate.app:create_app",
        ]  # fmt: skip
    sys.exit(f"bench: BENCH_SERVER must be uvicorn or granian, not {SERVER!r}")


def server_env(mock_port: int, workdir: Path) -> dict[str, str]:
    """This process's environment plus what gateway.yaml reads (the mock's port, the request
    log's file), without a master key from the caller's shell."""
    env = dict(os.environ)
    env["BENCH_MOCK_PORT"] = str(mock_port)
    env["BENCH_DB"] = str(workdir / "bench.db")
    env["SLUICEGATE_CONFIG"] = str(CONFIG)
    env.pop("SLUICEGATE_MASTER_KEY", None)
    # The servers start in the work dir: a relative PYTHONPATH (a worktree's src) must keep
    # pointing where it did, or they would import another checkout's sluicegate.
    if env.get("PYTHONPATH"):
        paths = env["PYTHONPATH"].split(os.pathsep)
        env["PYTHONPATH"] = os.pathsep.join(str(Path(p).resolve()) for p in paths if p)
    return env


def imported_from(env: dict[str, str], cwd: Path) -> str:
    """Where the servers' python finds sluicegate, as they will be started."""
    done = subprocess.run(
        [sys.executable, "-c", "import sluicegate; print(sluicegate.__file__)"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or f"nothing: {done.stderr.strip()[-300:]}"
