"""The cache's pure parts: the key, an entry's packed form, the memory LRU with TTL, and the
recorder's split of an OpenAI stream's usage event."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import orjson
import pytest

from sluicegate.cache.entry import Entry, unpack
from sluicegate.cache.key import cache_key, canonical_body
from sluicegate.cache.memory import MemoryCacheStore
from sluicegate.cache.recorder import DONE_FRAME, MAX_ENTRY_BYTES, Recorder
from sluicegate.config import ConfigError, load_config
from support import wait_until

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}


def frame(obj: object) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def test_canonical_body_drops_stream_fields_and_sorts_keys() -> None:
    noisy = {"user": "u", "stream": True, "stream_options": {"include_usage": True}, **BODY}
    assert canonical_body(noisy) == canonical_body(dict(reversed(BODY.items())))
    assert canonical_body(BODY) == orjson.dumps(BODY, option=orjson.OPT_SORT_KEYS)


def test_key_separates_owner_path_model_and_variant_not_stream() -> None:
    base = cache_key("alice", "/chat/completions", "m", "", BODY)
    others = {
        cache_key("bob", "/chat/completions", "m", "", BODY),
        cache_key(None, "/chat/completions", "m", "", BODY),
        cache_key("alice", "/completions", "m", "", BODY),
        cache_key("alice", "/chat/completions", "m2", "", BODY),
        cache_key("alice", "/chat/completions", "m", "reasoning", BODY),
        cache_key("alice", "/chat/completions", "m", "", {**BODY, "temperature": 1}),
    }
    assert base not in others and len(others) == 6
    assert base == cache_key("alice", "/chat/completions", "m", "", {**BODY, "user": "x"})
    # One entry for both kinds: stream-ness is not part of the key (SPEC 12).
    streamed = {**BODY, "stream": True, "stream_options": {"include_usage": True}}
    assert base == cache_key("alice", "/chat/completions", "m", "", streamed)
    # Length prefixes: moving characters between parts changes the key.
    assert cache_key("ab", "c", "m", "", BODY) != cache_key("a", "bc", "m", "", BODY)


def test_entry_packs_and_unpacks() -> None:
    entry = Entry(True, b"data: 1\n\n", b"data: u\n\n", DONE_FRAME, {"total_tokens": 3})
    assert unpack(entry.pack()) == entry
    assert unpack(Entry(False, b"{}").pack()) == Entry(False, b"{}")
    assert unpack(b"garbage") is None
    assert unpack(entry.pack()[:-20]) is None
    assert entry.payload(True) == b"data: 1\n\ndata: u\n\n" + DONE_FRAME
    assert entry.payload(False) == b"data: 1\n\n" + DONE_FRAME


def test_memory_store_evicts_least_recently_used() -> None:
    store = MemoryCacheStore(max_entries=2, ttl_seconds=60)
    for key in ("a", "b"):
        store.put(key, Entry(False, key.encode()))
    assert store.get_now("a") is not None  # a is now the most recently used
    store.put("c", Entry(False, b"c"))
    assert (store.get_now("a"), store.get_now("b"), len(store)) == (Entry(False, b"a"), None, 2)


def test_memory_store_expires_entries() -> None:
    store = MemoryCacheStore(max_entries=10, ttl_seconds=0.05)
    store.put("a", Entry(False, b"a"))
    stored_at = time.monotonic()
    assert asyncio.run(store.get("a")) == Entry(False, b"a")
    wait_until(lambda: store.get_now("a") is None, 2)
    assert time.monotonic() - stored_at >= 0.05 and len(store) == 0


def test_recorder_sets_the_usage_chunk_apart() -> None:
    usage = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    head = {"id": "c1", "object": "chat.completion.chunk", "created": 5, "model": "x"}
    content = frame({**head, "choices": [{"index": 0, "delta": {"content": "hi"}}]})
    usage_frame = frame({**head, "choices": [], "usage": usage})
    asked = Recorder()
    for part in (content, usage_frame + DONE_FRAME):
        asked.add(part)
    assert asked.entry(True, usage) == Entry(True, content, usage_frame, DONE_FRAME, usage)
    silent = Recorder()
    silent.add(content)
    silent.add(DONE_FRAME)
    rebuilt = silent.entry(True, usage)
    assert rebuilt is not None and rebuilt.body == content
    assert orjson.loads(rebuilt.usage_frame[6:]) == {**head, "choices": [], "usage": usage}


def test_recorder_keeps_other_streams_whole_and_drops_oversized_answers() -> None:
    events = b"event: message_stop\ndata: {}\n\n"
    recorder = Recorder()
    recorder.add(events)
    assert recorder.entry(True, None) == Entry(True, events)
    big = Recorder()
    big.add(b"x" * MAX_ENTRY_BYTES)
    big.add(b"y")
    assert big.entry(False, None) is None


def test_redis_mode_needs_redis_url(tmp_path: Path) -> None:
    path = tmp_path / "sluicegate.yaml"
    path.write_text("cache: {mode: redis}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    assert info.value.problems == ["cache.mode: redis needs redis.url"]
    path.write_text("cache: {mode: redis}\nredis: {url: 'redis://127.0.0.1:1/0'}\n")
    assert load_config(path, {}).cache.mode == "redis"
