"""Capacity figures for docs/deployment.md (`make bench-capacity`): what one request costs the
shared services and the gateway, counted on real servers on loopback.

    PostgreSQL (scripts/postgres.sh) ─┐
    redis-server (its own, here)      ├─ one gateway (one worker, PostgreSQL + Redis, a user
    mock upstream                    ─┘  with RPM, TPM and a budget) ◄── this script's client

Prints, per non-stream request and per 20-chunk stream: Redis commands (from INFO
commandstats, by command), PostgreSQL transactions and rows (pg_stat_database), gateway CPU;
the gateway's memory per open stream (RSS with 500 streams held open, minus idle); and the
throughput of the limit scripts on one Redis (64 concurrent clients doing admit + charge, the
two scripts every request runs), with the Redis process's CPU per 1,000 requests, from which
the single-node ceiling follows. Counts are exact; times and rates depend on the machine.

    python scripts/bench_capacity.py [--requests 2000] [--streams 300] [--held 500]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import redis.asyncio as redis

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "scripts" / "bench")]

from procstat import cpu_seconds, free_port, rss_mb  # noqa: E402

from sluicegate.limits.store import RedisLimitStore  # noqa: E402
from sluicegate.limits.verdict import Scope  # noqa: E402

KEY = "sk-capacity-user-000000000000"
MASTER = "sk-capacity-master-0000000000"


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"{url} did not answer in {timeout}s")


class Services:
    """PostgreSQL (a fresh database), redis-server, the mock and the gateway."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        done = subprocess.run(
            ["bash", str(ROOT / "scripts" / "postgres.sh")],
            capture_output=True,
            text=True,
            check=True,
        )
        server = done.stdout.strip().splitlines()[-1]
        self.pg_dsn = server.replace("postgresql+asyncpg://", "postgresql://")
        self.database = f"capacity_{os.getpid()}"
        asyncio.run(self._pg(f'CREATE DATABASE "{self.database}"', database="sluicegate"))
        database_url = server.rsplit("/", 1)[0] + "/" + self.database
        redis_port, mock_port, self.port = free_port(), free_port(), free_port()
        binary = shutil.which("redis-server")
        if not binary:
            raise SystemExit("redis-server is required (scripts/test-deps.sh installs it)")
        self.redis = self._spawn(
            [binary, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", *self._nodisk]
        )
        self.redis_url = f"redis://127.0.0.1:{redis_port}/0"
        self._spawn([sys.executable, "-m", "sluicegate", "mock-upstream", "--port", str(mock_port)])
        config = self.workdir / "gateway.yaml"
        config.write_text(
            f"""
server: {{host: 127.0.0.1, master_key: {MASTER}}}
database: {{url: "{database_url}"}}
redis: {{url: "{self.redis_url}"}}
backends:
  - {{name: mock, type: openai, base_url: "http://127.0.0.1:{mock_port}/v1", max_retries: 0}}
models:
  - name: m
    targets: [{{backend: mock, model: mock-model}}]
    pricing: {{input_per_mtok: 0.15, output_per_mtok: 0.60}}
users:
  - {{name: capacity, api_keys: [{KEY}], models: ["*"], rpm: 100000000, tpm: 2000000000,
      budget_usd: 1000000000}}
"""
        )
        wait_http(f"http://127.0.0.1:{mock_port}/v1/models")
        self.gateway = self._spawn(
            [
                sys.executable,
                "-m",
                "sluicegate",
                "serve",
                "--config",
                str(config),
                "--port",
                str(self.port),
            ]
        )
        wait_http(f"http://127.0.0.1:{self.port}/health/ready")

    @property
    def _nodisk(self) -> list[str]:
        return ["--appendonly", "no", "--dir", str(self.workdir)]

    def _spawn(self, argv: list[str]) -> subprocess.Popen[bytes]:
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        process = subprocess.Popen(
            argv, cwd=self.workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.processes.append(process)
        return process

    async def _pg(self, statement: str, database: str | None = None) -> Any:
        dsn = self.pg_dsn.rsplit("/", 1)[0] + "/" + (database or self.database)
        conn = await asyncpg.connect(dsn)
        try:
            return await conn.fetch(statement)
        finally:
            await conn.close()

    def pg_counters(self) -> dict[str, int]:
        rows = asyncio.run(
            self._pg(
                "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted"
                f" FROM pg_stat_database WHERE datname = '{self.database}'"
            )
        )
        return dict(rows[0])

    def log_rows(self) -> int:
        return int(asyncio.run(self._pg("SELECT count(*) AS n FROM request_logs"))[0]["n"])

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        asyncio.run(
            self._pg(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)', "sluicegate")
        )


async def redis_commandstats(url: str, reset: bool = False) -> dict[str, int]:
    client = redis.Redis.from_url(url)
    try:
        if reset:
            await client.config_resetstat()
            return {}
        stats = await client.info("commandstats")
        return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}
    finally:
        await client.aclose()


async def drive(port: int, count: int, stream: bool, concurrency: int = 8) -> None:
    body: dict[str, Any] = {
        "model": "m",
        "messages": [
            {"role": "user", "content": "capacity" + (" #mock chunks=20" if stream else "")}
        ],
    }
    if stream:
        body["stream"] = True
    headers = {"authorization": f"Bearer {KEY}"}
    queue = iter(range(count))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:

        async def worker() -> None:
            for _ in queue:
                response = await client.post("/v1/chat/completions", json=body, headers=headers)
                assert response.status_code == 200, response.text

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def per_request(services: Services, count: int, stream: bool) -> dict[str, Any]:
    before_rows = services.log_rows()
    asyncio.run(redis_commandstats(services.redis_url, reset=True))
    pg_before = services.pg_counters()
    cpu_before = cpu_seconds(services.gateway.pid)
    asyncio.run(drive(services.port, count, stream))
    cpu = cpu_seconds(services.gateway.pid) - cpu_before
    deadline = time.monotonic() + 30
    while services.log_rows() < before_rows + count and time.monotonic() < deadline:
        time.sleep(0.1)
    # pg_stat_database lags: a backend reports its counters when it goes idle (up to ~10 s
    # later). Wait until two reads a second apart agree.
    pg_after, deadline = services.pg_counters(), time.monotonic() + 20
    while time.monotonic() < deadline:
        time.sleep(1.0)
        again = services.pg_counters()
        if again == pg_after and again["tup_inserted"] - pg_before["tup_inserted"] >= count:
            break
        pg_after = again
    commands = asyncio.run(redis_commandstats(services.redis_url))
    commands.pop("config|resetstat", None)
    commands.pop("info", None)
    return {
        "redis": {k: v / count for k, v in sorted(commands.items())},
        "pg": {k: (pg_after[k] - pg_before[k]) / count for k in pg_after},
        "cpu_ms": 1000 * cpu / count,
    }


async def hold_streams(port: int, count: int, pid: int) -> float:
    """RSS growth (MB) with `count` slow streams open, each having sent its first chunk."""
    headers = {"authorization": f"Bearer {KEY}"}
    body = {
        "model": "m",
        "stream": True,
        "messages": [{"role": "user", "content": "hold #mock chunks=20 inter_ms=1000"}],
    }
    limits = httpx.Limits(max_connections=count + 10, max_keepalive_connections=count + 10)
    idle = rss_mb(pid)
    started = 0
    all_started = asyncio.Event()
    release = asyncio.Event()
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", timeout=60, limits=limits
    ) as client:

        async def one() -> None:
            nonlocal started
            async with client.stream(
                "POST", "/v1/chat/completions", json=body, headers=headers
            ) as r:
                async for _ in r.aiter_lines():
                    break
                started += 1
                if started == count:
                    all_started.set()
                await release.wait()

        tasks = [asyncio.create_task(one()) for _ in range(count)]
        await asyncio.wait_for(all_started.wait(), 60)
        held = rss_mb(pid)
        release.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return held - idle


