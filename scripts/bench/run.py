"""The benchmark behind `make bench` (started by scripts/bench.sh): gateway vs direct-to-mock.

    core 0: the gateway alone (one worker, uvicorn or granian)
    core 1: the mock upstream + the load generator (wrk, or ttft.py) + this runner (idle)

Phases, each run against the mock directly and then through the gateway, each with a short
warm-up run first (not measured):

    latency   wrk -t1 -c1  --latency, non-stream chat       p50 / p99, added = gateway - direct
    providers wrk -t1 -c1  --latency, non-stream, per path   added p50 / p99 of each path, and
              chat -> openai (the latency phase's figure     each anthropic path's added p50
              when it ran), chat -> anthropic (translated),  minus the openai path's
              /v1/messages -> anthropic (pass-through);
              direct: the mock's /v1/messages with the
              body and headers the gateway sent it
    rps       wrk -t1 -c64, non-stream chat                  requests/s, gateway CPU per 1k
    ttft      ttft.py, sequential streams (c1)               time to first data: line
    streams   wrk -t1 -c32, 20-chunk streams                 streams/s, gateway CPU per 1k
    soak      wrk -t1 -c64, 100k non-stream (gateway only)   VmRSS at 0 / 50k / 100k, and
                                                             request-log rows vs requests
    live      wrk -t1 -c64, non-stream (gateway only),     requests/s without and with the
              first alone, then with 20 subscribers on      subscribers, the drop (target
              GET /admin/live/logs (live_tail.py on the     <= 10%), events each subscriber
              load core) reading everything                 received
    otel      wrk -t1 -c64, non-stream: the gateway          requests/s off and on, the drop
              (telemetry off), then a twin gateway with     (target <= 10%), gateway CPU per
              telemetry.otlp_endpoint on an OTLP/HTTP sink  request, spans the sink received
              (otlp_sink.py, load core) that discards      vs the twin's log rows + attempts

Environment:
    BENCH_SECONDS=10        measured seconds per run (2 for a smoke run)
    BENCH_WARMUP=2          warm-up seconds before each measured run
    BENCH_SKIP_SOAK=1       skip the 100k-request RSS phase
    BENCH_SOAK_REQUESTS     requests in the soak phase (default 100000, two halves)
    BENCH_PHASES=a,b        run only these phases (latency,providers,rps,ttft,streams,soak,
                            live,otel);
                            an empty value runs none (with BENCH_PROFILE: just the profile)
    BENCH_SERVER=granian    run the gateway under granian instead of uvicorn
    BENCH_JSON_OUT=path     also write every figure as JSON to `path`
    BENCH_PROFILE=path      after the rps phase, run py-spy on the gateway for BENCH_SECONDS
                            under the same c64 load (not measured); path.svg: flame graph,
                            path.txt: collapsed stacks, anything else: speedscope JSON;
                            BENCH_PROFILE_CONNECTIONS=1 profiles the c1 load instead;
                            BENCH_PROFILE_ARGS="--gil" passes extra py-spy options;
                            BENCH_PROFILE_PATH=chat_anthropic or messages_anthropic profiles
                            that provider path instead of chat -> openai
    BENCH_LIVE_SUBSCRIBERS=20  live-log subscribers attached in the live phase
    BENCH_RETRIES=2         a measured run during which other processes used > 5% of a core
                            is repeated up to this many times; the quietest run is kept
    BENCH_QUIET_TIMEOUT=60  seconds to wait for other processes to leave the cores idle
                            before each measured run (0: do not wait)

Every measured run also records how busy each core was and how much CPU processes other
than ours used: a figure taken on a machine that was not quiet is flagged with `!`.
"""

from __future__ import annotations

import contextlib
import datetime
import importlib.util
import json
import math
import os
import platform
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BIN = Path(sys.executable).parent  # the venv's bin: the runner is started with its python
CONFIG = HERE / "gateway.yaml"
LUA = HERE / "chat.lua"
TTFT = HERE / "ttft.py"
LIVE_TAIL = HERE / "live_tail.py"
OTLP_SINK = HERE / "otlp_sink.py"

USER_KEY = "sk-bench-user-0000000000000000"  # must match gateway.yaml
MASTER_KEY = "sk-bench-master-0000000000000000"  # gateway.yaml's too (live logs need it)
GATEWAY_MODEL = "bench"
MOCK_MODEL = "mock-model"
PATH = "/v1/chat/completions"
MESSAGES_PATH = "/v1/messages"
CLAUDE_MODEL = "bench-claude"  # an anthropic backend on the mock's /v1/messages (gateway.yaml)
PROMPT = "Say hello in one short sentence."  # chat.lua's user message
ANTHROPIC_VERSION = "2023-06-01"
# The providers phase's paths, in report order: chat -> openai is the latency phase's figure.
PROVIDER_PATHS = {
    "openai": "chat -> openai",
    "chat_anthropic": "chat -> anthropic",
    "messages_anthropic": "messages -> anthropic",  # POST /v1/messages
}
STREAM_DIRECTIVE = "#mock chunks=20"
TTFT_DIRECTIVE = "#mock chunks=5 inter_ms=1"

GATEWAY_CORE = "0"
LOAD_CORE = "1"
TICK = os.sysconf("SC_CLK_TCK")

TARGETS = {
    "added_p50_ms": 0.6,
    "added_p99_ms": 1.5,
    "added_ttft_ms": 0.6,
    "rps_c64": 3000,
    "streams_c32": 1000,
    "rss_mb": 100,
    # each anthropic path's added c1 p50 minus the openai pass-through's (issue 8)
    "provider_vs_openai_p50_ms": 0.1,
    # c64 requests/s with live-log subscribers attached vs without (issue 9)
    "live_drop_pct": 10.0,
    # c64 requests/s with telemetry exporting every request's spans vs off (issue 12)
    "otel_drop_pct": 10.0,
}


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        sys.exit(f"bench: {name} must be a whole number, got {raw!r}")
    if value < 0:
        sys.exit(f"bench: {name} must be >= 0")
    return value


