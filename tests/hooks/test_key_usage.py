"""A key's `last_used_at` is updated from the request log, off the request path."""

from __future__ import annotations

import asyncio

import httpx

from sluicegate.auth.keys import hash_key
from sluicegate.storage import catalog
from sluicegate.storage.db import Database
from support import ALICE_KEY, RunningGateway, wait_until


def test_last_used_at_follows_requests(gateway: RunningGateway, tag: str) -> None:
    url = gateway.app.config.database.url

    async def last_used() -> object:
        db = Database(url)
        try:
            key = await catalog.get_key_by_hash(db, hash_key(ALICE_KEY).hex())
            return key and key["last_used_at"]
        finally:
            await db.close()

    before = asyncio.run(last_used())
    response = httpx.post(
        gateway.url + "/v1/chat/completions",
        timeout=20,
        headers={"authorization": f"Bearer {ALICE_KEY}"},
        json={"model": "m", "messages": [{"role": "user", "content": tag}]},
    )
    assert response.status_code == 200
    after = wait_until(lambda: (value := asyncio.run(last_used())) and value != before and value)
    assert after is not None
