"""The multi-instance topology as real processes on loopback: a private PostgreSQL cluster and
redis-server (private, so the fault tests can stop and restart them without touching the
servers other tests share), two `sluicegate serve --workers 2` instances and nginx in front
with `deploy/nginx.conf`."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from support import ROOT, free_port, wait_for_http, wait_until

MASTER = "sk-master-topology"


def _pg_ready(url: str) -> bool:
    import asyncio

    import asyncpg
    from sqlalchemy.engine import make_url

    parts = make_url(url)

    async def ping() -> bool:
        try:
            conn = await asyncpg.connect(
                host=parts.host,
                port=parts.port,
                user=parts.username,
                password=parts.password,
                database=parts.database,
                timeout=2,
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return False
        await conn.close()
        return True

    return asyncio.run(ping())


def _rows(url: str, request_ids: list[str]) -> dict[str, list[int]]:
    import asyncio

    import asyncpg
    from sqlalchemy.engine import make_url

    parts = make_url(url)

    async def read() -> dict[str, list[int]]:
        conn = await asyncpg.connect(
            host=parts.host,
            port=parts.port,
            user=parts.username,
            password=parts.password,
            database=parts.database,
        )
        try:
            found: dict[str, list[int]] = {}
            for row in await conn.fetch(
                "SELECT request_id, status_code FROM request_logs WHERE request_id = ANY($1)",
                request_ids,
            ):
                found.setdefault(row["request_id"], []).append(row["status_code"])
            return found
        finally:
            await conn.close()

    return asyncio.run(read())


class Postgres:
    """A cluster of its own (`scripts/postgres.sh DIR PORT`), stopped and started in place."""

    def __init__(self) -> None:
        # Not under pytest's folder: that is private to root, and the server runs as postgres.
        self.folder = Path(tempfile.mkdtemp(prefix="sluicegate-topology-pg-"))
        self.port = free_port()
        self.url = self.start()

    def _script(self, *args: str) -> str:
        done = subprocess.run(
            ["bash", str(ROOT / "scripts" / "postgres.sh"), *args],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""

    def start(self) -> str:
        url = self._script(str(self.folder), str(self.port))
        wait_until(lambda: _pg_ready(url), 30, 0.1)
        return url

    def stop(self) -> None:
        self._script("stop", str(self.folder))

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
        Path(f"{self.folder}.lock").unlink(missing_ok=True)


class Redis:
    """redis-server on a fixed port, so a restart comes back at the same address."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder / "redis", free_port()
        self.folder.mkdir()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is required (make test installs it: scripts/test-deps.sh)"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]  # noqa: RUF005
            + ["--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL,
        )
        wait_until(self.ping, 20, 0.05)

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=1).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


class Instance:
    """`sluicegate serve --workers 2`, in a session of its own (its process group is the
    supervisor and its workers); output goes to `log` for the tests that read warnings."""

    def __init__(self, name: str, config: Path, folder: Path) -> None:
        self.name, self.config, self.port = name, config, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / f"{name}.log"
        self.cwd = folder
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.spawn()
        self.wait_ready()

    def spawn(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "sluicegate", "serve", "--config", str(self.config)]  # noqa: RUF005
                + ["--port", str(self.port), "--workers", "2"],
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", "GW": self.name},
                start_new_session=True,
            )

    def wait_ready(self) -> None:
        def ready() -> bool:
            assert self.process is not None and self.process.poll() is None, self.log_text()
            try:
                return httpx.get(self.url + "/health/ready", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, 60, 0.1)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def terminate(self) -> int:
        """SIGTERM to the supervisor (what `kill PID` or an orchestrator does): drain, exit."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(60)
        self.process = None
        return code

    def kill(self) -> None:
        """kill -9 of the whole instance, supervisor and workers: a crash of the machine or
        container it runs in."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self.process = None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