SECONDS = max(1, env_int("BENCH_SECONDS", 10))
WARMUP = env_int("BENCH_WARMUP", 2)
SKIP_SOAK = os.environ.get("BENCH_SKIP_SOAK", "") not in ("", "0")
SOAK_REQUESTS = max(2, env_int("BENCH_SOAK_REQUESTS", 100_000))
SERVER = os.environ.get("BENCH_SERVER", "uvicorn").strip() or "uvicorn"
JSON_OUT = os.environ.get("BENCH_JSON_OUT", "").strip()
PROFILE = os.environ.get("BENCH_PROFILE", "").strip()
PROFILE_C = max(1, env_int("BENCH_PROFILE_CONNECTIONS", 64))
PROFILE_ARGS = os.environ.get("BENCH_PROFILE_ARGS", "").split()  # e.g. "--gil" or "--idle"
PROFILE_PATH = os.environ.get("BENCH_PROFILE_PATH", "").strip() or "openai"
if PROFILE_PATH not in PROVIDER_PATHS:
    sys.exit(f"bench: BENCH_PROFILE_PATH must be one of {', '.join(PROVIDER_PATHS)}")
QUIET_TIMEOUT = env_int("BENCH_QUIET_TIMEOUT", 60)
ALL_PHASES = ("latency", "providers", "rps", "ttft", "streams", "soak", "live", "otel")
LIVE_SUBSCRIBERS = max(1, env_int("BENCH_LIVE_SUBSCRIBERS", 20))
PHASES = [p.strip() for p in os.environ.get("BENCH_PHASES", ",".join(ALL_PHASES)).split(",")]
if unknown := [p for p in PHASES if p and p not in ALL_PHASES]:
    sys.exit(f"bench: unknown BENCH_PHASES {unknown}; choose from {','.join(ALL_PHASES)}")
NOISE_LIMIT = 5.0  # % of one core used by other processes before a figure is flagged
RETRIES = env_int("BENCH_RETRIES", 2)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# /proc readings -------------------------------------------------------------------------


