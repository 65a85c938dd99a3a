"""Request-log durability (SPEC 6) over real sockets and a real database.

- PostgreSQL stopped in the middle of traffic: requests are still answered, rows go to the
  spool, and once PostgreSQL is back every request id is in `request_logs` exactly once.
- A gateway started while its database is down serves from the config file, spools, and
  connects by itself when the database comes up.
- SIGTERM on `sluicegate serve` flushes every pending row before the process exits.
- One row per request whatever its outcome, with exactly SPEC 6's fields in the admin API.

The PostgreSQL tests run their own cluster (scripts/postgres.sh in a temporary folder on a
free port), so stopping it never disturbs the session's shared test server.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from sluicegate.config import GatewayConfig
from sluicegate.storage.migrate import upgrade
from support import ROOT, MockUpstream, RunningGateway, free_port, wait_until

MASTER_KEY = "sk-faults-master"
ALICE_KEY = "sk-faults-alice"  # models: *
BOB_KEY = "sk-faults-bob"  # models: m only
LIMITED_KEY = "sk-faults-limited"  # rpm: 1
SCRIBE_KEY = "sk-faults-scribe"  # detail_logging
CHAT = "/v1/chat/completions"
MAX_BODY = 16384

# SPEC 6, in its order.
SPEC_FIELDS = [
    "id",
    "request_id",
    "created_at",
    "user_id",
    "key_id",
    "path",
    "model",
    "resolved_model",
    "backend",
    "stream",
    "status_code",
    "error_type",
    "error_message",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cost_usd",
    "latency_ms",
    "ttft_ms",
    "attempts",
    "client_ip",
    "detail_logged",
    "cache_hit",
    "guardrails",
    "resumed",
    "request_body",
    "response_body",
]
BODIES = {"request_body", "response_body"}
# Keys beyond SPEC 6 that the API is known to add; anything else fails the field test.
KNOWN_EXTRAS = {"usage_estimated"}


# Configuration ---------------------------------------------------------------------------


def config_dict(mock_url: str, database_url: str, spool_dir: Path | None = None) -> dict[str, Any]:
    logging: dict[str, Any] = {}
    if spool_dir is not None:
        logging["spool_dir"] = str(spool_dir)
    return {
        "database": {"url": database_url},
        "logging": logging,
        "server": {"master_key": MASTER_KEY, "max_body_bytes": MAX_BODY},
        "backends": [
            {
                "name": "mock",
                "type": "openai",
                "base_url": mock_url + "/v1",
                "api_key": "upstream-key",
                "max_retries": 0,
                "timeouts": {"connect": 2, "first_token": 5, "idle": 5, "total": 20},
                "cooldown": {"failures": 1_000_000, "seconds": 0},
            }
        ],
        "models": [
            {"name": "m", "targets": [{"backend": "mock", "model": "mock-model"}]},
            {"name": "m2", "targets": [{"backend": "mock", "model": "mock-model-2"}]},
        ],
        "users": [
            {"name": "alice", "api_keys": [ALICE_KEY], "models": ["*"]},
            {"name": "bob", "api_keys": [BOB_KEY], "models": ["m"]},
            {"name": "limited", "api_keys": [LIMITED_KEY], "models": ["*"], "rpm": 1},
            {
                "name": "scribe",
                "api_keys": [SCRIBE_KEY],
                "models": ["*"],
                "detail_logging": True,
            },
        ],
    }


def gateway_config(mock_url: str, database_url: str, spool_dir: Path) -> GatewayConfig:
    return GatewayConfig.model_validate(config_dict(mock_url, database_url, spool_dir))


# Traffic ---------------------------------------------------------------------------------

# Request kinds the traffic generator cycles through, with the status each must get.
EXPECTED_STATUS = {"ok": 200, "auth": 401, "missing": 404, "invalid": 400, "stream": 200}
KINDS = list(EXPECTED_STATUS)


def chat(model: str, text: str, *, stream: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": text}]}
    if stream:
        body["stream"] = True
    return body


def send(client: httpx.Client, kind: str, request_id: str) -> int:
    """One request of `kind` with `x-request-id: request_id`; returns the status received."""
    headers = {"x-request-id": request_id, "authorization": f"Bearer {ALICE_KEY}"}
    body = chat("m", f"{request_id} #mock chunks=2")
    if kind == "auth":
        headers["authorization"] = "Bearer sk-not-a-key"
    elif kind == "missing":
        body["model"] = "no-such-model"
    elif kind == "invalid":
        body = {"model": "m"}  # no messages
    elif kind == "stream":
        body["stream"] = True
        with client.stream("POST", CHAT, json=body, headers=headers) as response:
            text = response.read().decode()
            assert response.headers["x-request-id"] == request_id
            if response.status_code == 200:
                assert "data: [DONE]" in text, text
            return response.status_code
    response = client.post(CHAT, json=body, headers=headers)
    assert response.headers["x-request-id"] == request_id
    return response.status_code


class Traffic:
    """Requests of every kind, one after another, from a thread, until stopped."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.prefix = "dur-" + uuid.uuid4().hex[:10]
        self.sent: list[tuple[str, str, int]] = []  # (request_id, kind, status)
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Traffic:
        self.thread.start()
        return self

    def _run(self) -> None:
        try:
            with httpx.Client(base_url=self.url, timeout=15) as client:
                index = 0
                while not self._stop.is_set():
                    kind = KINDS[index % len(KINDS)]
                    request_id = f"{self.prefix}-{index}-{kind}"
                    self.sent.append((request_id, kind, send(client, kind, request_id)))
                    index += 1
                    self._stop.wait(0.01)  # pacing only: a few hundred requests in all
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def count(self) -> int:
        return len(self.sent)

    def ids(self) -> list[str]:
        return [request_id for request_id, _, _ in list(self.sent)]

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(20)
        assert not self.thread.is_alive(), "traffic thread did not finish"
        if self.error is not None:
            raise AssertionError(f"traffic failed: {self.error!r}") from self.error

    def assert_answered_normally(self) -> None:
        wrong = [sent for sent in self.sent if sent[2] != EXPECTED_STATUS[sent[1]]]
        assert not wrong, wrong[:10]


