"""What the cache stores and when it answers: cache-control, per-user scope, only complete
successes (never an upstream error, a broken or failed stream, or one the client left), limits
(RPM counts a hit, TPM and budget do not), metrics, and concurrent identical misses."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from sluicegate.cache.memory import MemoryCacheStore
from support import ALICE_KEY, SCRIBE_KEY, MockUpstream, RunningGateway, wait_until

from .harness import BUDGET_KEY, HEADER, RPM_KEY, TPM_KEY, cache_config, chat, metric

CHAT = "/v1/chat/completions"


def store_of(gw: RunningGateway) -> MemoryCacheStore:
    cache = gw.app.state.cache
    assert cache is not None and isinstance(cache.store, MemoryCacheStore)
    return cache.store


def as_user(gw: RunningGateway, key: str) -> httpx.Client:
    return httpx.Client(base_url=gw.url, headers={"authorization": f"Bearer {key}"}, timeout=30)


def test_no_cache_skips_the_lookup_but_stores(
    ch: httpx.Client, mock: MockUpstream, tag: str
) -> None:
    body = chat(f"{tag} #mock chunks=2")
    assert ch.post(CHAT, json=body).headers[HEADER] == "miss"
    fresh = ch.post(CHAT, json=body, headers={"cache-control": "no-cache"})
    assert fresh.headers[HEADER] == "bypass"
    assert len(mock.requests(tag)) == 2
    assert ch.post(CHAT, json=body).headers[HEADER] == "hit"


def test_no_store_answers_from_the_cache_but_never_stores(
    ch: httpx.Client, mock: MockUpstream, tag: str
) -> None:
    body = chat(f"{tag} #mock chunks=2")
    for _ in range(2):
        response = ch.post(CHAT, json=body, headers={"cache-control": "no-store"})
        assert response.headers[HEADER] == "miss"
    assert len(mock.requests(tag)) == 2
    assert ch.post(CHAT, json=body).headers[HEADER] == "miss"  # stored now
    stored = ch.post(CHAT, json=body, headers={"Cache-Control": "max-age=0, No-Store"})
    assert stored.headers[HEADER] == "hit"
    both = ch.post(CHAT, json=body, headers={"cache-control": "no-cache, no-store"})
    assert both.headers[HEADER] == "bypass"
    assert len(mock.requests(tag)) == 4


def test_entries_are_per_user(cgw: RunningGateway, ch: httpx.Client, tag: str) -> None:
    body = chat(f"{tag} #mock chunks=2")
    assert ch.post(CHAT, json=body).headers[HEADER] == "miss"
    with as_user(cgw, SCRIBE_KEY) as scribe:
        assert scribe.post(CHAT, json=body).headers[HEADER] == "miss"
        assert scribe.post(CHAT, json=body).headers[HEADER] == "hit"


@pytest.fixture(scope="module")
def global_gw(
    mock: MockUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    config = cache_config(mock.url, tmp_path_factory.mktemp("global"), scope="global")
    running = RunningGateway(config)
    yield running
    running.stop()


def test_global_scope_shares_entries_between_users(
    global_gw: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    body = chat(f"{tag} #mock chunks=2")
    with as_user(global_gw, ALICE_KEY) as alice, as_user(global_gw, SCRIBE_KEY) as scribe:
        assert alice.post(CHAT, json=body).headers[HEADER] == "miss"
        assert scribe.post(CHAT, json=body).headers[HEADER] == "hit"
    assert len(mock.requests(tag)) == 1


def test_errors_carry_bypass_and_upstream_errors_are_not_stored(
    cgw: RunningGateway, ch: httpx.Client, mock: MockUpstream, tag: str
) -> None:
    unauthenticated = httpx.post(cgw.url + CHAT, json=chat(tag), timeout=10)
    assert (unauthenticated.status_code, unauthenticated.headers[HEADER]) == (401, "bypass")
    invalid = ch.post(CHAT, json={"model": "m"})
    assert (invalid.status_code, invalid.headers[HEADER]) == (400, "bypass")
    body = {**chat(f"{tag} #mock status=500"), "model": "noretry"}
    for _ in range(2):
        failed = ch.post(CHAT, json=body)
        assert (failed.status_code, failed.headers[HEADER]) == (502, "miss")
    assert len(mock.requests(tag)) == 2


@pytest.mark.parametrize(
    "directive", ["disconnect_after=1", "error_event_after=1"], ids=["interrupted", "error_event"]
)
def test_a_broken_stream_is_never_stored(
    cgw: RunningGateway, ch: httpx.Client, mock: MockUpstream, tag: str, directive: str
) -> None:
    body = {**chat(f"{tag} #mock chunks=3 {directive}"), "model": "noretry", "stream": True}
    for _ in range(2):
        response = ch.post(CHAT, json=body)
        assert (response.status_code, response.headers[HEADER]) == (200, "miss")
        assert "[DONE]" not in response.text
        assert cgw.completion(response.headers["x-request-id"]).error_type is not None
    # Nor served to a non-stream request of the same body (one entry for both kinds).
    plain = ch.post(CHAT, json={**body, "stream": False})
    assert (plain.status_code, plain.headers[HEADER]) == (200, "miss")
    assert len(mock.requests(tag)) == 3


def test_a_stream_the_client_left_is_never_stored(
    cgw: RunningGateway, ch: httpx.Client, mock: MockUpstream, tag: str
) -> None:
    body = chat(f"{tag} #mock chunks=4 inter_ms=300", stream=True)
    with ch.stream("POST", CHAT, json=body) as response:
        assert response.headers[HEADER] == "miss"
        next(response.iter_lines())
        request_id = response.headers["x-request-id"]
    assert cgw.completion(request_id).error_type == "client_disconnected"
    wait_until(lambda: len(mock.requests(tag)) == 1)
    again = ch.post(CHAT, json=body)
    assert (again.headers[HEADER], again.text.endswith("data: [DONE]\n\n")) == ("miss", True)
    assert ch.post(CHAT, json=body).headers[HEADER] == "hit"


def test_concurrent_identical_misses_both_answer_and_leave_one_entry(
    cgw: RunningGateway, mock: MockUpstream, tag: str
) -> None:
    store = store_of(cgw)
    before = len(store)
    body = chat(f"{tag} #mock chunks=2 latency_ms=300", stream=True)
    results: list[httpx.Response] = []

    def ask() -> None:
        with as_user(cgw, ALICE_KEY) as client:
            results.append(client.post(CHAT, json=body))

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(r.headers[HEADER] for r in results) == ["miss", "miss"]
    assert results[0].text == results[1].text or all(
        r.text.endswith("data: [DONE]\n\n") for r in results
    )
    assert len(mock.requests(tag)) == 2  # not coalesced: each miss asked the upstream
    wait_until(lambda: len(store) == before + 1)
    with as_user(cgw, ALICE_KEY) as client:
        assert client.post(CHAT, json=body).headers[HEADER] == "hit"


def test_a_hit_counts_for_rpm(cgw: RunningGateway, tag: str) -> None:
    body = chat(f"{tag} #mock chunks=1")
    with as_user(cgw, RPM_KEY) as client:
        statuses = [client.post(CHAT, json=body) for _ in range(4)]
    assert [(r.status_code, r.headers[HEADER]) for r in statuses[:3]] == [
        (200, "miss"),
        (200, "hit"),
        (200, "hit"),
    ]
    assert statuses[3].status_code == 429  # the hits filled the 3 requests a minute


@pytest.mark.parametrize("key", [TPM_KEY, BUDGET_KEY], ids=["tpm", "budget"])
def test_a_hit_is_not_charged_tokens_or_cost(cgw: RunningGateway, tag: str, key: str) -> None:
    """A miss costs 6 tokens (9e-6 USD): under tpm 10 and budget 1.5e-5, a second charge fills
    either. Hits leave room for one more miss, which then fills it."""
    body = chat(f"{tag} #mock chunks=3")
    with as_user(cgw, key) as client:
        for expected in ("miss", "hit", "hit", "hit"):
            response = client.post(CHAT, json=body)
            assert (response.status_code, response.headers[HEADER]) == (200, expected)
            cgw.completion(response.headers["x-request-id"])  # charged (or not) by now
        other = client.post(CHAT, json=chat(f"{tag}b #mock chunks=3"))
        assert (other.status_code, other.headers[HEADER]) == (200, "miss")
        cgw.completion(other.headers["x-request-id"])
        assert client.post(CHAT, json=body).status_code == 429


def test_metrics_count_each_result(ch: httpx.Client, tag: str) -> None:
    before = {r: metric(ch, r) for r in ("hit", "miss", "bypass")}
    body = chat(f"{tag} #mock chunks=1")
    ch.post(CHAT, json=body)
    ch.post(CHAT, json=body)
    ch.post(CHAT, json=body, headers={"cache-control": "no-cache"})
    after = {r: metric(ch, r) for r in ("hit", "miss", "bypass")}
    assert {r: after[r] - before[r] for r in after} == {"hit": 1, "miss": 1, "bypass": 1}