def cpu_ticks(pid: int) -> int:
    """utime + stime of one process (all its threads), in clock ticks; 0 if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def all_process_ticks() -> dict[int, int]:
    ticks: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            ticks[int(entry)] = cpu_ticks(int(entry))
    return ticks


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it (granian runs its worker as a child)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        parents[int(entry)] = int(text.rsplit(")", 1)[1].split()[1])
    found = [pid]
    frontier = [pid]
    while frontier:
        current = frontier.pop()
        children = [child for child, parent in parents.items() if parent == current]
        found += children
        frontier += children
    return found


def core_times() -> dict[str, tuple[int, int]]:
    """(busy, total) ticks per core from /proc/stat."""
    cores: dict[str, tuple[int, int]] = {}
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu") and line[3:4].isdigit():
            name, *values = line.split()
            numbers = [int(v) for v in values[:8]]
            idle = numbers[3] + numbers[4]
            cores[name[3:]] = (sum(numbers) - idle, sum(numbers))
    return cores


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
            result[f"{role}_cpu_s"] = ticks / TICK
            ours.update(pids)
        other = 0
        for pid, ticks in proc_end.items():
            if pid in ours:
                continue
            # A process that started during the window counts in full; our own load
            # generator is a child that has exited by now, so it is not in proc_end.
            other += max(0, ticks - self.proc_start.get(pid, 0))
        result["other_cpu_pct"] = 100.0 * other / TICK / max(elapsed, 1e-9)
        # Busy time on the cores that no process we saw accounts for: mostly kernel work
        # (loopback softirqs) plus processes that came and went during the window.
        busy = sum(core_end[c][0] - self.core_start.get(c, core_end[c])[0] for c in core_end)
        seen = sum(max(0, t - self.proc_start.get(p, 0)) for p, t in proc_end.items())
        unseen = busy - seen - client * TICK
        result["unattributed_cpu_pct"] = 100.0 * unseen / TICK / max(elapsed, 1e-9)
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


# Processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


# Load generators ------------------------------------------------------------------------


@dataclass
class Target:
    name: str  # "direct" or "gateway"
    port: int
    model: str
    key: str  # sent as a bearer key when set
    path: str = PATH
    body: str = ""  # the whole body, instead of chat.lua's chat body for `model`
    headers: dict[str, str] = field(default_factory=dict)


def run_wrk(
    target: Target,
    connections: int,
    seconds: int,
    *,
    stream: bool = False,
    latency: bool = False,
) -> dict[str, Any]:
    env = dict(os.environ)
    env.update(
        BENCH_KEY=target.key,
        BENCH_MODEL=target.model,
        BENCH_STREAM="1" if stream else "0",
        BENCH_DIRECTIVE=STREAM_DIRECTIVE if stream else "",
        BENCH_BODY=target.body,
        BENCH_HEADERS="\n".join(f"{name}: {value}" for name, value in target.headers.items()),
    )
    argv = ["taskset", "-c", LOAD_CORE, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s"]
    argv += ["--timeout", "10s", "-s", str(LUA)]
    if latency:
        argv.append("--latency")
    argv.append(f"http://127.0.0.1:{target.port}{target.path}")
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    return parse_bench_json("wrk", argv, done)


def run_ttft(target: Target, seconds: int, warmup: int) -> dict[str, Any]:
    argv = ["taskset", "-c", LOAD_CORE, sys.executable, str(TTFT)]
    argv += ["--port", str(target.port), "--model", target.model, "--key", target.key]
    argv += ["--seconds", str(seconds), "--warmup", str(warmup), "--directive", TTFT_DIRECTIVE]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return parse_bench_json("ttft", argv, done)


def parse_bench_json(tool: str, argv: list[str], done: subprocess.CompletedProcess[str]) -> Any:
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            result = json.loads(line[len("BENCH_JSON ") :])
            if tool == "wrk":
                errors = sum(v for k, v in result.items() if k.startswith("err_"))
                result["errors"] = errors
                result["rps"] = result["requests"] / max(result["duration_us"], 1) * 1e6
                if errors:
                    counts = {k: v for k, v in result.items() if k.startswith("err_") and v}
                    log(f"wrk reported errors: {counts}")
            return result
    log(f"{tool} failed (exit {done.returncode}): {' '.join(argv)}")
    print(done.stdout[-2000:], done.stderr[-2000:], file=sys.stderr)
    raise SystemExit(1)


def send(target: Target) -> bytes:
    """`target.body` once, with the headers wrk sends; exits on a non-2xx answer."""
    headers = {"Content-Type": "application/json", **target.headers}
    if target.key:
        headers["Authorization"] = f"Bearer {target.key}"
    request = urllib.request.Request(
        f"http://127.0.0.1:{target.port}{target.path}", data=target.body.encode(), headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return bytes(resp.read())
    except urllib.error.HTTPError as exc:
        reply = exc.read()[:300]
        sys.exit(f"bench: {target.name} {target.path} answered HTTP {exc.code}: {reply!r}")


def anthropic_targets(gateway: Target) -> dict[str, Target]:
    """The gateway side of the two anthropic paths, each with the body wrk sends."""

    def body(**fields: Any) -> str:
        return json.dumps({"model": CLAUDE_MODEL, **fields}, separators=(",", ":"))

    messages = [{"role": "user", "content": PROMPT}]
    return {
        "chat_anthropic": replace(gateway, body=body(messages=messages, max_tokens=32)),
        # as the Anthropic SDK sends it: the key in x-api-key, no Authorization
        "messages_anthropic": replace(
            gateway,
            key="",
            path=MESSAGES_PATH,
            body=body(max_tokens=32, messages=messages),
            headers={"x-api-key": gateway.key, "anthropic-version": ANTHROPIC_VERSION},
        ),
    }


def as_forwarded(gateway: Target, mock_port: int) -> Target:
    """The direct twin of `gateway`: one request through the gateway, then the body, path
    and credentials the mock recorded for it, to be sent to the mock as they are."""
    url = f"http://127.0.0.1:{mock_port}/_mock/requests"
    with urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=10):
        pass
    expect_answer(gateway)
    with urllib.request.urlopen(url, timeout=10) as resp:
        records = json.load(resp)["requests"]
    if len(records) != 1:
        sys.exit(f"bench: expected the mock to see one request, it saw {len(records)}")
    seen = records[0]
    credentials = ("x-api-key", "anthropic-version", "authorization")
    direct = Target(
        "direct",
        mock_port,
        seen["model"],
        "",
        path=seen["path"],
        body=json.dumps(seen["body"], separators=(",", ":"), ensure_ascii=False),
        headers={name: seen["headers"][name] for name in credentials if name in seen["headers"]},
    )
    expect_answer(direct)
    return direct


def expect_answer(target: Target) -> None:
    """`target.body` must be answered with the mock's default text (3 words)."""
    answer = send(target)
    if b'"w0 w1 w2 ' not in answer:
        sys.exit(f"bench: unexpected answer from {target.name} {target.path}: {answer[:300]!r}")


# The benchmark --------------------------------------------------------------------------