# Spool and database inspection -----------------------------------------------------------


def spool_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("requests-*.jsonl")) if folder.exists() else []


def leftovers(folder: Path) -> list[Path]:
    """Everything in the spool folder but a living writer's `owner-<pid>.lock` (released, and
    removed, when it closes)."""
    if not folder.exists():
        return []
    return sorted(p for p in folder.iterdir() if not p.name.startswith("owner-"))


async def _pg_connect(url: str) -> asyncpg.Connection:
    parsed = make_url(url)
    return await asyncpg.connect(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
        database=parsed.database,
        timeout=3,
    )


def pg_rows(url: str, request_ids: list[str]) -> dict[str, list[int]] | None:
    """Status codes of the rows of each request id present; None while PostgreSQL (or the
    table) is not there."""

    async def query() -> dict[str, list[int]]:
        conn = await _pg_connect(url)
        try:
            rows = await conn.fetch(
                "SELECT request_id, array_agg(status_code) AS codes FROM request_logs"
                " WHERE request_id = ANY($1::text[]) GROUP BY request_id",
                request_ids,
            )
        finally:
            await conn.close()
        return {row["request_id"]: list(row["codes"]) for row in rows}

    try:
        return asyncio.run(query())
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return None


def every_row(url: str, expected: dict[str, int]) -> dict[str, list[int]] | None:
    """The rows once every expected request id has one, else None (for `wait_until`)."""
    rows = pg_rows(url, list(expected))
    return rows if rows is not None and set(rows) == set(expected) else None


def wait_for_rows(
    url: str, expected: dict[str, int], spool: Path, timeout: float
) -> dict[str, list[int]]:
    """Every expected request id's rows, once all are in; on timeout, fail naming what is
    missing and what the spool folder holds."""
    try:
        return wait_until(lambda: every_row(url, expected), timeout, 0.1)
    except AssertionError:
        present = pg_rows(url, list(expected)) or {}
        missing = sorted(set(expected) - set(present))
        raise AssertionError(
            f"{len(missing)} of {len(expected)} rows missing after {timeout}s: {missing}; "
            f"spool folder holds {[p.name for p in leftovers(spool)]}"
        ) from None


