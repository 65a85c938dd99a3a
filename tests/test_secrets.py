"""No secret leaks: user keys, the master key, the upstream key, an upstream header secret and
any Authorization value a client sent never appear in an API response (body or headers), a
log line, an error message or the database (SPEC 1, 5, 6).

Each test runs `sluicegate serve` as users do (a subprocess in a temp folder, its stdout and
stderr captured to files, logging at level info with the access log on, as JSON lines in one
test and as text in the other) with a detail-logged user, drives every
kind of outcome (success, stream, 400, 401 with a real-looking wrong key, 403, 404, upstream
401 passthrough, config reloads good and bad, admin API reads of every kind), then searches
every secret everywhere. The mock upstream's own records are its side of the wire and rightly
hold the upstream credentials: they are only checked for the client's keys, which must not be
forwarded upstream.
"""

from __future__ import annotations

import re
import sqlite3
import stat
import subprocess
import sys
import uuid
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from sluicegate.auth.keys import generate_key
from support import MockUpstream, clean_env, free_port, wait_for_http, wait_until

BANNER_KEY = re.compile(r"master key \(([^)]*)\): (\S+)")
# Where the catalog keeps upstream credentials on purpose: the gateway must send them, so they
# are stored as given (storage/tables.py) and every admin read redacts them.
UPSTREAM_CREDENTIAL_CELLS = {("backends", "api_key"), ("backends", "headers")}
JSON = {"content-type": "application/json"}


def token(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex}"


@dataclass
class Secrets:
    master: str = ""
    user: str = field(default_factory=lambda: token("sk-leakcheck-user"))
    upstream: str = field(default_factory=lambda: token("sk-leakcheck-upstream"))
    header: str = field(default_factory=lambda: token("leakcheck-header"))
    # Looks exactly like a key the gateway makes; it is just not a valid one.
    wrong: str = field(default_factory=generate_key)
    # Keys made through the admin API (shown once, in their creation response).
    created: list[str] = field(default_factory=list)

    def client_keys(self) -> dict[str, str]:
        """Every key a client holds or sent: never stored, logged or shown."""
        keys = {"master key": self.master, "user key": self.user, "wrong key": self.wrong}
        keys.update({f"admin-created key {i}": key for i, key in enumerate(self.created)})
        return keys

    def upstream_credentials(self) -> dict[str, str]:
        return {"upstream api_key": self.upstream, "upstream header secret": self.header}

    def all(self) -> dict[str, str]:
        return {**self.client_keys(), **self.upstream_credentials()}


def config_text(
    mock_url: str, folder: Path, secrets: Secrets, *, master: bool, rpm: int, log_format: str
) -> str:
    master_line = f"  master_key: {secrets.master}\n" if master else ""
    return f"""\
server:
  host: 127.0.0.1
{master_line}database:
  url: sqlite+aiosqlite:///{folder}/gateway.db
logging:
  format: {log_format}
  access_log: true
backends:
  - name: mock
    type: openai
    base_url: {mock_url}/v1
    api_key: {secrets.upstream}
    headers: {{x-upstream-token: {secrets.header}}}
    max_retries: 0
models:
  - name: m
    targets: [{{backend: mock, model: mock-model}}]
  - name: other
    targets: [{{backend: mock, model: mock-model}}]
users:
  - name: scribe
    api_keys: [{secrets.user}]
    models: ["m"]
    detail_logging: true
    rpm: {rpm}
"""


@dataclass
class Served:
    url: str
    folder: Path
    config: Path
    stdout: Path
    stderr: Path
    log_format: str

    def output(self) -> str:
        return self.stdout.read_text() + self.stderr.read_text()