NGINX_MAIN = """
daemon off;
master_process on;
worker_processes 2;
{user}
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    log_format topology '$http_x_request_id|$status|$upstream_addr|$upstream_status';
    access_log {prefix}/access.log topology;
    include {site};
}}
"""


class Nginx:
    """The Debian package's nginx in the foreground, with every path in a folder of ours and
    `deploy/nginx.conf` rendered for our ports."""

    def __init__(self, folder: Path, upstreams: list[int]) -> None:
        self.prefix = folder / "nginx"
        self.prefix.mkdir()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        site = (ROOT / "deploy" / "nginx.conf").read_text()
        for name, value in {
            "SLUICEGATE_LISTEN": f"127.0.0.1:{self.port}",
            "SLUICEGATE_UPSTREAM_1": f"127.0.0.1:{upstreams[0]}",
            "SLUICEGATE_UPSTREAM_2": f"127.0.0.1:{upstreams[1]}",
        }.items():
            site = site.replace("${" + name + "}", value)
        (self.prefix / "site.conf").write_text(site)
        user = "user root;" if os.geteuid() == 0 else ""
        main = NGINX_MAIN.format(prefix=self.prefix, site=self.prefix / "site.conf", user=user)
        (self.prefix / "nginx.conf").write_text(main)
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        assert Path(binary).exists(), "nginx is required (make test: scripts/test-deps.sh)"
        self.process = subprocess.Popen(
            [binary, "-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        wait_for_http(self.url + "/health", 20)

    def access(self) -> list[list[str]]:
        """The access log: request id, status, upstream addresses, upstream statuses."""
        lines = (self.prefix / "access.log").read_text().splitlines()
        return [line.split("|") for line in lines]

    def stop(self) -> None:
        self.process.send_signal(signal.SIGQUIT)  # graceful shutdown
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


CONFIG = """
server: {{master_key: {master}, drain_seconds: 5}}
database: {{url: "{database}"}}
redis: {{url: "{redis}"}}
logging: {{spool_dir: "{folder}/spool-${{GW}}"}}
backends:
  - {{name: mock, type: openai, base_url: "{mock}/v1", max_retries: 2,
      cooldown: {{failures: 1000000, seconds: 0}}}}
models:
  - {{name: m, targets: [{{backend: mock, model: mock-model}}],
      pricing: {{input_per_mtok: 1000, output_per_mtok: 1000}}}}
users:
  - {{name: steady, api_keys: [{key}], models: ["*"]}}
"""
STEADY_KEY = "sk-topology-steady"


class Topology:
    """Everything above, started in dependency order; `ensure_up()` restores a test's damage."""

    def __init__(self, folder: Path, mock_url: str) -> None:
        self.postgres = Postgres()
        self.redis = Redis(folder)
        config = folder / "sluicegate.yaml"
        config.write_text(
            CONFIG.format(
                master=MASTER,
                database=self.postgres.url,
                redis=self.redis.url,
                folder=folder,
                mock=mock_url,
                key=STEADY_KEY,
            )
        )
        self.a = Instance("a", config, folder)
        self.b = Instance("b", config, folder)
        self.a.spawn()  # together: migrations take an advisory lock
        self.b.spawn()
        self.a.wait_ready()
        self.b.wait_ready()
        self.nginx = Nginx(folder, [self.a.port, self.b.port])

    @property
    def instances(self) -> list[Instance]:
        return [self.a, self.b]

    def ensure_up(self) -> None:
        if not self.redis.ping():
            self.redis.stop()
            self.redis.start()
        if not _pg_ready(self.postgres.url):
            self.postgres.start()
        for instance in self.instances:
            if not instance.running:
                instance.start()

    def rows(self, request_ids: list[str]) -> dict[str, list[int]]:
        """The request log's status codes by request id, read from PostgreSQL."""
        return _rows(self.postgres.url, request_ids)

    def stop(self) -> None:
        self.nginx.stop()
        for instance in self.instances:
            if instance.running:
                instance.terminate()
        self.redis.stop()
        self.postgres.remove()