def assert_exactly_once(rows: dict[str, list[int]], expected: dict[str, int]) -> None:
    assert set(rows) == set(expected)
    wrong = {rid: codes for rid, codes in rows.items() if codes != [expected[rid]]}
    assert not wrong, f"duplicated or wrong rows: {dict(list(wrong.items())[:10])}"


# A dedicated PostgreSQL cluster ----------------------------------------------------------


class PostgresCluster:
    """A cluster of its own made by scripts/postgres.sh, stopped and started at will."""

    script = ROOT / "scripts" / "postgres.sh"

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="sluicegate-faults-pg-")
        self.port = free_port()
        self.url = self.start()

    def _run(self, *args: str) -> str:
        done = subprocess.run(
            ["bash", str(self.script), *args],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            raise AssertionError(f"postgres.sh {' '.join(args)} failed:\n{done.stderr}")
        return done.stdout

    def start(self) -> str:
        return self._run(self.dir, str(self.port)).strip().splitlines()[-1]

    def stop(self) -> None:
        self._run("stop", self.dir)

    def create_database(self) -> str:
        """A new empty database on this cluster (never migrated); its URL."""
        name = "sgf_" + uuid.uuid4().hex[:16]

        async def create() -> None:
            conn = await _pg_connect(self.url)
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            finally:
                await conn.close()

        asyncio.run(create())
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
        Path(self.dir + ".lock").unlink(missing_ok=True)


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    if os.environ.get("SLUICEGATE_TEST_POSTGRES") == "0":
        pytest.skip("SLUICEGATE_TEST_POSTGRES=0")
    running = PostgresCluster()
    yield running
    running.remove()


# 1. PostgreSQL stops in the middle of traffic ----------------------------------------------


def test_postgres_outage_mid_traffic_loses_no_row(
    cluster: PostgresCluster, mock: MockUpstream, tmp_path: Path
) -> None:
    database = cluster.create_database()
    spool = tmp_path / "spool"
    gateway = RunningGateway(gateway_config(mock.url, database, spool))
    try:
        assert gateway.app.catalog_version is not None  # connected at start
        traffic = Traffic(gateway.url).start()
        try:
            # Before the outage, rows reach the database.
            wait_until(lambda: traffic.count() >= 10, 10)
            first = {rid: EXPECTED_STATUS[kind] for rid, kind, _ in traffic.sent[:10]}
            wait_until(lambda: every_row(database, first), 10, 0.05)

            cluster.stop()
            at_stop = traffic.count()
            assert pg_rows(database, ["x"]) is None  # really down
            wait_until(lambda: spool_files(spool), 10, 0.05)
            wait_until(lambda: traffic.count() >= at_stop + 30, 10, 0.02)
            assert spool_files(spool), "rows of the outage are spooled, not lost"

            cluster.start()
            at_start = traffic.count()
            wait_until(lambda: traffic.count() >= at_start + 30, 10, 0.02)
        finally:
            traffic.stop()
            cluster.start()  # a no-op when running; the next test needs it
        traffic.assert_answered_normally()
        assert at_start - at_stop >= 30  # requests answered while the database was down

        expected = {rid: EXPECTED_STATUS[kind] for rid, kind, _ in traffic.sent}
        rows = wait_for_rows(database, expected, spool, 20)
        assert_exactly_once(rows, expected)
        wait_until(lambda: not leftovers(spool), 10, 0.05)
    finally:
        gateway.stop()
    # Nothing written twice after the replay settled, and nothing left behind.
    assert_exactly_once(pg_rows(database, list(expected)) or {}, expected)
    assert leftovers(spool) == []


# 2. Graceful shutdown flushes -------------------------------------------------------------


def serve_log(folder: Path) -> str:
    return (folder / "serve.log").read_text(errors="replace")


def serve(config_file: Path, folder: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    """`sluicegate serve [extra]` on a free port, once it answers /health; its output in
    serve.log.

    Another process may take the free port before the server binds it: then it exits at once
    and the next free port is tried.
    """
    for _ in range(3):
        port = free_port()
        with open(folder / "serve.log", "wb") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "sluicegate",
                    "serve",
                    "--config",
                    str(config_file),
                    "--port",
                    str(port),
                    *extra,
                ],
                cwd=folder,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"},
            )
        url = f"http://127.0.0.1:{port}"

        def up(url: str = url, process: subprocess.Popen[bytes] = process) -> bool:
            if process.poll() is not None:
                return True
            try:
                return httpx.get(url + "/health", timeout=1.0).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            wait_until(up, 30, 0.05)
        except AssertionError:
            process.kill()
            process.wait(10)
            raise AssertionError("sluicegate serve did not start:\n" + serve_log(folder)) from None
        if process.poll() is None:
            return process, url
        if "address already in use" not in serve_log(folder).lower():
            raise AssertionError("sluicegate serve exited:\n" + serve_log(folder))
    raise AssertionError("no free port for sluicegate serve:\n" + serve_log(folder))


