"""Summarise a py-spy collapsed-stack profile (`BENCH_PROFILE=/tmp/p.txt make bench`).

    python scripts/bench/profile_summary.py /tmp/p.txt [--top 25]

Prints, as % of all samples: self time per package (sluicegate, aiohttp, uvicorn, asyncio,
...), the functions with the most self time, and the inclusive time of sluicegate's own
functions. Self time of a Python frame includes the C code it called (uvloop, httptools,
orjson, the kernel's send/recv), since py-spy without --native sees Python frames only.

Without `--gil` (BENCH_PROFILE_ARGS="--gil"), a thread waiting to get the GIL back is sampled
too: a function that releases the GIL (a syscall such as os.urandom) then looks hot while the
request-log's database thread holds it. Profile with --gil for where the CPU goes.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def parse(path: Path) -> list[tuple[list[tuple[str, str]], int]]:
    stacks = []
    for raw in path.read_text().splitlines():
        stack, _, count = raw.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = []
        for frame in stack.split(";"):
            match = _FRAME.match(frame.strip())
            if match:
                frames.append((match["func"], match["file"]))
            else:
                frames.append((frame.strip(), "?"))
        stacks.append((frames, int(count)))
    return stacks


def package(file: str) -> str:
    head = file.split("/", 1)[0]
    return head.removesuffix(".py") if head else file


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    stacks = parse(args.profile)
    total = sum(count for _, count in stacks) or 1
    by_package: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for frames, count in stacks:
        func, file = frames[-1]
        by_package[package(file)] += count
        self_time[f"{func} ({file})"] += count
        seen = set()
        for func, file in frames:
            if file.startswith("sluicegate/"):
                name = f"{func} ({file})"
                if name not in seen:
                    seen.add(name)
                    inclusive[name] += count
    print(f"{total} samples\n\nself time by package:")
    for name, count in by_package.most_common():
        print(f"  {100 * count / total:5.1f}%  {name}")
    print(f"\ntop {args.top} functions by self time:")
    for name, count in self_time.most_common(args.top):
        print(f"  {100 * count / total:5.1f}%  {name}")
    print(f"\nsluicegate functions by inclusive time (top {args.top}):")
    for name, count in inclusive.most_common(args.top):
        print(f"  {100 * count / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
