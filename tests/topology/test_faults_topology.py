"""Redis and PostgreSQL faults under the topology (issue 10 point 3).

- redis-server stopped mid-traffic: requests are admitted (fail open, docs/limits.md) and a
  warning is logged; once it is back (empty: nothing persisted), limits are exact again
  without restarting any gateway.
- PostgreSQL stopped mid-traffic: every request is still answered; every answered request
  ends up as a row (spooled, then written when it is back), and an admin change made after it
  is back is in force on every process (the catalog reload resumed)."""

from __future__ import annotations

from support import wait_until
from topology.cluster import Topology
from topology.test_topology import ADMIN_CHANGE_SECONDS, _rows_complete
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

WARNING = "limit store unavailable, admitting requests"


def test_redis_restart_fails_open_then_limits_are_exact_again(topo: Topology) -> None:
    _, key = new_user(topo, rpm=5)
    topo.redis.stop()
    try:
        # Down: every request is admitted (fail open), none counted; 12 > rpm.
        assert [ask(topo.nginx.url, key).status_code for _ in range(12)] == [200] * 12
        wait_until(lambda: WARNING in topo.a.log_text() + topo.b.log_text(), 10)
    finally:
        topo.redis.start()  # same port, empty
    # Back: the very next requests are counted exactly again, across all four processes.
    statuses = sorted(r.status_code for r in burst(topo.nginx.url, key, 20))
    assert statuses.count(200) == 5 and statuses.count(429) == 15, statuses


def test_postgres_restart_loses_no_row_and_catalog_reload_resumes(topo: Topology) -> None:
    clients = steady(topo.nginx.url, threads=2)
    sent(clients, 10)
    topo.postgres.stop()
    try:
        mark(clients)
        sent(clients, 30, after_mark=True)  # answered while PostgreSQL is down
    finally:
        topo.postgres.start()
    sent(clients, 10)
    done = outcomes(clients)
    assert {status for _, status, _ in done} == {200}, [o for o in done if o[1] != 200]
    answered = [request_id for request_id, *_ in done]
    rows = _rows_complete(topo, answered)  # spooled rows written once it is back
    assert all(rows[r] == [200] for r in answered), rows
    # The catalog reload resumed: a user created through B now works on every process.
    name = "after-pg-" + new_id()
    created = admin(topo.b.url, "POST", "/admin/users", json={"name": name, "models": ["*"]})
    assert created.status_code == 201, created.text
    key = created.json()["api_key"]
    wait_until(lambda: known_everywhere(topo, key), ADMIN_CHANGE_SECONDS)