def test_sigterm_flushes_every_row_to_sqlite(mock: MockUpstream, tmp_path: Path) -> None:
    db_path = tmp_path / "gateway.db"
    spool = tmp_path / "spool"
    config_file = tmp_path / "sluicegate.yaml"
    # JSON is YAML.
    config_file.write_text(
        json.dumps(config_dict(mock.url, f"sqlite+aiosqlite:///{db_path}", spool))
    )
    process, url = serve(config_file, tmp_path)
    try:
        prefix = "term-" + uuid.uuid4().hex[:10]
        expected: dict[str, int] = {}
        with httpx.Client(base_url=url, timeout=15) as client:
            for index in range(40):
                kind = KINDS[index % len(KINDS)]
                request_id = f"{prefix}-{index}-{kind}"
                assert send(client, kind, request_id) == EXPECTED_STATUS[kind]
                expected[request_id] = EXPECTED_STATUS[kind]

        # Requests still in flight at SIGTERM finish, and their rows are flushed on the way out.
        slow_ids = [f"{prefix}-slow-{i}" for i in range(3)]
        slow_status: dict[str, int] = {}

        def slow(request_id: str) -> None:
            response = httpx.post(
                url + CHAT,
                json=chat("m", f"{request_id} #mock latency_ms=1200"),
                headers={"authorization": f"Bearer {ALICE_KEY}", "x-request-id": request_id},
                timeout=15,
            )
            slow_status[request_id] = response.status_code

        threads = [threading.Thread(target=slow, args=(rid,), daemon=True) for rid in slow_ids]
        for thread in threads:
            thread.start()
        wait_until(lambda: all(mock.requests(rid) for rid in slow_ids), 10, 0.02)
        process.send_signal(signal.SIGTERM)
        for thread in threads:
            thread.join(15)
        assert slow_status == dict.fromkeys(slow_ids, 200)
        expected.update(dict.fromkeys(slow_ids, 200))
        try:
            code = process.wait(20)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGABRT)  # faulthandler: every thread's stack to the log
            process.wait(10)
            raise AssertionError("no exit 20 s after SIGTERM:\n" + serve_log(tmp_path)) from None
        assert code == 0, serve_log(tmp_path)  # SPEC 4.8
        assert "Application shutdown complete." in serve_log(tmp_path)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)

    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("SELECT request_id, status_code FROM request_logs").fetchall()
    found: dict[str, list[int]] = {}
    for request_id, status in rows:
        found.setdefault(request_id, []).append(status)
    assert len(rows) == len(expected) == 43
    assert_exactly_once(found, expected)
    assert leftovers(spool) == []


# 3. Started while the database is down -----------------------------------------------------


