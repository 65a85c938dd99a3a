#!/usr/bin/env bash
# `make bench`: the gateway vs direct-to-mock, gateway pinned alone to core 0, mock and load
# generator on core 1. Method and results: docs/benchmarks.md. All traffic stays on 127.0.0.1.
#
#   BENCH_SECONDS=2 BENCH_SKIP_SOAK=1 make bench     # quick smoke run (about 40 s)
#   make bench                                       # full: 10 s runs, 100k-request soak,
#                                                    # then the held-streams phase (held.py)
#   BENCH_SERVER=granian make bench                  # the same app under granian
#
# Other knobs (BENCH_WARMUP, BENCH_SOAK_REQUESTS, BENCH_JSON_OUT, BENCH_PROFILE,
# BENCH_QUIET_TIMEOUT) are described at the top of scripts/bench/run.py.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${VENV:-$root/.venv}"
python="$venv/bin/python"

if [[ ! -x "$python" ]]; then
    echo "bench: no venv at $venv; run 'make bench' (it creates it) or set VENV" >&2
    exit 1
fi
if ! command -v wrk >/dev/null 2>&1 && [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "bench: installing wrk (Debian package)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
for tool in wrk taskset; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "bench: '$tool' is required (Debian/Ubuntu: apt-get install wrk util-linux)" >&2
        exit 1
    fi
done
if [[ "$(nproc --all)" -lt 2 ]]; then
    echo "bench: needs 2 CPU cores (gateway on core 0, mock + load generator on core 1)" >&2
    exit 1
fi

"$python" "$root/scripts/bench/run.py" "$@"
# The held-streams phase (1,000 and 5,000 slow streams open at once, issue 11) starts a
# gateway and a mock of its own, so it runs after the others: in a full run, or when
# BENCH_PHASES names it (`make bench-held` runs it alone).
if [[ -z "${BENCH_PHASES+set}" || ",${BENCH_PHASES}," == *",held,"* ]]; then
    "$python" "$root/scripts/bench/held.py"
fi
