"""The access log (hooks/access_log.py): one `sluicegate.access` line per inference request,
whichever way it ends, read from the stderr of a real `sluicegate serve`."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx

from server.harness import MASTER, UPSTREAM, USER_KEY, chat, serving
from support import MockUpstream

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def rid(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:12]}"


def test_json_access_line_per_request_with_its_fields(mock: MockUpstream, tmp_path: Path) -> None:
    ids = {name: rid(name) for name in ("plain", "stream", "master", "wrong", "upstream", "gone")}
    with serving(tmp_path, mock.url, "  format: json") as served:
        plain = chat(served, "hello there", ids["plain"])
        assert plain.status_code == 200
        streamed = chat(served, "hello stream #mock chunks=4", ids["stream"], stream=True)
        assert streamed.status_code == 200
        assert chat(served, "as master", ids["master"], key=MASTER).status_code == 200
        wrong = chat(served, "wrong key", ids["wrong"], key="sk-not-a-key")
        assert wrong.status_code == 401
        failed = chat(served, "fail #mock status=500", ids["upstream"])
        assert failed.status_code >= 500
        assert chat(served, "where", ids["gone"], model="no-such-model").status_code == 404
        # Not inference: no access line (the request log has no row for these either).
        assert httpx.get(served.url + "/health").status_code == 200
    assert served.returncode == 0
    records = served.records()  # every stderr line is one JSON object
    access = [r for r in records if r["logger"] == "sluicegate.access"]
    assert sorted(r["request_id"] for r in access) == sorted(ids.values())
    for record in access:
        assert TS.match(record["ts"]), record
        assert record["level"] == "info"
        assert record["method"] == "POST" and record["path"] == "/v1/chat/completions"
        assert record["message"] == f"POST /v1/chat/completions {record['status']}"
        assert record["client_ip"] == "127.0.0.1"
        assert record["latency_ms"] >= 0

    [ok] = served.access(ids["plain"])
    usage = plain.json()["usage"]
    assert ok["status"] == 200 and ok["error_type"] is None
    assert ok["user"] == "alice" and ok["user_id"] and ok["key_id"]
    assert (ok["model"], ok["backend"], ok["resolved_model"]) == ("m", "mock", "mock-model")
    assert ok["stream"] is False and ok["ttft_ms"] is None
    assert ok["prompt_tokens"] == usage["prompt_tokens"] > 0
    assert ok["completion_tokens"] == usage["completion_tokens"] > 0
    assert ok["total_tokens"] == usage["total_tokens"]
    expected_cost = (usage["prompt_tokens"] * 1.0 + usage["completion_tokens"] * 2.0) / 1e6
    assert abs(ok["cost_usd"] - expected_cost) < 1e-9
    assert ok["attempts"] == 1

    [stream] = served.access(ids["stream"])
    assert stream["stream"] is True and stream["status"] == 200
    assert stream["ttft_ms"] is not None and 0 <= stream["ttft_ms"] <= stream["latency_ms"]
    assert stream["completion_tokens"] == 4

    [master] = served.access(ids["master"])
    assert (master["user"], master["user_id"], master["key_id"]) == ("master", None, None)

    [refused] = served.access(ids["wrong"])
    assert (refused["status"], refused["error_type"]) == (401, "auth_error")
    assert refused["user"] is None and refused["key_id"] is None and refused["backend"] is None
    assert refused["attempts"] == 0

    [upstream] = served.access(ids["upstream"])
    assert (upstream["status"], upstream["error_type"]) == (failed.status_code, "upstream_error")
    assert upstream["backend"] == "mock" and upstream["attempts"] == 1

    [gone] = served.access(ids["gone"])
    assert (gone["status"], gone["error_type"]) == (404, "model_not_found")
    assert gone["model"] == "no-such-model"

    output = served.stderr.read_text() + served.stdout.read_text()
    for secret in (USER_KEY, MASTER, UPSTREAM, "sk-not-a-key"):
        assert secret not in output


def test_text_access_line_is_one_readable_line_per_request(
    mock: MockUpstream, tmp_path: Path
) -> None:
    plain, hostile = rid("plain"), rid("hostile")
    with serving(tmp_path, mock.url, "  format: text") as served:
        assert chat(served, "hello there", plain).status_code == 200
        # A model name is the client's text: it must not split the line or fake a field.
        sneaky = 'x\n2026-01-01T00:00:00.000Z INFO sluicegate.access user="root'
        assert chat(served, "hi", hostile, model=sneaky).status_code == 404
    assert served.returncode == 0
    lines = served.lines()
    assert any("Application startup complete" in line for line in lines)
    [ok] = [line for line in lines if f" id={plain} " in line]
    assert re.match(
        r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO sluicegate\.access "
        rf"POST /v1/chat/completions 200 - id={plain} user=alice user_id=\S+ key_id=\S+ "
        r"model=m backend=mock resolved_model=mock-model stream=no latency_ms=[\d.]+ ttft_ms=- "
        r"tokens=\d+\+\d+ cost_usd=\S+ attempts=1 ip=127\.0\.0\.1$",
        ok,
    ), ok
    [refused] = [line for line in lines if f" id={hostile} " in line]
    assert " 404 model_not_found " in refused
    assert 'model="x\\n2026-01-01T00:00:00.000Z INFO sluicegate.access user=\\"root" ' in refused
    assert sum("sluicegate.access" in line for line in lines) == 2


def test_access_log_off(mock: MockUpstream, tmp_path: Path) -> None:
    request_id = rid("off")
    with serving(tmp_path, mock.url, "  format: json\n  access_log: false") as served:
        assert chat(served, "hello", request_id).status_code == 200
    records = served.records()
    assert any(r["message"] == "Application startup complete." for r in records)
    assert not [r for r in records if r["logger"] == "sluicegate.access"]