@pytest.mark.parametrize(
    "schema",
    [
        # A restart during an outage: the database was migrated by an earlier run.
        "migrated",
        # A first deployment whose database comes up after the gateway (docker compose): the
        # gateway itself migrates it once it is reachable.
        "fresh",
    ],
)
def test_gateway_started_while_database_is_down_catches_up(
    cluster: PostgresCluster, mock: MockUpstream, tmp_path: Path, schema: str
) -> None:
    database = cluster.create_database()
    if schema == "migrated":
        asyncio.run(upgrade(database))
    spool = tmp_path / "spool"
    prefix = "down-" + uuid.uuid4().hex[:10]
    expected: dict[str, int] = {}

    def round_of_requests(client: httpx.Client, phase: str) -> None:
        for index, kind in enumerate(KINDS):
            request_id = f"{prefix}-{phase}-{index}-{kind}"
            assert send(client, kind, request_id) == EXPECTED_STATUS[kind]
            expected[request_id] = EXPECTED_STATUS[kind]

    cluster.stop()
    try:
        gateway = RunningGateway(gateway_config(mock.url, database, spool))
        try:
            assert gateway.app.catalog_version is None  # serving from the config file
            with httpx.Client(base_url=gateway.url, timeout=15) as client:
                assert client.get("/health").status_code == 200
                ready = client.get("/health/ready")
                assert (ready.status_code, ready.json()) == (
                    503,
                    {"status": "database_unavailable"},
                )
                round_of_requests(client, "down-1")
                round_of_requests(client, "down-2")
                wait_until(lambda: spool_files(spool), 10, 0.05)

                cluster.start()
                round_of_requests(client, "coming-up")  # before the gateway has reconnected
                # It retries every 5 s: connected (and migrated) with its catalog within ~10 s.
                wait_until(lambda: gateway.app.catalog_version is not None, 12, 0.05)
                wait_until(lambda: client.get("/health/ready").status_code == 200, 5, 0.05)
                round_of_requests(client, "up")

            rows = wait_for_rows(database, expected, spool, 10)
            assert_exactly_once(rows, expected)
            wait_until(lambda: not leftovers(spool), 10, 0.05)
        finally:
            gateway.stop()
    finally:
        cluster.start()
    assert_exactly_once(pg_rows(database, list(expected)) or {}, expected)
    assert leftovers(spool) == []


# 4. One row per request, with exactly SPEC 6's fields ---------------------------------------


