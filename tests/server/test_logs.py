"""Process logging (server/logs.py): `logging.format` and `logging.level` apply to every record
of every process of `sluicegate serve` (supervisor and workers), uvicorn's included."""

from __future__ import annotations

import io
import logging
import re
import subprocess
import uuid
from pathlib import Path

import httpx
import orjson
import pytest

from server.harness import USER_KEY, chat, config_text, serving, start
from sluicegate.server import logs
from sluicegate.server.logformat import JsonFormatter
from support import MockUpstream, sluicegate, wait_for_http, wait_until

STARTED = re.compile(r"^Started server process \[(\d+)\]$")


def test_level_warning_keeps_only_warnings(mock: MockUpstream, tmp_path: Path) -> None:
    with serving(tmp_path, mock.url, "  format: json\n  level: warning") as served:
        assert chat(served, "hello", uuid.uuid4().hex).status_code == 200
    assert served.returncode == 0
    records = served.records()
    # SIGTERM begins the drain, which the gateway reports at warning: the filter lets it by.
    assert any(r["message"].startswith("draining:") for r in records), records
    assert {r["level"] for r in records} <= {"warning", "error", "critical"}, records
    assert not [r for r in records if r["logger"] == "sluicegate.access"]


def test_json_lines_from_the_supervisor_and_every_worker(
    mock: MockUpstream, tmp_path: Path
) -> None:
    ids = [uuid.uuid4().hex for _ in range(6)]
    with serving(tmp_path, mock.url, "  format: json", "--workers", "2") as served:
        # The first worker up answers /health/ready; wait for the second too.
        wait_until(lambda: served.stderr.read_text().count("Application startup complete") == 2, 30)
        for request_id in ids:
            assert chat(served, "hello", request_id).status_code == 200
    assert served.returncode == 0
    records = served.records()
    workers = {int(found.group(1)) for r in records if (found := STARTED.match(r["message"]))}
    assert len(workers) == 2, records
    # Each worker's own records are JSON too: the app's startup line comes from both.
    started = {r["pid"] for r in records if r["message"] == "Application startup complete."}
    assert started == workers
    [parent] = [r for r in records if r["message"].startswith("Started parent process")]
    assert parent["pid"] not in workers and parent["logger"] == "uvicorn.error"
    for request_id in ids:
        [line] = served.access(request_id)
        assert line["pid"] in workers


def test_check_config_names_a_bad_logging_format_and_level(
    mock: MockUpstream, tmp_path: Path
) -> None:
    path = tmp_path / "sluicegate.yaml"
    path.write_text(config_text(mock.url, tmp_path, "  format: yaml\n  level: verbose"))
    result = sluicegate("check-config", str(path), cwd=tmp_path)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "logging.format" in output and "logging.level" in output
    path.write_text(config_text(mock.url, tmp_path, "  format: json\n  level: debug"))
    result = sluicegate("check-config", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_a_stderr_nobody_reads_never_holds_up_requests(mock: MockUpstream, tmp_path: Path) -> None:
    served, process = start(tmp_path, mock.url, "  format: json", stderr=subprocess.PIPE)
    assert process.stderr is not None
    try:
        wait_for_http(served.url + "/health/ready", timeout=30)
        ids = [uuid.uuid4().hex for _ in range(300)]
        headers = {"authorization": f"Bearer {USER_KEY}"}
        with httpx.Client(base_url=served.url, headers=headers, timeout=10) as client:
            for request_id in ids:
                body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
                sent = client.post(
                    "/v1/chat/completions", json=body, headers={"x-request-id": request_id}
                )
                assert sent.status_code == 200
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)  # reading at last lets the writer finish
    assert process.returncode == 0
    # More than the pipe holds (64 KiB): the writer was stuck on it while requests went on.
    assert len(err) > 2 * 65536
    records = [orjson.loads(line) for line in err.splitlines()]
    logged = [r["request_id"] for r in records if r["logger"] == "sluicegate.access"]
    assert sorted(logged) == sorted(ids)


def test_a_full_queue_drops_records_then_says_how_many(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "QUEUE_RECORDS", 3)
    records = logs.RecordQueue()
    handler = logs.OffLoopHandler(records)
    log = logging.Logger("sluicegate.test")
    log.addHandler(handler)
    for n in range(5):  # no writer yet: a stderr that is not read
        log.warning("record %d", n)
    assert records.qsize() == 3 and handler.dropped == 2
    # A bad call fails on the writer thread, not in the caller.
    records.take(2)
    log.warning("%d requests", "many")
    records.close()
    out = io.StringIO()
    writer = logs.Writer(records, JsonFormatter(), out)
    writer.start()
    writer.join(10)
    lines = [orjson.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["level"], r["logger"]) for r in lines] == [
        ("warning", "sluicegate.test"),
        ("warning", "sluicegate.logging"),
        ("error", "sluicegate.logging"),
    ]
    assert lines[0]["message"] == "record 2"
    assert lines[1]["message"] == "stderr was not read fast enough: dropped 2 log records"
    assert lines[2]["message"].startswith("could not format a record of sluicegate.test")
    assert handler.dropped == 0
