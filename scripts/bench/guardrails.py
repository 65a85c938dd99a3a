"""Guardrail overhead: c1 p50 latency of a 4 KB prompt through a gateway with three
guardrails (regex block, pii mask, max_input_tokens) against the same gateway without any.

    python scripts/bench/guardrails.py [--requests N] [--rounds R]

Starts the mock upstream and two gateways (`sluicegate serve`, SQLite request log in a
temporary folder), then sends sequential non-stream chat requests over one keep-alive
connection per gateway (raw asyncio streams, no HTTP library in the measured path), the two
gateways alternating in rounds so drift hits both alike. The prompt carries an email and a
phone number, so the pii guardrail masks (the worst case: the body goes upstream re-encoded).
Also times, in process with timeit, the three guardrails alone on the same prompt.

Prints one line `BENCH_JSON {...}`: p50 per gateway and their difference in microseconds, and
the in-process cost per request. Standalone: scripts/bench.sh does not run it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

from procstat import free_port, wait_http  # this script's own folder

KEY = "sk-bench-user-0000000000000000"
GUARDRAILS = """
guardrails:
  - {name: no-secrets, type: regex, pattern: "sk-[A-Za-z0-9]{20,}", action: block}
  - {name: pii, type: pii, entities: [email, phone, credit_card, iban], action: mask}
  - {name: size, type: max_input_tokens, limit: 8000}
"""
CONFIG = """
server: {{host: 127.0.0.1, master_key: sk-bench-master-0000000000000000}}
database: {{url: "sqlite+aiosqlite:///{db}"}}
backends: [{{name: mock, type: openai, base_url: "http://127.0.0.1:{mock}/v1", max_retries: 0}}]
models: [{{name: bench, targets: [{{backend: mock, model: mock-model}}]}}]
users: [{{name: bench, api_keys: ["{key}"], models: ["*"]}}]
"""
SENTENCE = (
    "Summarise the quarterly report for the operations team, keeping the figures exact and "
    "the tone neutral; mention delays, costs and the open questions from the review. "
)


def prompt_4kb() -> str:
    body = SENTENCE * (4096 // len(SENTENCE))
    return body[:3990] + " bob@example.com +1 555 123 4567"  # ~4 KB with two PII items


def start(args: list[str]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "sluicegate", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )


def request_bytes(port: int) -> bytes:
    body = json.dumps(
        {"model": "bench", "messages": [{"role": "user", "content": prompt_4kb()}]},
        separators=(",", ":"),
    ).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nAuthorization: Bearer {KEY}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes) -> float:
    started = time.perf_counter()
    writer.write(data)
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n", 1)[0] + b" ":
        raise SystemExit(f"unexpected answer: {head[:80]!r}")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.lower().split(b"\r\n")
        if line.startswith(b"content-length:")
    )
    await reader.readexactly(length)
    return time.perf_counter() - started


async def measure(ports: dict[str, int], requests: int, rounds: int) -> dict[str, list[float]]:
    conns = {name: await asyncio.open_connection("127.0.0.1", p) for name, p in ports.items()}
    data = {name: request_bytes(p) for name, p in ports.items()}
    samples: dict[str, list[float]] = {name: [] for name in ports}
    for name, (reader, writer) in conns.items():
        for _ in range(200):  # warm-up
            await one(reader, writer, data[name])
    for _ in range(rounds):
        for name, (reader, writer) in conns.items():
            for _ in range(requests // rounds):
                samples[name].append(await one(reader, writer, data[name]))
    for _, writer in conns.values():
        writer.close()
    return samples


def in_process_us() -> float:
    """The three guardrails on the 4 KB prompt: find the texts, check, mask, write back."""
    import yaml

    from sluicegate.config.content import GuardrailConfig
    from sluicegate.guardrails.registry import Guardrails

    configs = [GuardrailConfig.model_validate(g) for g in yaml.safe_load(GUARDRAILS)["guardrails"]]
    plan = Guardrails(configs).plan(None)
    assert plan is not None
    text = prompt_4kb()

    def run() -> None:
        body = {"model": "bench", "messages": [{"role": "user", "content": text}]}
        coroutine = plan.check_input("/v1/chat/completions", "bench", body, [])
        with contextlib.suppress(StopIteration):
            coroutine.send(None)  # no hooks: it never suspends

    number = 2000
    best = min(timeit.repeat(run, number=number, repeat=5))
    return best / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000, help="measured, per gateway")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="sluicegate-bench-guardrails-"))
    mock_port = free_port()
    processes = [start(["mock-upstream", "--port", str(mock_port)])]
    ports: dict[str, int] = {}
    try:
        wait_http(f"http://127.0.0.1:{mock_port}/health")
        for name, extra in (("none", ""), ("three", GUARDRAILS)):
            path = folder / f"{name}.yaml"
            db = folder / f"{name}.db"
            path.write_text(CONFIG.format(db=db, mock=mock_port, key=KEY) + extra)
            ports[name] = free_port()
            processes.append(start(["serve", "--config", str(path), "--port", str(ports[name])]))
        for port in ports.values():
            wait_http(f"http://127.0.0.1:{port}/health")
        samples = asyncio.run(measure(ports, args.requests, args.rounds))
    finally:
        for process in processes:
            process.terminate()
            process.wait(10)
    p50 = {name: statistics.median(s) * 1e6 for name, s in samples.items()}
    result = {
        "prompt_bytes": len(prompt_4kb()),
        "requests_per_gateway": len(samples["none"]),
        "p50_us_none": round(p50["none"], 1),
        "p50_us_three_guardrails": round(p50["three"], 1),
        "p50_delta_us": round(p50["three"] - p50["none"], 1),
        "in_process_us": round(in_process_us(), 1),
    }
    print("BENCH_JSON " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