async def limit_throughput(url: str, redis_pid: int, seconds: float) -> tuple[float, float]:
    """(requests/s, Redis CPU ms per 1,000 requests) for admit + charge from 64 clients."""
    stores = [RedisLimitStore(url) for _ in range(8)]
    scopes = [Scope("user", 10**9, 10**12), Scope("model:m", 10**9, 10**12)]
    done = 0
    stop = time.monotonic() + seconds

    async def client(index: int) -> None:
        nonlocal done
        store = stores[index % len(stores)]
        user = f"user-{index}"
        while time.monotonic() < stop:
            await store.admit(user, scopes, 10.0**9, "budget:month:capacity")
            await store.charge(user, scopes, 100, 0.0001, "budget:month:capacity", 3600)
            done += 1

    cpu_before = cpu_seconds(redis_pid)
    started = time.monotonic()
    await asyncio.gather(*(client(i) for i in range(64)))
    elapsed = time.monotonic() - started
    cpu = cpu_seconds(redis_pid) - cpu_before
    for store in stores:
        await store.close()
    return done / elapsed, 1_000_000 * cpu / done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--streams", type=int, default=300)
    parser.add_argument("--held", type=int, default=500)
    parser.add_argument("--redis-seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sluicegate-capacity-") as workdir:
        services = Services(Path(workdir))
        services.start()
        try:
            asyncio.run(drive(services.port, 100, False))  # warm-up, not counted
            chat = per_request(services, args.requests, stream=False)
            streams = per_request(services, args.streams, stream=True)
            held = asyncio.run(hold_streams(services.port, args.held, services.gateway.pid))
            rate, redis_cpu = asyncio.run(
                limit_throughput(services.redis_url, services.redis.pid, args.redis_seconds)
            )
        finally:
            services.stop()
    for name, figures in (("non-stream request", chat), ("20-chunk stream", streams)):
        print(f"per {name}:")
        print("  redis commands: " + ", ".join(f"{k} {v:.2f}" for k, v in figures["redis"].items()))
        print("  postgresql: " + ", ".join(f"{k} {v:.2f}" for k, v in figures["pg"].items()))
        print(f"  gateway CPU: {figures['cpu_ms']:.3f} ms")
    print(f"gateway RSS per 1,000 open streams: {1000 * held / args.held:.1f} MB")
    print(
        f"limit scripts on one redis-server (64 clients, admit + charge): {rate:,.0f} requests/s,"
        f" redis CPU {redis_cpu:.3f} ms per 1,000 requests"
        f" -> one Redis core saturates at about {1_000_000 / redis_cpu:,.0f} requests/s"
    )


if __name__ == "__main__":
    main()
