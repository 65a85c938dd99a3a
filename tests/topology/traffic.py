"""Requests for the topology tests: one at a time, many at once, or steady from background
threads until stopped; each carries its own `x-request-id` so the log rows can be matched."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from support import wait_until
from topology.cluster import MASTER, STEADY_KEY, Topology


def ask(
    url: str, key: str, content: str = "hi", request_id: str | None = None, model: str = "m"
) -> httpx.Response:
    return httpx.post(
        url + "/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": content}]},
        headers={"authorization": f"Bearer {key}", "x-request-id": request_id or new_id()},
        timeout=30,
    )


def new_id() -> str:
    return "topo-" + uuid.uuid4().hex[:16]


def burst(
    url: str, key: str, count: int, content: str = "hi", model: str = "m"
) -> list[httpx.Response]:
    """`count` requests at once (one connection each)."""
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: ask(url, key, content, model=model), range(count)))


def admin(url: str, method: str, path: str, **kwargs: object) -> httpx.Response:
    headers = {"authorization": f"Bearer {MASTER}"}
    return httpx.request(method, url + path, headers=headers, timeout=10, **kwargs)  # type: ignore[arg-type]


def known_everywhere(topo: Topology, key: str, rounds: int = 3) -> bool:
    """Every process knows `key`: `rounds` bursts of 4 fresh connections to each instance
    (its two workers share the listening socket, so both get some) are all past
    authentication. They ask for a model that does not exist (404 `model_not_found`, decided
    before the limiter), so a probe never counts against the user's limits."""
    for instance in topo.instances:
        for _ in range(rounds):
            answers = burst(instance.url, key, 4, model="no-such-model")
            if any(r.status_code == 401 for r in answers):
                return False
            assert all(r.status_code == 404 for r in answers), [r.text for r in answers]
    return True


def new_user(topo: Topology, via: str | None = None, **limits: object) -> tuple[str, str]:
    """A user created through one instance's admin API (A's by default): its id and key,
    once every process knows it."""
    name = "u-" + uuid.uuid4().hex[:10]
    created = admin(
        via or topo.a.url, "POST", "/admin/users", json={"name": name, "models": ["*"], **limits}
    )
    assert created.status_code == 201, created.text
    key = str(created.json()["api_key"])
    wait_until(lambda: known_everywhere(topo, key), 10)
    return str(created.json()["id"]), key


class Steady(threading.Thread):
    """Requests one after another through `url` until `stop()`; every outcome kept in order
    as (request id, status or exception name, sent after `mark` was set)."""

    def __init__(self, url: str, stream: bool = False) -> None:
        super().__init__(daemon=True)
        self.url, self.stream = url, stream
        self._halt = threading.Event()
        self.mark = threading.Event()
        self.outcomes: list[tuple[str, int | str, bool]] = []

    def run(self) -> None:
        while not self._halt.is_set():
            request_id, after_mark = new_id(), self.mark.is_set()
            try:
                status = self._stream(request_id) if self.stream else self._ask(request_id)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            self.outcomes.append((request_id, status, after_mark))

    def _ask(self, request_id: str) -> int | str:
        return ask(self.url, STEADY_KEY, "#mock latency_ms=20", request_id).status_code

    def _stream(self, request_id: str) -> int | str:
        """200 for a stream that ended with [DONE]; what it ended with otherwise."""
        body = {
            "model": "m",
            "stream": True,
            "messages": [{"role": "user", "content": "#mock chunks=4 inter_ms=20"}],
        }
        headers = {"authorization": f"Bearer {STEADY_KEY}", "x-request-id": request_id}
        with httpx.stream(
            "POST", self.url + "/v1/chat/completions", json=body, headers=headers, timeout=30
        ) as response:
            if response.status_code != 200:
                return response.status_code
            data = [line for line in response.iter_lines() if line.startswith("data: ")]
        return 200 if data and data[-1] == "data: [DONE]" else f"ended: {data[-1:]}"

    def count(self, after_mark: bool = False) -> int:
        return sum(1 for o in self.outcomes if o[2] or not after_mark)

    def stop(self) -> None:
        self._halt.set()
        self.join(60)


def outcomes(running: list[Steady]) -> list[tuple[str, int | str, bool]]:
    for thread in running:
        thread.stop()
    return [o for thread in running for o in thread.outcomes]


def sent(running: list[Steady], count: int, after_mark: bool = False) -> None:
    """Wait until the clients have `count` more outcomes (after the mark, if asked)."""
    start = sum(t.count(after_mark) for t in running)
    wait_until(lambda: sum(t.count(after_mark) for t in running) >= start + count, 60)


def mark(running: list[Steady]) -> None:
    for thread in running:
        thread.mark.set()


def steady(url: str, threads: int = 4, streams: int = 1) -> list[Steady]:
    """`threads` clients of non-stream requests and `streams` of streaming ones."""
    running = [Steady(url) for _ in range(threads)] + [Steady(url, True) for _ in range(streams)]
    for thread in running:
        thread.start()
    return running
