"""Sign-in throttle: repeated wrong master keys from one client address lock it out, doubling.

    failures 1..FREE        answered at once (a typo costs nothing)
    failure FREE+n          the address is locked for BASE * 2**n seconds (at most MAX_LOCK):
                            every sign-in from it, right key or not, gets 429 + Retry-After
    a right key             forgets the address's failures

Kept in memory per process: with N workers an attacker gets N times the attempts, which does
not matter against a 190-bit random master key; the throttle stops a human or a script from
hammering the form, and keeps the log quiet. Entries are forgotten `FORGET_AFTER` seconds
after the last failure, and the table is bounded (`MAX_CLIENTS`, oldest dropped first).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

FREE = 5
BASE = 1.0
MAX_LOCK = 300.0
FORGET_AFTER = 900.0
MAX_CLIENTS = 10_000


@dataclass(slots=True)
class _Failures:
    count: int
    last: float
    locked_until: float


class SignInThrottle:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._clients: OrderedDict[str, _Failures] = OrderedDict()

    def locked_for(self, client: str) -> float:
        """Seconds `client` must still wait before it may try a key (0: may try now)."""
        entry = self._clients.get(client)
        if entry is None:
            return 0.0
        now = self.clock()
        if now - entry.last > FORGET_AFTER:
            del self._clients[client]
            return 0.0
        return max(0.0, entry.locked_until - now)

    def failed(self, client: str) -> None:
        now = self.clock()
        entry = self._clients.pop(client, None)
        if entry is None or now - entry.last > FORGET_AFTER:
            entry = _Failures(0, now, now)
        entry.count += 1
        entry.last = now
        if entry.count >= FREE:
            entry.locked_until = now + min(BASE * 2 ** (entry.count - FREE), MAX_LOCK)
        self._clients[client] = entry
        while len(self._clients) > MAX_CLIENTS:
            self._clients.popitem(last=False)

    def succeeded(self, client: str) -> None:
        self._clients.pop(client, None)
