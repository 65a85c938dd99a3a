"""The admin API under schemathesis: every operation of its own /openapi.json, called over a real
socket on a gateway of its own, with every check but `positive_data_acceptance`.

Bounded for CI: a fixed seed (`deterministic`), a few examples per operation, no example
database (nothing written into the repository), no deadline. `positive_data_acceptance` is off
because a schema-valid body may still be refused for what no schema can say (an unknown id, a
name already taken, a target backend that does not exist); docs/admin-api.md.

`GET /admin/live/logs` is left out of the fuzz run: a valid call opens an SSE stream that never
ends, which would hang the fuzzer. Its parameters' error answers are tested in tests/live/.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from schemathesis import Case

from sluicegate.admin import build_admin_app
from support import RunningGateway

from .harness import FakeRuntime, demo_gateway

MASTER_KEY = "sk-fuzz-master"
AUTH = {"Authorization": f"Bearer {MASTER_KEY}"}

CONFIG = {
    "seed": 20240607,
    "generation": {"max-examples": 5, "deterministic": True, "database": "none"},
    "checks": {"enabled": True, "positive_data_acceptance": {"enabled": False}},
    "phases": {"stateful": {"enabled": False}},
}


@pytest.fixture(scope="module")
def fuzzed_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    yield from demo_gateway(tmp_path_factory.mktemp("fuzz"), MASTER_KEY, "alice", "sk-fuzz-alice")


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    """One keep-alive connection for every call: a new one per call costs more than the call."""
    with requests.Session() as reused:
        yield reused


def served_schema() -> dict[str, Any]:
    """What the admin app serves as /openapi.json, built in-process so tests can be collected
    before any server runs; `test_fuzzed_schema_is_the_served_one` proves it is the same."""
    app = build_admin_app(FakeRuntime(None, MASTER_KEY))  # type: ignore[arg-type]
    return app.openapi()


SCHEMA = served_schema()
LIVE_PATH = "/admin/live/logs"
schema = schemathesis.openapi.from_dict(
    SCHEMA, config=schemathesis.Config.from_dict(CONFIG)
).exclude(path=LIVE_PATH)


def test_only_the_endless_stream_is_left_out() -> None:
    fuzzed = {(op.method.upper(), op.path) for op in (r.ok() for r in schema.get_all_operations())}
    every = {(m.upper(), p) for p, item in SCHEMA["paths"].items() for m in item}
    assert every - fuzzed == {("GET", LIVE_PATH)}


def test_fuzzed_schema_is_the_served_one(fuzzed_gateway: RunningGateway) -> None:
    response = httpx.get(fuzzed_gateway.url + "/openapi.json", timeout=10)
    assert response.status_code == 200
    assert response.json() == SCHEMA


@schema.parametrize()
def test_admin_api_conforms_to_its_schema(
    case: Case, fuzzed_gateway: RunningGateway, session: requests.Session
) -> None:
    case.call_and_validate(base_url=fuzzed_gateway.url, session=session, headers=AUTH, timeout=30)