class Bench:
    def __init__(self, servers: Servers, gateway_pid: int, mock_pid: int, db_path: Path) -> None:
        self.servers = servers
        self.db_path = db_path
        self.gateway_pid = gateway_pid
        self.mock_pid = mock_pid
        self.results: dict[str, Any] = {}
        self.gateway_requests = 0  # requests the gateway has answered so far (approximate)
        self.soak_errors = 0
        self.helpers: dict[str, int] = {}  # role -> pid of a load-core helper (live phase)

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
            self._count(target, warm)

        def once() -> dict[str, Any]:
            with self.window() as window:
                result = run_wrk(target, connections, SECONDS, **kw)
            self._count(target, result)
            result["cpu"] = window.result
            return result

        return self.quietest(f"{target.name} c{connections}", once)

    def quietest(self, label: str, once: Any) -> dict[str, Any]:
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

    def _count(self, target: Target, result: dict[str, Any]) -> None:
        if target.name == "gateway":
            self.gateway_requests += int(result.get("requests", 0))

    def phase_latency(self, targets: list[Target]) -> None:
        for target in targets:
            log(f"latency c1 non-stream -> {target.name}")
            self.results[f"latency_{target.name}"] = self.measured_wrk(target, 1, latency=True)

    def phase_providers(self, targets: list[Target], mock_port: int) -> None:
        """c1 latency of the two anthropic paths, each direct and through the gateway, next
        to chat -> openai (the latency phase's figure, measured here if it did not run)."""
        if "latency_gateway" not in self.results:
            self.phase_latency(targets)
        for key, gateway in anthropic_targets(targets[-1]).items():
            direct = as_forwarded(gateway, mock_port)
            self.gateway_requests += 1
            for target in (direct, gateway):
                log(f"latency c1 non-stream {PROVIDER_PATHS[key]} -> {target.name}")
                self.results[f"providers_{key}_{target.name}"] = self.measured_wrk(
                    target, 1, latency=True
                )

    def phase_rps(self, targets: list[Target]) -> None:
        for target in targets:
            log(f"throughput c64 non-stream -> {target.name}")
            self.results[f"rps_{target.name}"] = self.measured_wrk(target, 64, latency=True)

    def phase_live(self, gateway: Target, env: dict[str, str]) -> None:
        """c64 through the gateway without, then with, live-log subscribers reading."""
        log("throughput c64 non-stream -> gateway, no live-log subscribers")
        self.results["live_off"] = self.measured_wrk(gateway, 64, latency=True)
        argv = ["taskset", "-c", LOAD_CORE, sys.executable, str(LIVE_TAIL)]
        argv += ["--port", str(gateway.port), "--key", MASTER_KEY]
        argv += ["--count", str(LIVE_SUBSCRIBERS)]
        tails = self.servers.start("live-subscribers", argv, env)
        logfile = self.servers.workdir / "live-subscribers.log"
        deadline = time.monotonic() + 20
        while "ready" not in logfile.read_text() and time.monotonic() < deadline:
            if tails.poll() is not None or "failed" in logfile.read_text():
                sys.exit(f"bench: live subscribers failed: {logfile.read_text()[-2000:]}")
            time.sleep(0.05)
        self.helpers["live"] = tails.pid
        try:
            log(f"throughput c64 non-stream -> gateway, {LIVE_SUBSCRIBERS} live-log subscribers")
            self.results["live_on"] = self.measured_wrk(gateway, 64, latency=True)
        finally:
            del self.helpers["live"]
            with contextlib.suppress(ProcessLookupError):
                os.killpg(tails.pid, signal.SIGTERM)
            tails.wait(10)
        for line in logfile.read_text().splitlines():
            if line.startswith("BENCH_JSON "):
                self.results["live_on"]["subscribers"] = json.loads(line[len("BENCH_JSON ") :])

    def phase_otel(self, gateway: Target, env: dict[str, str]) -> None:
        """c64 through the gateway (telemetry off), then through a twin gateway, alone on the
        gateway core, that exports every request's spans to an OTLP/HTTP sink on the load core."""
        try:
            found = importlib.util.find_spec("opentelemetry.exporter.otlp.proto.http")
        except ModuleNotFoundError:
            found = None
        if found is None:
            log("otel skipped: OpenTelemetry is not installed (pip install -e '.[otel]')")
            return
        log("throughput c64 non-stream -> gateway, telemetry off")
        self.results["otel_off"] = self.measured_wrk(gateway, 64, latency=True)
        workdir = self.servers.workdir
        sink_port, twin_port = free_port(), free_port()
        argv = ["taskset", "-c", LOAD_CORE, sys.executable, str(OTLP_SINK)]
        sink = self.servers.start("otlp-sink", [*argv, "--port", str(sink_port)], env)
        sink_log = workdir / "otlp-sink.log"
        deadline = time.monotonic() + 20
        while "ready" not in sink_log.read_text():
            if sink.poll() is not None or time.monotonic() > deadline:
                self.servers.fail(f"the OTLP sink did not start: {sink_log.read_text()[-2000:]}")
            time.sleep(0.05)
        twin_db = workdir / "bench-otel.db"
        twin_env = {
            **env,
            "BENCH_OTLP_ENDPOINT": f"http://127.0.0.1:{sink_port}",
            "BENCH_DB": str(twin_db),
        }
        argv = ["taskset", "-c", GATEWAY_CORE, *gateway_argv(twin_port)]
        twin = self.servers.start("gateway-otel", argv, twin_env)
        self.servers.wait_healthy("gateway-otel", twin, twin_port)
        target = replace(gateway, name="gateway-otel", port=twin_port)
        sanity_check(target)
        self.helpers.update(gateway_otel=twin.pid, otlp_sink=sink.pid)
        try:
            log("throughput c64 non-stream -> gateway, telemetry on (OTLP/HTTP sink on core 1)")
            self.results["otel_on"] = on = self.measured_wrk(target, 64, latency=True)
        finally:
            self.helpers.pop("gateway_otel", None)
            self.helpers.pop("otlp_sink", None)
            # The twin flushes its queued spans as it stops, then the sink counts them.
            for proc in (twin, sink):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(60)
            self.servers.procs = [p for p in self.servers.procs if p[1] not in (twin, sink)]
        on["cpu"]["gateway_cpu_s"] = on["cpu"].pop("gateway_otel_cpu_s")
        for line in sink_log.read_text().splitlines():
            if line.startswith("BENCH_JSON "):
                on["sink"] = json.loads(line[len("BENCH_JSON ") :])
        with (
            contextlib.suppress(sqlite3.Error),
            contextlib.closing(
                sqlite3.connect(f"file:{twin_db}?mode=ro", uri=True, timeout=5)
            ) as db,
        ):
            # A request span, and one per attempt the log row lists (a request whose client
            # left during its attempt, as wrk does at the end of a run, has none).
            query = "SELECT count(*) + sum(json_array_length(attempts)) FROM request_logs"
            on["expected_spans"] = int(db.execute(query).fetchone()[0])

    def phase_ttft(self, targets: list[Target]) -> None:
        for target in targets:
            log(f"TTFT c1 stream -> {target.name}")

            def once(target: Target = target) -> dict[str, Any]:
                with self.window() as window:
                    result = run_ttft(target, SECONDS, WARMUP)
                result["cpu"] = window.result
                if target.name == "gateway":
                    self.gateway_requests += int(result["count"]) + int(result["warmup_count"])
                return result

            self.results[f"ttft_{target.name}"] = self.quietest(f"ttft {target.name}", once)

    def phase_streams(self, targets: list[Target]) -> None:
        for target in targets:
            log(f"streams c32, 20 chunks -> {target.name}")
            self.results[f"streams_{target.name}"] = self.measured_wrk(
                target, 32, stream=True, latency=True
            )

    def phase_profile(self, gateway: Target) -> None:
        found = BIN / "py-spy" if (BIN / "py-spy").exists() else shutil.which("py-spy")
        if found is None:
            log("BENCH_PROFILE: py-spy is not installed in the venv nor on PATH; skipped")
            return
        py_spy = Path(found)
        if PROFILE_PATH != "openai":
            gateway = anthropic_targets(gateway)[PROFILE_PATH]
        log(
            f"profiling the gateway ({PROVIDER_PATHS[PROFILE_PATH]}) under c{PROFILE_C} for "
            f"{SECONDS}s -> {PROFILE}"
        )
        argv = ["taskset", "-c", LOAD_CORE, str(py_spy), "record", "--nonblocking"]
        fmt = "speedscope"
        if PROFILE.endswith(".svg"):
            fmt = "flamegraph"
        elif PROFILE.endswith((".txt", ".folded")):
            fmt = "raw"  # collapsed stacks, one line per stack with its sample count
        argv += ["--format", fmt, "-o", PROFILE, "-d", str(SECONDS)]
        argv += ["-r", "250", "-p", str(self.gateway_pid), *PROFILE_ARGS]
        if SERVER == "granian":
            argv.append("--subprocesses")
        spy = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.5)  # let py-spy attach before the load starts; it runs for SECONDS
        run_wrk(gateway, PROFILE_C, SECONDS)
        try:
            _, err = spy.communicate(timeout=SECONDS + 30)
        except subprocess.TimeoutExpired:
            spy.kill()
            _, err = spy.communicate()
        if spy.returncode != 0:
            log(f"py-spy failed: {err.decode(errors='replace').strip()[-500:]}")

    def log_rows(self) -> int | None:
        """Rows in the gateway's request log (SQLite in the work dir), or None if unreadable.

        Compared with the requests answered, this shows whether the log writer keeps up: a
        growing difference is a backlog held in memory, which the RSS figures then include.
        """
        try:
            with contextlib.closing(
                sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=5)
            ) as db:
                return int(db.execute("SELECT count(*) FROM request_logs").fetchone()[0])
        except sqlite3.Error:
            return None

    def phase_soak(self, gateway: Target) -> None:
        """VmRSS at 0, half and all of SOAK_REQUESTS, counted from wrk's own totals.

        wrk cannot stop at a request count (its main thread sleeps for -d whatever the
        threads do), so the soak is a series of short c64 runs sized from the rate seen so
        far; each checkpoint is taken once at least that many requests were answered.
        """
        log(f"soak: {SOAK_REQUESTS:,} non-stream requests at c64 through the gateway")
        wait_quiet("soak")
        points = [(0, self.rss_kb())]
        backlog: list[tuple[int, int | None]] = [(self.gateway_requests, self.log_rows())]
        served = 0
        rate = 0.0
        started = time.perf_counter()
        for goal in (SOAK_REQUESTS // 2, SOAK_REQUESTS):
            while served < goal:
                remaining = goal - served
                # Sized from the last run's own rate, rounded down: a short top-up run
                # beats overshooting the checkpoint by seconds of requests.
                seconds = 2 if rate == 0 else max(1, min(30, math.floor(remaining / rate)))
                result = run_wrk(gateway, 64, seconds)
                if result["errors"]:
                    self.soak_errors += int(result["errors"])
                served += int(result["requests"])
                self.gateway_requests += int(result["requests"])
                rate = float(result["rps"])
                self.servers.check_alive()
            points.append((served, self.rss_kb()))
            rows = self.log_rows()
            backlog.append((self.gateway_requests, rows))
            log(
                f"soak: {served:,} requests, VmRSS {points[-1][1] / 1024:.1f} MB"
                + (f", request-log rows {rows:,} of ~{self.gateway_requests:,}" if rows else "")
            )
        elapsed = time.perf_counter() - started
        self.results["soak"] = {
            "points": points,
            "rps": served / elapsed,
            "errors": self.soak_errors,
            # (requests answered so far, rows in request_logs) at each checkpoint
            "log_rows": backlog,
            "total_gateway_requests": self.gateway_requests,
        }


# Report ---------------------------------------------------------------------------------


def ms(us: float) -> str:
    return f"{us / 1000:.3f}"


def short(count: int) -> str:
    """A request count as the soak labels show it: 0, 50k, 100k."""
    return f"{round(count / 1000)}k" if count >= 1000 else str(count)


def flag(*results: dict[str, Any]) -> str:
    noisy = any(r.get("noise_pct", 0.0) > NOISE_LIMIT for r in results)
    errors = any(r.get("errors", 0) for r in results)
    return ("!" if noisy else "") + ("E" if errors else "")


def verdict(ok: bool, value: float, limit: float, unit: str, higher_is_better: bool) -> str:
    if ok:
        return "PASS"
    miss = (limit - value) if higher_is_better else (value - limit)
    pct = 100.0 * miss / limit if limit else 0.0
    return f"MISS by {miss:,.{0 if unit == '' else 3}f}{unit} ({pct:.0f}%)"


def report(results: dict[str, Any], meta: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    row = "{:<40} {:>12} {:>14} {:>10}  {:<16} {}"
    lines.append(row.format("metric", "direct", "gateway", "added", "target", "verdict"))
    lines.append("-" * 120)
    summary: dict[str, Any] = {}

    lat_d, lat_g = results.get("latency_direct"), results.get("latency_gateway")
    if lat_d and lat_g:
        for p, limit in (("p50", TARGETS["added_p50_ms"]), ("p99", TARGETS["added_p99_ms"])):
            added = (lat_g[f"{p}_us"] - lat_d[f"{p}_us"]) / 1000
            summary[f"added_{p}_ms"] = added
            lines.append(
                row.format(
                    f"c1 non-stream latency {p} (ms)" + flag(lat_d, lat_g),
                    ms(lat_d[f"{p}_us"]),
                    ms(lat_g[f"{p}_us"]),
                    f"{added:+.3f}",
                    f"added <= {limit}",
                    verdict(added <= limit, added, limit, " ms", False),
                )
            )
    lines += provider_rows(results, row, summary)
    lines += live_rows(results, row, summary)
    lines += otel_rows(results, row, summary)
    rps_d, rps_g = results.get("rps_direct"), results.get("rps_gateway")
    if rps_d and rps_g:
        limit = TARGETS["rps_c64"]
        summary["rps_c64"] = rps_g["rps"]
        lines.append(
            row.format(
                "c64 non-stream requests/s" + flag(rps_d, rps_g),
                f"{rps_d['rps']:,.0f}",
                f"{rps_g['rps']:,.0f}",
                "",
                f">= {limit:,}",
                verdict(rps_g["rps"] >= limit, rps_g["rps"], limit, "", True),
            )
        )
        lines.append(
            row.format(
                "c64 non-stream latency p50 / p99 (ms)",
                f"{ms(rps_d['p50_us'])}/{ms(rps_d['p99_us'])}",
                f"{ms(rps_g['p50_us'])}/{ms(rps_g['p99_us'])}",
                "",
                "",
                "",
            )
        )
    tt_d, tt_g = results.get("ttft_direct"), results.get("ttft_gateway")
    if tt_d and tt_g:
        limit = TARGETS["added_ttft_ms"]
        for p in ("p50", "p99"):
            added = (tt_g[f"{p}_us"] - tt_d[f"{p}_us"]) / 1000
            summary[f"added_ttft_{p}_ms"] = added
            lines.append(
                row.format(
                    f"c1 stream TTFT {p} (ms), n={tt_g['count']}" + flag(tt_d, tt_g),
                    ms(tt_d[f"{p}_us"]),
                    ms(tt_g[f"{p}_us"]),
                    f"{added:+.3f}",
                    f"added <= {limit}" if p == "p50" else "",
                    verdict(added <= limit, added, limit, " ms", False) if p == "p50" else "",
                )
            )
    st_d, st_g = results.get("streams_direct"), results.get("streams_gateway")
    if st_d and st_g:
        limit = TARGETS["streams_c32"]
        summary["streams_c32"] = st_g["rps"]
        lines.append(
            row.format(
                "c32 streams/s (20 chunks)" + flag(st_d, st_g),
                f"{st_d['rps']:,.0f}",
                f"{st_g['rps']:,.0f}",
                "",
                f">= {limit:,}",
                verdict(st_g["rps"] >= limit, st_g["rps"], limit, "", True),
            )
        )
    if rps_g:
        cpu = rps_g["cpu"]["gateway_cpu_s"] / max(rps_g["requests"], 1) * 1000
        summary["cpu_s_per_1k_requests"] = cpu
        lines.append(row.format("gateway CPU s / 1k requests (c64)", "", f"{cpu:.3f}", "", "", ""))
    if st_g:
        cpu = st_g["cpu"]["gateway_cpu_s"] / max(st_g["requests"], 1) * 1000
        summary["cpu_s_per_1k_streams"] = cpu
        lines.append(row.format("gateway CPU s / 1k streams (c32)", "", f"{cpu:.3f}", "", "", ""))
    start_mb = f"{meta['rss_start_kb'] / 1024:.1f}"
    lines.append(row.format("gateway RSS after start-up (MB)", "", start_mb, "", "", ""))
    soak = results.get("soak")
    limit = TARGETS["rss_mb"]
    if soak:
        points = soak["points"]
        text = " / ".join(f"{kb / 1024:.1f}" for _, kb in points)
        last_mb = points[-1][1] / 1024
        growth = (points[-1][1] - points[1][1]) / 1024
        flat = abs(growth) <= 2.0
        summary["rss_soak_mb"] = [kb / 1024 for _, kb in points]
        lines.append(
            row.format(
                "RSS at soak "
                + " / ".join(short(n) for n in (0, SOAK_REQUESTS // 2, SOAK_REQUESTS))
                + " (MB)",
                "",
                text,
                f"{growth:+.1f}",
                f"<= {limit}, flat",
                verdict(last_mb <= limit and flat, last_mb, limit, " MB", False)
                + ("" if flat else " (not flat: grew in the second half)"),
            )
        )
    hwm = meta["rss_peak_kb"] / 1024
    summary["rss_peak_mb"] = hwm
    lines.append(
        row.format(
            "gateway peak RSS, VmHWM (MB)",
            "",
            f"{hwm:.1f}",
            "",
            f"<= {limit}",
            verdict(hwm <= limit, hwm, limit, " MB", False),
        )
    )
    lines.append("")
    lines += bottleneck_notes(results)
    if soak:
        lines.append(
            f"soak: {soak['points'][-1][0]:,} requests at {soak['rps']:,.0f} req/s, RSS read after "
            + " / ".join(f"{n:,}" for n, _ in soak["points"])
            + f" requests; the gateway had answered {soak['total_gateway_requests']:,} requests "
            "in all by its end (warm-ups and earlier phases included)"
            + (f"; ERRORS: {soak['errors']:,}" if soak["errors"] else "")
        )
        rows = [(n, r) for n, r in soak.get("log_rows", []) if r is not None]
        if rows:
            lines.append(
                "request log: rows in the database / requests answered at the soak checkpoints: "
                + ", ".join(f"{r:,}/{n:,}" for n, r in rows)
                + f" (backlog held in memory at the end: ~{max(0, rows[-1][0] - rows[-1][1]):,})"
            )
    lines.append(
        "flags: ! = other processes used > 5% of a core during the run; "
        "E = the load generator saw errors or non-2xx answers"
    )
    results["summary"] = summary
    return lines


def provider_rows(results: dict[str, Any], row: str, summary: dict[str, Any]) -> list[str]:
    """Added c1 p50 / p99 per provider path, then each anthropic path's added p50 against
    the openai pass-through's (target: at most TARGETS["provider_vs_openai_p50_ms"] more)."""
    if not any(f"providers_{key}_gateway" in results for key in PROVIDER_PATHS):
        return []
    lines: list[str] = []
    added: dict[str, float] = {}
    for key, label in PROVIDER_PATHS.items():
        phase = "latency" if key == "openai" else f"providers_{key}"
        direct, gateway = results.get(f"{phase}_direct"), results.get(f"{phase}_gateway")
        if not (direct and gateway):
            continue
        for p in ("p50", "p99"):
            value = (gateway[f"{p}_us"] - direct[f"{p}_us"]) / 1000
            summary[f"providers_{key}_added_{p}_ms"] = value
            if p == "p50":
                added[key] = value
            lines.append(
                row.format(
                    f"c1 {label} {p} (ms)" + flag(direct, gateway),
                    ms(direct[f"{p}_us"]),
                    ms(gateway[f"{p}_us"]),
                    f"{value:+.3f}",
                    "",
                    "",
                )
            )
        cpu_ms = gateway["cpu"]["gateway_cpu_s"] / max(gateway["requests"], 1) * 1000
        summary[f"providers_{key}_cpu_ms_per_request"] = cpu_ms
        lines.append(row.format(f"c1 {label} CPU/req (ms)", "", f"{cpu_ms:.3f}", "", "", ""))
    limit = TARGETS["provider_vs_openai_p50_ms"]
    for key, label in PROVIDER_PATHS.items():
        if key == "openai" or key not in added or "openai" not in added:
            continue
        diff = added[key] - added["openai"]
        summary[f"providers_{key}_vs_openai_p50_ms"] = diff
        lines.append(
            row.format(
                f"c1 {label} vs openai p50",
                "",
                "",
                f"{diff:+.3f}",
                f"<= +{limit} ms",
                verdict(diff <= limit, diff, limit, " ms", False),
            )
        )
    return lines


def drop_rows(
    off: dict[str, Any],
    on: dict[str, Any],
    row: str,
    summary: dict[str, Any],
    key: str,
    label: str,
    cpu_label: str,
) -> list[str]:
    """c64 requests/s of two runs (in the direct and gateway columns) with the drop in % against
    TARGETS[f"{key}_drop_pct"], then the gateway's CPU per request in both."""
    drop = 100 * (1 - on["rps"] / max(off["rps"], 1e-9))
    limit = TARGETS[f"{key}_drop_pct"]
    summary[f"{key}_drop_pct"] = drop
    cpu = [r["cpu"]["gateway_cpu_s"] / max(r["requests"], 1) * 1000 for r in (off, on)]
    summary[f"{key}_cpu_ms_per_request"] = cpu
    return [
        row.format(
            f"c64 req/s, {label}" + flag(off, on),
            f"{off['rps']:,.0f}",
            f"{on['rps']:,.0f}",
            f"{-drop:+.1f}%",
            f"drop <= {limit:g}%",
            verdict(drop <= limit, drop, limit, "%", False),
        ),
        row.format(f"c64 gateway CPU/req (ms), {cpu_label}", f"{cpu[0]:.3f}", f"{cpu[1]:.3f}",
                   f"{100 * (cpu[1] / max(cpu[0], 1e-9) - 1):+.1f}%", "", ""),
    ]  # fmt: skip


def live_rows(results: dict[str, Any], row: str, summary: dict[str, Any]) -> list[str]:
    """c64 gateway requests/s without and with live-log subscribers (in the direct and
    gateway columns), the drop in %, and what the subscribers received."""
    off, on = results.get("live_off"), results.get("live_on")
    if not (off and on):
        return []
    lines = drop_rows(
        off, on, row, summary, "live", f"0 vs {LIVE_SUBSCRIBERS} live subs", "0 vs live subs"
    )
    subscribers = on.get("subscribers")
    if subscribers:
        events = subscribers["events"]
        lines.append(
            f"  live subscribers: {min(events):,}-{max(events):,} events each, "
            f"{sum(subscribers['bytes']) / 1e6:,.1f} MB in all, {subscribers['ended']} cut off"
        )
    return lines


def otel_rows(results: dict[str, Any], row: str, summary: dict[str, Any]) -> list[str]:
    """c64 requests/s with telemetry off and on (in the direct and gateway columns), the
    drop in %, CPU per request, and how many of the spans the sink received."""
    off, on = results.get("otel_off"), results.get("otel_on")
    if not (off and on):
        return []
    lines = drop_rows(off, on, row, summary, "otel", "telemetry off vs on", "otel off vs on")
    sink, expected = on.get("sink"), on.get("expected_spans")
    if sink and expected:
        summary["otel_spans"] = [sink["spans"], expected]
        lines.append(
            f"  otel sink: {sink['spans']:,} spans of {expected:,} expected (the twin's request-"
            f"log rows and their attempts) in {sink['batches']:,} batches, "
            f"{sink['bytes'] / 1e6:,.1f} MB"
        )
    return lines


def bottleneck_notes(results: dict[str, Any]) -> list[str]:
    notes: list[str] = []
    for phase, label in (("rps", "c64 non-stream"), ("streams", "c32 streams")):
        direct, gateway = results.get(f"{phase}_direct"), results.get(f"{phase}_gateway")
        if not (direct and gateway):
            continue
        cpu_g = gateway["cpu"]
        core0, core1 = cpu_g.get("core0_busy_pct", 0), cpu_g.get("core1_busy_pct", 0)
        mock_share = 100 * gateway["rps"] / max(direct["rps"], 1)
        notes.append(
            f"{label}: during the gateway run core 0 (gateway) was {core0:.0f}% busy, core 1 "
            f"(mock + wrk) {core1:.0f}%; gateway {cpu_g['gateway_cpu_s']:.1f} s CPU, "
            f"mock {cpu_g['mock_cpu_s']:.1f} s, wrk {cpu_g['client_cpu_s']:.1f} s, other "
            f"processes {gateway['noise_pct']:.1f}% of a core."
        )
        if core1 >= 95 and core0 < 90:
            notes.append(
                f"  -> BOTTLENECK: core 1 (mock + wrk) is saturated while the gateway's core has "
                f"{100 - core0:.0f}% idle; the gateway figure is a lower bound (the direct run "
                f"shows mock + wrk alone top out at {direct['rps']:,.0f}/s)."
            )
        elif core0 >= 90:
            notes.append(
                f"  -> the gateway's core is the limit; mock + wrk reach {direct['rps']:,.0f}/s "
                f"alone, so the gateway runs at {mock_share:.0f}% of the mock's capacity."
            )
        else:
            notes.append("  -> neither core saturated: latency-bound (connections x round trip).")
    return notes


# Main -----------------------------------------------------------------------------------


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


def sanity_check(target: Target) -> None:
    """One non-stream and one stream request must succeed before anything is measured."""
    for stream in (False, True):
        body = json.dumps(
            {
                "model": target.model,
                "messages": [{"role": "user", "content": "hello #mock chunks=2"}],
                "stream": stream,
            }
        )
        payload = send(replace(target, body=body))
        ok = b"data: [DONE]" in payload if stream else b'"w0 w1 "' in payload
        if not ok:
            sys.exit(f"bench: unexpected answer from {target.name}: {payload[:300]!r}")


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


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    revision = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "revision": revision or "unknown",
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "server": SERVER,
        "seconds": SECONDS,
        "warmup": WARMUP,
    }


def main() -> None:
    if (os.cpu_count() or 1) < 2:
        sys.exit("bench: needs at least 2 CPU cores (gateway on core 0, load on core 1)")
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"bench: {tool} not found on PATH (apt-get install wrk util-linux)")
    meta = machine()
    log(
        f"{meta['cpus']} cores, {meta['cpu_model'] or 'unknown CPU'}; server={SERVER}, "
        f"{SECONDS}s runs after {WARMUP}s warm-up"
    )
    # Pin the runner itself to the load core so it never steals from the gateway.
    os.sched_setaffinity(0, {int(LOAD_CORE)})
    mock_port, gateway_port = free_port(), free_port()
    while gateway_port == mock_port:
        gateway_port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="sluicegate-bench-"))
    servers = Servers(workdir)
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
    log(f"servers import {imported_from(env, workdir)}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        mock = servers.start(
            "mock",
            ["taskset", "-c", LOAD_CORE, str(BIN / "sluicegate"), "mock-upstream", "--port",
             str(mock_port)],
            env,
        )  # fmt: skip
        servers.wait_healthy("mock", mock, mock_port)
        gateway = servers.start(
            "gateway", ["taskset", "-c", GATEWAY_CORE, *gateway_argv(gateway_port)], env
        )
        servers.wait_healthy("gateway", gateway, gateway_port)
        direct_t = Target("direct", mock_port, MOCK_MODEL, USER_KEY)
        gateway_t = Target("gateway", gateway_port, GATEWAY_MODEL, USER_KEY)
        sanity_check(direct_t)
        sanity_check(gateway_t)
        bench = Bench(servers, gateway.pid, mock.pid, Path(env["BENCH_DB"]))
        bench.gateway_requests = 2  # the sanity check's two requests
        meta["rss_start_kb"] = bench.rss_kb()
        meta["gateway_processes"] = len(bench.gateway_pids())
        log(
            f"mock on 127.0.0.1:{mock_port} (core {LOAD_CORE}), gateway on 127.0.0.1:"
            f"{gateway_port} (core {GATEWAY_CORE}), RSS {meta['rss_start_kb'] / 1024:.1f} MB"
        )
        targets = [direct_t, gateway_t]
        if "latency" in PHASES:
            bench.phase_latency(targets)
        if "providers" in PHASES:
            bench.phase_providers(targets, mock_port)
        if "rps" in PHASES:
            bench.phase_rps(targets)
        if PROFILE:
            bench.phase_profile(gateway_t)
        if "ttft" in PHASES:
            bench.phase_ttft(targets)
        if "streams" in PHASES:
            bench.phase_streams(targets)
        if SKIP_SOAK:
            log("soak skipped (BENCH_SKIP_SOAK=1)")
        elif "soak" in PHASES:
            bench.phase_soak(gateway_t)
        meta["rss_peak_kb"] = bench.rss_kb("VmHWM")
        meta["rss_end_kb"] = bench.rss_kb()
        # Last: its first admin request loads the admin app (~11 MB), after the RSS figures.
        if "live" in PHASES:
            bench.phase_live(gateway_t, env)
        if "otel" in PHASES:
            bench.phase_otel(gateway_t, env)
    except KeyboardInterrupt:
        log("interrupted")
        raise SystemExit(130) from None
    finally:
        servers.stop()
    lines = report(bench.results, meta)
    print()
    print(
        f"sluicegate benchmark, {meta['date']}, {meta['cpus']} cores ({meta['cpu_model']}), "
        f"server={SERVER}, {SECONDS}s runs, revision {meta['revision']}"
    )
    print("\n".join(lines))
    if JSON_OUT:
        Path(JSON_OUT).write_text(json.dumps({"meta": meta, **bench.results}, indent=2))
        log(f"figures written to {JSON_OUT}")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
