"""Two `sluicegate serve --workers 2` instances behind nginx (`deploy/nginx.conf`), sharing
PostgreSQL and Redis (issue 10 point 1): limits exact across the four processes, admin changes
in force everywhere within 2 s, an instance killed and a rolling restart under steady traffic.

Tokens and cost are charged when a response ends (docs/limits.md), in Redis by a task that
runs just after the last byte: the TPM and budget tests wait until the charge is in Redis
before the next request, and then the admission is exact on every process; a burst sent while
requests are still running is admitted on what was charged before it (requests in flight are
not yet counted), which is the documented semantics, not tested as exactness here."""

from __future__ import annotations

import redis

from sluicegate.limits.policy import budget_key
from support import wait_until
from topology.cluster import Topology
from topology.traffic import (
    admin,
    ask,
    burst,
    known_everywhere,
    mark,
    new_id,
    new_user,
    outcomes,
    sent,
    steady,
)

ADMIN_CHANGE_SECONDS = 2.0  # issue 10: in force on every process within 2 s


def test_rpm_is_exact_across_four_processes(topo: Topology) -> None:
    _, key = new_user(topo, rpm=12)
    answers = burst(topo.nginx.url, key, 40)
    statuses = sorted(r.status_code for r in answers)
    assert statuses.count(200) == 12 and statuses.count(429) == 28, statuses
    used = {entry[2] for entry in topo.nginx.access()[-40:]}
    assert len(used) == 2, used  # nginx sent them to both instances


def _charged(topo: Topology, redis_key: str, expected: float) -> None:
    client = redis.Redis.from_url(topo.redis.url)

    def landed() -> bool:
        value = client.get(redis_key)
        return value is not None and abs(float(value) - expected) < 1e-9

    wait_until(landed, 10)
    client.close()


def _until_refused(topo: Topology, key: str, charged_key: str, each: float) -> list[int]:
    """Requests one at a time through nginx, each after the previous one's charge is in
    Redis, until one is refused; their statuses."""
    statuses: list[int] = []
    while not statuses or statuses[-1] == 200:
        assert len(statuses) < 20, statuses
        statuses.append(ask(topo.nginx.url, key, "#mock chunks=5").status_code)
        if statuses[-1] == 200:
            _charged(topo, charged_key, each * statuses.count(200))
    return statuses


def test_tpm_is_exact_across_four_processes(topo: Topology) -> None:
    user_id, key = new_user(topo)
    tokens = ask(topo.nginx.url, key, "#mock chunks=5").json()["usage"]["total_tokens"]
    # Refused once the tokens charged in the window reach tpm: 3 requests of `tokens` fit
    # under 3 * tokens + 1, the 4th is admitted at 3 * tokens, the 5th is refused.
    user_id, key = new_user(topo, tpm=3 * tokens + 1)
    statuses = _until_refused(topo, key, f"sg:{{{user_id}}}:user:tsum", tokens)
    assert statuses == [200, 200, 200, 200, 429], statuses
    refused = burst(topo.nginx.url, key, 12)
    assert {r.status_code for r in refused} == {429}
    assert {r.json()["error"]["code"] for r in refused} == {"rate_limit_exceeded"}


def test_budget_is_exact_across_four_processes(topo: Topology) -> None:
    _, key = new_user(topo)
    cost = ask(topo.nginx.url, key, "#mock chunks=5").json()["usage"]["total_tokens"] / 1000
    user_id, key = new_user(topo, budget_usd=round(cost * 2.5, 6), budget_period="month")
    spend_key = f"sg:{{{user_id}}}:{budget_key('month')[0]}"
    statuses = _until_refused(topo, key, spend_key, cost)
    assert statuses == [200, 200, 200, 429], statuses
    refused = burst(topo.nginx.url, key, 12)
    assert {r.json()["error"]["code"] for r in refused} == {"budget_exceeded"}


