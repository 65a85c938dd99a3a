"""A live-log subscriber for tests: `GET /admin/live/logs` read with httpx streaming in a thread,
every SSE event parsed into an `Event` as it arrives."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

import httpx

from support import MASTER_KEY, wait_until


@dataclass(frozen=True)
class Event:
    id: str
    event: str
    data: dict[str, Any]


def parse(block: str) -> Event:
    fields: dict[str, str] = {}
    for line in block.splitlines():
        name, _, value = line.partition(": ")
        fields[name] = value
    return Event(fields["id"], fields["event"], json.loads(fields["data"]))


class Tail:
    def __init__(
        self, url: str, key: str = MASTER_KEY, headers: dict[str, str] | None = None, **params: str
    ) -> None:
        self.events: list[Event] = []
        self.raw = ""
        self.status: int | None = None
        self.ended = False
        self._stop = threading.Event()
        self._client = httpx.Client(timeout=30)
        self._request = self._client.build_request(
            "GET",
            url + "/admin/live/logs",
            params=params,
            headers={"authorization": f"Bearer {key}", **(headers or {})},
        )
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        wait_until(lambda: self.events or self.ended)

    def _run(self) -> None:
        try:
            response = self._client.send(self._request, stream=True)
            self.status = response.status_code
            if response.status_code != 200:
                self.raw = response.read().decode()
                return
            pending = ""
            for text in response.iter_text():
                self.raw += text
                pending += text
                while "\n\n" in pending:
                    block, pending = pending.split("\n\n", 1)
                    self.events.append(parse(block))
                if self._stop.is_set():
                    break
            response.close()
        except httpx.HTTPError:
            pass
        finally:
            self.ended = True

    def of(self, *names: str) -> list[Event]:
        return [e for e in list(self.events) if e.event in names]

    def for_request(self, request_id: str) -> dict[str, dict[str, Any]]:
        """The data of each event about `request_id`, by event name (asserting each came once)."""
        found: dict[str, dict[str, Any]] = {}
        for event in self.of("audit.created", "usage.recorded"):
            if event.data["request_id"] == request_id:
                assert event.event not in found, f"{event.event} twice for {request_id}"
                found[event.event] = event.data
        return found

    def wait_for(self, request_id: str, timeout: float = 10.0) -> dict[str, dict[str, Any]]:
        def both() -> dict[str, dict[str, Any]] | None:
            found = self.for_request(request_id)
            return found if len(found) == 2 else None

        found: dict[str, dict[str, Any]] = wait_until(both, timeout)
        return found

    def close(self) -> None:
        """Ends the read at the next event (the gateways of these tests beat every 0.3 s)."""
        self._stop.set()
        self._client.close()
        self._thread.join(10)

    def __enter__(self) -> Tail:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