@contextmanager
def serving(folder: Path, config: Path, log_format: str) -> Iterator[Served]:
    """`sluicegate serve --config F` in `folder`, stdout and stderr each in a file; stopped
    (and its database checkpointed by a clean shutdown) when the block ends."""
    port = free_port()
    port_args = ["--port", str(port)]
    served = Served(
        f"http://127.0.0.1:{port}",
        folder,
        config,
        folder / "stdout.log",
        folder / "stderr.log",
        log_format,
    )
    with served.stdout.open("wb") as out, served.stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "sluicegate", "serve", "--config", str(config), *port_args],
            cwd=folder,
            env=clean_env(),
            stdout=out,
            stderr=err,
        )
        try:
            wait_for_http(served.url + "/health/ready", timeout=30)
            yield served
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(15)


@dataclass
class Traffic:
    """Every response the tests got, and the ones allowed to show one new key."""

    responses: list[httpx.Response] = field(default_factory=list)
    # (the key it created, the response that showed it)
    creations: list[tuple[str, httpx.Response]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    inference: int = 0  # inference requests sent: each has one access line


def client(served: Served, traffic: Traffic, key: str | None = None) -> httpx.Client:
    def keep(response: httpx.Response) -> None:
        response.read()
        traffic.responses.append(response)
        request = response.request
        traffic.inference += request.method == "POST" and request.url.path.startswith("/v1/")

    headers = {"authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(
        base_url=served.url, headers=headers, timeout=30, event_hooks={"response": [keep]}
    )


def chat_body(text: str, model: str = "m", stream: bool = False) -> dict[str, Any]:
    return {"model": model, "stream": stream, "messages": [{"role": "user", "content": text}]}


def expect(response: httpx.Response, status: int) -> httpx.Response:
    assert response.status_code == status, (response.request.url, response.text)
    return response


def drive(served: Served, mock: MockUpstream, secrets: Secrets, *, master: bool) -> Traffic:
    """Every kind of outcome and every admin read, recorded in a Traffic."""
    traffic = Traffic()
    tag = token("tag")
    traffic.tags.append(tag)
    post = "/v1/chat/completions"
    with (
        client(served, traffic, secrets.user) as user,
        client(served, traffic, secrets.master) as admin,
        client(served, traffic) as anonymous,
    ):
        # Successes: non-stream and stream, Bearer and x-api-key; the master key may ask too.
        expect(user.post(post, json=chat_body(f"hello {tag}")), 200)
        streamed = anonymous.post(
            post,
            json=chat_body(f"stream {tag}", stream=True),
            headers={"x-api-key": secrets.user},
        )
        assert expect(streamed, 200).text.rstrip().endswith("data: [DONE]")
        expect(admin.post(post, json=chat_body(f"as master {tag}")), 200)
        expect(user.get("/v1/models"), 200)

        # Refusals of every kind.
        for headers in ({"authorization": f"Bearer {secrets.wrong}"}, {"x-api-key": secrets.wrong}):
            refused = anonymous.post(post, json=chat_body(f"wrong {tag}"), headers=headers)
            assert expect(refused, 401).json()["error"]["code"] == "invalid_api_key"
        expect(user.post(post, json=chat_body(f"forbidden {tag}", model="other")), 403)
        expect(user.post(post, json=chat_body(f"unknown {tag}", model="no-such-model")), 404)
        expect(user.post(post, content=b'{"model": "m", "messages": [', headers=JSON), 400)
        expect(
            anonymous.get("/admin/users", headers={"authorization": f"Bearer {secrets.wrong}"}), 401
        )
        expect(
            anonymous.get("/admin/users", headers={"authorization": f"Bearer {secrets.user}"}), 401
        )

        # The upstream refuses the gateway's credentials: its 401 is passed through.
        for stream in (False, True):
            text = f"upstream says no {stream} {tag} #mock status=401"
            passed = user.post(post, json=chat_body(text, stream=stream))
            assert expect(passed, 401).json()["error"]["message"] == "mock status 401"

        # Keys made through the admin API are shown in their creation response only.
        created = admin.post(
            "/admin/users", json={"name": "api-made", "models": ["*"], "detail_logging": True}
        )
        made = expect(created, 201).json()
        traffic.responses.pop()
        traffic.creations.append((made["api_key"], created))
        secrets.created.append(made["api_key"])
        added = expect(admin.post(f"/admin/users/{made['id']}/keys"), 201)
        traffic.responses.pop()
        traffic.creations.append((added.json()["api_key"], added))
        secrets.created.append(added.json()["api_key"])
        for key in secrets.created:
            with client(served, traffic, key) as holder:
                expect(holder.post(post, json=chat_body(f"api user {tag}")), 200)

        # Config reloads: a good one, then broken files with secrets in the wrong places (their
        # problems are quoted back), then the good file again.
        def write(rpm: int) -> None:
            served.config.write_text(
                config_text(
                    mock.url,
                    served.folder,
                    secrets,
                    master=master,
                    rpm=rpm,
                    log_format=served.log_format,
                )
            )

        write(rpm=1000)
        assert expect(admin.post("/admin/reload"), 200).json()["reloaded"] is True
        good = served.config.read_text()
        broken = good.replace(
            f"    api_key: {secrets.upstream}\n", f"    api_key: [{secrets.upstream}]\n"
        ).replace(f"    api_keys: [{secrets.user}]\n", f"    api_keys: {{k: {secrets.user}}}\n")
        broken = broken.replace("    headers: {", "    headerz: {")
        assert broken.count(secrets.upstream) == broken.count(secrets.user) == 1
        served.config.write_text(broken)
        expect(admin.post("/admin/reload"), 400)
        served.config.write_text(
            good.replace(f"api_key: {secrets.upstream}", f'api_key: "{secrets.upstream}')
        )
        expect(admin.post("/admin/reload"), 400)
        served.config.write_text(good)
        expect(admin.post("/admin/reload"), 200)

        # Every admin read, once the last request is in the log (rows are written in order).
        last = token("last")
        expect(user.post(post, json=chat_body(f"last {tag}"), headers={"x-request-id": last}), 200)
        wait_until(
            lambda: admin.get(f"/admin/analytics/requests/{last}").status_code == 200,
            timeout=10,
            interval=0.1,
        )
        traffic.responses.append(live_replay(served, secrets.master, last))
        rows = admin.get("/admin/analytics/requests", params={"limit": 1000}).json()["rows"]
        details = [
            expect(admin.get(f"/admin/analytics/requests/{row['id']}"), 200).json() for row in rows
        ]
        stored = [d for d in details if d["detail_logged"]]
        # The bodies are there (so searching the database for secrets means something).
        assert any(tag in (d["request_body"] or "") for d in stored), details
        assert any(d["response_body"] for d in stored), details
        admin.get("/admin/analytics/requests", params={"detailLogged": "true"})
        for group in ("user", "model", "backend", "day"):
            expect(admin.get("/admin/analytics/usage", params={"group_by": group}), 200)
        for row in expect(admin.get("/admin/backends"), 200).json()["data"]:
            expect(admin.get(f"/admin/backends/{row['id']}"), 200)
        for row in expect(admin.get("/admin/models"), 200).json()["data"]:
            expect(admin.get(f"/admin/models/{row['id']}"), 200)
        for row in expect(admin.get("/admin/users"), 200).json()["data"]:
            expect(admin.get(f"/admin/users/{row['id']}"), 200)
            expect(admin.get(f"/admin/users/{row['id']}/keys"), 200)
        expect(admin.get("/admin/permissions"), 200)
        expect(anonymous.get("/openapi.json"), 200)
        expect(anonymous.get("/docs"), 200)
        expect(anonymous.get("/metrics"), 200)
        expect(anonymous.get("/health/ready"), 200)

    # The upstream got the gateway's credentials, and none of the client's.
    seen = mock.request(f"hello {tag}")
    assert seen["authorization"] == f"Bearer {secrets.upstream}"
    assert seen["headers"]["x-upstream-token"] == secrets.header
    for record in mock.requests(tag):
        found = orjson.dumps(record).decode()
        for what, secret in secrets.client_keys().items():
            assert secret not in found, f"the {what} was sent upstream: {record}"
    return traffic


def live_replay(served: Served, master: str, last: str) -> httpx.Response:
    """The live log of the whole run (replayed from its first event up to the usage event of
    request `last`), as one response: the stream never ends by itself, so it is cut there."""
    url = served.url + "/admin/live/logs"
    headers = {"authorization": f"Bearer {master}"}
    with httpx.stream("GET", url, headers=headers, timeout=30) as opened:
        data = next(line for line in opened.iter_lines() if line.startswith("data: "))
    reset = orjson.loads(data.removeprefix("data: "))
    epoch = reset["cursor"].split("-")[0]
    seen = b""
    end = f'event: usage.recorded\ndata: {{"request_id":"{last}"'.encode()
    with httpx.stream(
        "GET", url, params={"cursor": f"{epoch}-0"}, headers=headers, timeout=30
    ) as replay:
        assert replay.status_code == 200
        for chunk in replay.iter_bytes():
            seen += chunk
            if end in seen:
                break
        return httpx.Response(200, headers=replay.headers, content=seen)


def shown(response: httpx.Response) -> str:
    """Everything a client sees of a response: status, every header, the body."""
    headers = "\n".join(f"{name}: {value}" for name, value in response.headers.multi_items())
    return f"{response.status_code}\n{headers}\n\n{response.text}"


def leaks_in_responses(traffic: Traffic, secrets: Secrets) -> list[str]:
    leaks = []
    for response in traffic.responses:
        text = shown(response)
        for what, secret in secrets.all().items():
            if secret in text:
                leaks.append(f"{what} in {response.request.method} {response.request.url}")
    for key, response in traffic.creations:
        text = shown(response)
        assert text.count(key) == 1, text
        for what, secret in secrets.all().items():
            if secret != key and secret in text:
                leaks.append(f"{what} in {response.request.method} {response.request.url}")
    return leaks


def database_files(folder: Path) -> list[Path]:
    """The SQLite file, its -wal and -shm, and the log spool: every byte the gateway stored."""
    files = sorted(folder.glob("gateway.db*"))
    files += sorted(p for p in (folder / "sluicegate-spool").rglob("*") if p.is_file())
    return files


def bodies_are_stored(folder: Path, traffic: Traffic) -> bool:
    """The prompts of this run are in the raw bytes: a raw search for secrets would see them."""
    return any(
        tag.encode() in path.read_bytes() for path in database_files(folder) for tag in traffic.tags
    )


def leaks_in_database(folder: Path, secrets: Secrets) -> list[str]:
    files = database_files(folder)
    assert folder / "gateway.db" in files
    leaks = []
    # The client's keys: nowhere in any byte (keys are stored as SHA-256 digests).
    for path in files:
        data = path.read_bytes()
        for what, secret in secrets.client_keys().items():
            if secret.encode() in data:
                leaks.append(f"{what} in the bytes of {path.name}")
        if path.suffix not in (".db", ".db-wal", ".db-shm"):
            for what, secret in secrets.upstream_credentials().items():
                if secret.encode() in data:
                    leaks.append(f"{what} in the bytes of {path.name}")
    # The upstream credentials: only in the catalog cells that must hold them (never in a log
    # row, a stored body, an error message).
    with sqlite3.connect(f"file:{folder / 'gateway.db'}?mode=ro", uri=True) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            cursor = db.execute(f'SELECT * FROM "{table}"')
            columns = [d[0] for d in cursor.description]
            for row in cursor:
                for column, value in zip(columns, row, strict=True):
                    if (table, column) in UPSTREAM_CREDENTIAL_CELLS or value is None:
                        continue
                    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                    for what, secret in secrets.all().items():
                        if secret in text:
                            leaks.append(f"{what} in {table}.{column}")
    db.close()
    return leaks


def leaks_in_output(output: str, secrets: Secrets, allowed: Collection[str] = ()) -> list[str]:
    leaks = []
    for line in output.splitlines():
        if line in allowed:
            continue
        for what, secret in secrets.all().items():
            if secret in line:
                leaks.append(f"{what} in the output line {line!r}")
    return leaks


def test_configured_master_key_and_every_other_secret_stay_secret(
    mock: MockUpstream, tmp_path: Path
) -> None:
    secrets = Secrets(master=token("sk-leakcheck-master"))
    config = tmp_path / "sluicegate.yaml"
    config.write_text(
        config_text(mock.url, tmp_path, secrets, master=True, rpm=600, log_format="json")
    )
    with serving(tmp_path, config, "json") as served:
        traffic = drive(served, mock, secrets, master=True)
        assert bodies_are_stored(tmp_path, traffic)
        assert leaks_in_database(tmp_path, secrets) == []
    output = served.output()
    assert "Application startup complete" in output  # log level info: there is output to search
    # JSON lines: every stderr line is one object; an access line per inference request.
    records = [orjson.loads(line) for line in served.stderr.read_text().splitlines()]
    access = [r for r in records if r["logger"] == "sluicegate.access"]
    assert len(access) == traffic.inference, access
    assert {r["status"] for r in access} >= {200, 400, 401, 403, 404}
    assert leaks_in_responses(traffic, secrets) == []
    assert leaks_in_output(output, secrets) == []
    assert bodies_are_stored(tmp_path, traffic)
    assert leaks_in_database(tmp_path, secrets) == []
    assert not (tmp_path / "sluicegate.key").exists()


def test_generated_master_key_is_shown_only_in_the_banner_and_its_file(
    mock: MockUpstream, tmp_path: Path
) -> None:
    secrets = Secrets()
    config = tmp_path / "sluicegate.yaml"
    config.write_text(
        config_text(mock.url, tmp_path, secrets, master=False, rpm=600, log_format="text")
    )
    with serving(tmp_path, config, "text") as served:
        banner = wait_until(lambda: BANNER_KEY.search(served.stdout.read_text()), timeout=10)
        secrets.master = banner.group(2)
        traffic = drive(served, mock, secrets, master=False)
    key_file = tmp_path / "sluicegate.key"
    assert key_file.read_text() == secrets.master + "\n"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    # The banner: its key line and its ready-to-paste curl line hold the key, nothing else does.
    stdout = served.stdout.read_text()
    key_line = banner.group(0)
    [curl_line] = [line for line in stdout.splitlines() if line.lstrip().startswith("curl ")]
    assert f"Bearer {secrets.master}" in curl_line
    assert stdout.count(secrets.master) == 2
    assert key_line in stdout.splitlines()
    assert leaks_in_output(served.output(), secrets, allowed={key_line, curl_line}) == []
    assert leaks_in_responses(traffic, secrets) == []
    assert bodies_are_stored(tmp_path, traffic)
    assert leaks_in_database(tmp_path, secrets) == []


def test_admin_api_hides_backend_header_secrets(mock: MockUpstream, tmp_path: Path) -> None:
    secrets = Secrets(master=token("sk-leakcheck-master"))
    config = tmp_path / "sluicegate.yaml"
    config.write_text(
        config_text(mock.url, tmp_path, secrets, master=True, rpm=600, log_format="text")
    )
    with (
        serving(tmp_path, config, "text") as served,
        httpx.Client(
            base_url=served.url, headers={"authorization": f"Bearer {secrets.master}"}, timeout=30
        ) as admin,
    ):
        listing = expect(admin.get("/admin/backends"), 200)
        [backend] = listing.json()["data"]
        assert backend["api_key"] is None and backend["api_key_set"] is True
        one = expect(admin.get(f"/admin/backends/{backend['id']}"), 200)
        assert secrets.header not in listing.text
        assert secrets.header not in one.text