def test_one_row_per_request_with_exactly_the_spec_fields(
    mock: MockUpstream, tmp_path: Path
) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    gateway = RunningGateway(gateway_config(mock.url, database, tmp_path / "spool"))
    tag = "one-" + uuid.uuid4().hex[:10]
    # request id -> (status, error_type, stream)
    expected: dict[str, tuple[int, str | None, bool]] = {}

    def rid(name: str) -> str:
        return f"{tag}-{name}"

    def post(name: str, key: str, body: Any, status: int, error: str | None) -> None:
        headers = {"authorization": f"Bearer {key}", "x-request-id": rid(name)}
        if isinstance(body, bytes):
            response = client.post(CHAT, content=body, headers=headers)
        else:
            response = client.post(CHAT, json=body, headers=headers)
        assert response.status_code == status, response.text
        assert response.headers["x-request-id"] == rid(name)
        stream = isinstance(body, dict) and bool(body.get("stream"))
        expected[rid(name)] = (status, error, stream)

    try:
        with httpx.Client(base_url=gateway.url, timeout=15) as client:
            post("ok", ALICE_KEY, chat("m", f"{tag} ok"), 200, None)
            post("invalid", ALICE_KEY, {"model": "m"}, 400, "invalid_request")
            post("auth", "sk-wrong", chat("m", f"{tag} auth"), 401, "auth_error")
            post("forbidden", BOB_KEY, chat("m2", f"{tag} 403"), 403, "permission_denied")
            post("missing", ALICE_KEY, chat("nope", f"{tag} 404"), 404, "model_not_found")
            big = json.dumps(chat("m", f"{tag} " + "x" * (MAX_BODY + 100))).encode()
            post("too-large", ALICE_KEY, big, 413, "invalid_request")
            post("rpm-first", LIMITED_KEY, chat("m", f"{tag} rpm"), 200, None)
            post("rpm-second", LIMITED_KEY, chat("m", f"{tag} rpm"), 429, "rate_limited")
            post("upstream", ALICE_KEY, chat("m", f"{tag} #mock status=500"), 502, "upstream_error")
            scribe_body = chat("m", f"{tag} #mock chunks=3", stream=True)
            with client.stream(
                "POST",
                CHAT,
                json=scribe_body,
                headers={"authorization": f"Bearer {SCRIBE_KEY}", "x-request-id": rid("scribe")},
            ) as response:
                assert response.status_code == 200
                assert "data: [DONE]" in response.read().decode()
            expected[rid("scribe")] = (200, None, True)
            broken = chat("m", f"{tag} #mock chunks=5 disconnect_after=2", stream=True)
            with client.stream(
                "POST",
                CHAT,
                json=broken,
                headers={"authorization": f"Bearer {ALICE_KEY}", "x-request-id": rid("broken")},
            ) as response:
                assert response.status_code == 200
                assert "[DONE]" not in response.read().decode()
            expected[rid("broken")] = (200, "upstream_disconnected", True)

        # A client that hangs up after the first chunk (a connection of its own, closed).
        hangup = chat("m", f"{tag}-hangup #mock chunks=50 inter_ms=200", stream=True)
        with (
            httpx.Client(base_url=gateway.url, timeout=15) as raw,
            raw.stream(
                "POST",
                CHAT,
                json=hangup,
                headers={"authorization": f"Bearer {ALICE_KEY}", "x-request-id": rid("hangup")},
            ) as response,
        ):
            assert response.status_code == 200
            next(line for line in response.iter_lines() if line.startswith("data: "))
        expected[rid("hangup")] = (200, "client_disconnected", True)

        admin = httpx.Client(
            base_url=gateway.url,
            headers={"authorization": f"Bearer {MASTER_KEY}"},
            timeout=15,
        )
        with admin:

            def listed() -> list[dict[str, Any]] | None:
                response = admin.get("/admin/analytics/requests", params={"limit": 1000})
                assert response.status_code == 200, response.text
                rows = [r for r in response.json()["rows"] if r["request_id"] in expected]
                return rows if {r["request_id"] for r in rows} == set(expected) else None

            rows = wait_until(listed, 10, 0.05)
            assert sorted(r["request_id"] for r in rows) == sorted(expected)  # once each
            list_extras: set[str] = set()
            for row in rows:
                status, error, stream = expected[row["request_id"]]
                assert (row["status_code"], row["error_type"], row["stream"]) == (
                    status,
                    error,
                    stream,
                ), row
                keys = set(row)
                assert set(SPEC_FIELDS) - BODIES <= keys, set(SPEC_FIELDS) - BODIES - keys
                list_extras |= keys - set(SPEC_FIELDS)
                assert row["path"] == CHAT
                for attempt in row["attempts"]:
                    assert set(attempt) == {
                        "backend",
                        "model",
                        "status_code",
                        "error_type",
                        "latency_ms",
                    }
            assert list_extras <= KNOWN_EXTRAS, list_extras

            by_id = {row["request_id"]: row for row in rows}
            assert by_id[rid("ok")]["backend"] == "mock"
            assert by_id[rid("ok")]["resolved_model"] == "mock-model"
            assert by_id[rid("upstream")]["attempts"][0]["status_code"] == 500
            assert by_id[rid("auth")]["user_id"] is None

            detail_extras: set[str] = set()
            for request_id in expected:
                response = admin.get(f"/admin/analytics/requests/{request_id}")
                assert response.status_code == 200, response.text
                detail = response.json()
                assert set(SPEC_FIELDS) <= set(detail), set(SPEC_FIELDS) - set(detail)
                detail_extras |= set(detail) - set(SPEC_FIELDS)
                assert detail["id"] == by_id[request_id]["id"]
                if request_id != rid("scribe"):
                    assert (detail["request_body"], detail["response_body"]) == (None, None)
            assert detail_extras <= KNOWN_EXTRAS, detail_extras

            scribe = admin.get(f"/admin/analytics/requests/{rid('scribe')}").json()
            assert scribe["detail_logged"] is True
            assert json.loads(scribe["request_body"]) == scribe_body
            compact = json.loads(scribe["response_body"])
            assert compact["format"] == "sluicegate.chat_stream.compact.v1"
            assert compact["stream"]["done"] is True
    finally:
        gateway.stop()