def test_an_admin_change_is_in_force_on_every_process_within_2_s(topo: Topology) -> None:
    name = "late-" + new_id()
    created = admin(topo.a.url, "POST", "/admin/users", json={"name": name, "models": ["*"]})
    assert created.status_code == 201, created.text
    key = created.json()["api_key"]
    wait_until(lambda: known_everywhere(topo, key), ADMIN_CHANGE_SECONDS)
    # And back: a user deleted through instance B is refused by every process.
    assert admin(topo.b.url, "DELETE", f"/admin/users/{created.json()['id']}").status_code == 200

    def refused_everywhere() -> bool:
        return all(
            r.status_code == 401
            for instance in topo.instances
            for _ in range(3)
            for r in burst(instance.url, key, 4, model="no-such-model")
        )

    wait_until(refused_everywhere, ADMIN_CHANGE_SECONDS)


def _answered_by(topo: Topology, port: int) -> set[str]:
    """Request ids nginx finally sent to the instance on `port` and that got a 200."""
    return {
        entry[0]
        for entry in topo.nginx.access()
        if entry[1] == "200" and entry[2].split(", ")[-1] == f"127.0.0.1:{port}"
    }


def _serves(topo: Topology, port: int, after: int) -> bool:
    """nginx has had a 200 from the instance on `port` since access log line `after`."""
    return any(
        entry[1] == "200" and entry[2].split(", ")[-1] == f"127.0.0.1:{port}"
        for entry in topo.nginx.access()[after:]
    )


def _rows_complete(topo: Topology, request_ids: list[str]) -> dict[str, list[int]]:
    """Wait until every request id has a 200 row; the rows."""

    def complete() -> dict[str, list[int]] | None:
        rows = topo.rows(request_ids)
        return rows if all(200 in rows.get(r, []) for r in request_ids) else None

    return wait_until(complete, 30, 0.2)


def test_kill_9_of_one_instance_under_steady_traffic(topo: Topology) -> None:
    clients = steady(topo.nginx.url)
    sent(clients, 20)
    topo.a.kill()
    mark(clients)
    sent(clients, 40, after_mark=True)
    done = outcomes(clients)
    # Every request sent after the kill was answered, by B.
    assert {status for _, status, after in done if after} == {200}, done
    # One in flight on A when it died is usually retried on B by nginx (proxy_next_upstream),
    # but not when A died after nginx had started passing its answer on: at most one per
    # client (the one it had in flight) may be lost; the contract covers requests not started.
    lost = [entry for entry in done if entry[1] != 200]
    assert len(lost) <= len(clients), done
    # B's rows are all there: every request it answered has exactly one 200 row.
    by_b = sorted(_answered_by(topo, topo.b.port) & {request_id for request_id, *_ in done})
    assert len(by_b) >= 40
    rows = _rows_complete(topo, by_b)
    assert all(rows[r].count(200) == 1 for r in by_b), rows


def test_rolling_restart_under_steady_traffic(topo: Topology) -> None:
    clients = steady(topo.nginx.url)
    sent(clients, 10)
    for instance in topo.instances:
        assert instance.terminate() == 0  # drained and exited cleanly
        sent(clients, 10)  # served by the other one alone
        seen = len(topo.nginx.access())
        instance.start()
        # Ready is not enough: nginx (passive checks) skips a server that failed for
        # fail_timeout; stopping the other one before nginx uses this one again would leave
        # none. The procedure: wait until the restarted instance serves traffic again.
        wait_until(lambda i=instance, n=seen: _serves(topo, i.port, n), 30, 0.05)
        sent(clients, 10)
    done = outcomes(clients)
    # No client saw an error: streams ended with [DONE], the rest got 200. What a draining
    # instance refused (503 overloaded) nginx retried on the other one.
    assert {status for _, status, _ in done} == {200}, [o for o in done if o[1] != 200]
    answered = [request_id for request_id, *_ in done]
    rows = _rows_complete(topo, answered)
    # One 200 row each; a request refused by a draining instance also has its 503 row there.
    assert all(rows[r].count(200) == 1 for r in answered), rows
    assert {code for codes in rows.values() for code in codes} <= {200, 503}
