"""The report printed at the end of a run: the table of figures against their targets (a
summary of them kept in the results), the notes below it, and the optional JSON file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from report_rows import (
    ROW,
    added_row,
    bottleneck_notes,
    live_rows,
    ms,
    otel_rows,
    provider_rows,
    rate_row,
    short,
    verdict,
)
from settings import JSON_OUT, SECONDS, SERVER, SOAK_REQUESTS, TARGETS, log


def report(results: dict[str, Any], meta: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    lines.append(ROW.format("metric", "direct", "gateway", "added", "target", "verdict"))
    lines.append("-" * 120)
    summary: dict[str, Any] = {}

    lat_d, lat_g = results.get("latency_direct"), results.get("latency_gateway")
    if lat_d and lat_g:
        for p, limit in (("p50", TARGETS["added_p50_ms"]), ("p99", TARGETS["added_p99_ms"])):
            label = f"c1 non-stream latency {p} (ms)"
            summary[f"added_{p}_ms"], line = added_row(label, lat_d, lat_g, p, limit)
            lines.append(line)
    lines += provider_rows(results, summary)
    lines += live_rows(results, summary)
    lines += otel_rows(results, summary)
    rps_d, rps_g = results.get("rps_direct"), results.get("rps_gateway")
    if rps_d and rps_g:
        summary["rps_c64"] = rps_g["rps"]
        lines.append(rate_row("c64 non-stream requests/s", rps_d, rps_g, TARGETS["rps_c64"]))
        lines.append(
            ROW.format(
                "c64 non-stream latency p50 / p99 (ms)",
                f"{ms(rps_d['p50_us'])}/{ms(rps_d['p99_us'])}",
                f"{ms(rps_g['p50_us'])}/{ms(rps_g['p99_us'])}",
                "",
                "",
                "",
            )
        )
    tt_d, tt_g = results.get("ttft_direct"), results.get("ttft_gateway")
    if tt_d and tt_g:
        for p in ("p50", "p99"):
            label = f"c1 stream TTFT {p} (ms), n={tt_g['count']}"
            limit = TARGETS["added_ttft_ms"] if p == "p50" else None
            summary[f"added_ttft_{p}_ms"], line = added_row(label, tt_d, tt_g, p, limit)
            lines.append(line)
    st_d, st_g = results.get("streams_direct"), results.get("streams_gateway")
    if st_d and st_g:
        summary["streams_c32"] = st_g["rps"]
        lines.append(rate_row("c32 streams/s (20 chunks)", st_d, st_g, TARGETS["streams_c32"]))
    if rps_g:
        cpu = rps_g["cpu"]["gateway_cpu_s"] / max(rps_g["requests"], 1) * 1000
        summary["cpu_s_per_1k_requests"] = cpu
        lines.append(ROW.format("gateway CPU s / 1k requests (c64)", "", f"{cpu:.3f}", "", "", ""))
    if st_g:
        cpu = st_g["cpu"]["gateway_cpu_s"] / max(st_g["requests"], 1) * 1000
        summary["cpu_s_per_1k_streams"] = cpu
        lines.append(ROW.format("gateway CPU s / 1k streams (c32)", "", f"{cpu:.3f}", "", "", ""))
    start_mb = f"{meta['rss_start_kb'] / 1024:.1f}"
    lines.append(ROW.format("gateway RSS after start-up (MB)", "", start_mb, "", "", ""))
    soak = results.get("soak")
    limit = TARGETS["rss_mb"]
    if soak:
        points = soak["points"]
        text = " / ".join(f"{kb / 1024:.1f}" for _, kb in points)
        last_mb = points[-1][1] / 1024
        growth = (points[-1][1] - points[1][1]) / 1024
        flat = abs(growth) <= 2.0
        summary["rss_soak_mb"] = [kb / 1024 for _, kb in points]
        lines.append(
            ROW.format(
                "RSS at soak "
                + " / ".join(short(n) for n in (0, SOAK_REQUESTS // 2, SOAK_REQUESTS))
                + " (MB)",
                "",
                text,
                f"{growth:+.1f}",
                f"<= {limit}, flat",
                verdict(last_mb <= limit and flat, last_mb, limit, " MB", False)
                + ("" if flat else " (not flat: grew in the second half)"),
            )
        )
    hwm = meta["rss_peak_kb"] / 1024
    summary["rss_peak_mb"] = hwm
    lines.append(
        ROW.format(
            "gateway peak RSS, VmHWM (MB)",
            "",
            f"{hwm:.1f}",
            "",
            f"<= {limit}",
            verdict(hwm <= limit, hwm, limit, " MB", False),
        )
    )
    lines.append("")
    lines += bottleneck_notes(results)
    if soak:
        lines.append(
            f"soak: {soak['points'][-1][0]:,} requests at {soak['rps']:,.0f} req/s, RSS read after "
            + " / ".join(f"{n:,}" for n, _ in soak["points"])
            + f" requests; the gateway had answered {soak['total_gateway_requests']:,} requests "
            "in all by its end (warm-ups and earlier phases included)"
            + (f"; ERRORS: {soak['errors']:,}" if soak["errors"] else "")
        )
        rows = [(n, r) for n, r in soak.get("log_rows", []) if r is not None]
        if rows:
            lines.append(
                "request log: rows in the database / requests answered at the soak checkpoints: "
                + ", ".join(f"{r:,}/{n:,}" for n, r in rows)
                + f" (backlog held in memory at the end: ~{max(0, rows[-1][0] - rows[-1][1]):,})"
            )
    lines.append(
        "flags: ! = other processes used > 5% of a core during the run; "
        "E = the load generator saw errors or non-2xx answers"
    )
    results["summary"] = summary
    return lines


def publish(results: dict[str, Any], meta: dict[str, Any]) -> None:
    """Print the report under a one-line header; with BENCH_JSON_OUT also write every figure
    (and the summary the report added to `results`) as JSON."""
    lines = report(results, meta)
    print()
    print(
        f"sluicegate benchmark, {meta['date']}, {meta['cpus']} cores ({meta['cpu_model']}), "
        f"server={SERVER}, {SECONDS}s runs, revision {meta['revision']}"
    )
    print("\n".join(lines))
    if JSON_OUT:
        Path(JSON_OUT).write_text(json.dumps({"meta": meta, **results}, indent=2))
        log(f"figures written to {JSON_OUT}")
