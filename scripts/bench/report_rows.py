"""The report's rows: the column layout, number formats, the noise/error flags and the PASS /
MISS verdict against a target, and the rows of the phases measured two ways through the
gateway (provider paths, live-log subscribers, telemetry) with the notes on which core was
the limit."""

from __future__ import annotations

from typing import Any

from settings import LIVE_SUBSCRIBERS, NOISE_LIMIT, PROVIDER_PATHS, TARGETS

# metric, direct, gateway, added, target, verdict
ROW = "{:<40} {:>12} {:>14} {:>10}  {:<16} {}"


def ms(us: float) -> str:
    return f"{us / 1000:.3f}"


def short(count: int) -> str:
    """A request count as the soak labels show it: 0, 50k, 100k."""
    return f"{round(count / 1000)}k" if count >= 1000 else str(count)


def flag(*results: dict[str, Any]) -> str:
    noisy = any(r.get("noise_pct", 0.0) > NOISE_LIMIT for r in results)
    errors = any(r.get("errors", 0) for r in results)
    return ("!" if noisy else "") + ("E" if errors else "")


def verdict(ok: bool, value: float, limit: float, unit: str, higher_is_better: bool) -> str:
    if ok:
        return "PASS"
    miss = (limit - value) if higher_is_better else (value - limit)
    pct = 100.0 * miss / limit if limit else 0.0
    return f"MISS by {miss:,.{0 if unit == '' else 3}f}{unit} ({pct:.0f}%)"


def added_row(
    label: str, direct: dict[str, Any], gateway: dict[str, Any], p: str, limit: float | None
) -> tuple[float, str]:
    """What the gateway added at percentile `p` (ms), and its row: both sides, the difference,
    and a verdict against `limit` when the percentile has a target."""
    added = (gateway[f"{p}_us"] - direct[f"{p}_us"]) / 1000
    return added, ROW.format(
        label + flag(direct, gateway),
        ms(direct[f"{p}_us"]),
        ms(gateway[f"{p}_us"]),
        f"{added:+.3f}",
        "" if limit is None else f"added <= {limit}",
        "" if limit is None else verdict(added <= limit, added, limit, " ms", False),
    )


def rate_row(label: str, direct: dict[str, Any], gateway: dict[str, Any], limit: int) -> str:
    """Requests (or streams) per second both sides, the gateway's against its floor."""
    return ROW.format(
        label + flag(direct, gateway),
        f"{direct['rps']:,.0f}",
        f"{gateway['rps']:,.0f}",
        "",
        f">= {limit:,}",
        verdict(gateway["rps"] >= limit, gateway["rps"], limit, "", True),
    )


def provider_rows(results: dict[str, Any], summary: dict[str, Any]) -> list[str]:
    """Added c1 p50 / p99 per provider path, then each anthropic path's added p50 against
    the openai pass-through's (target: at most TARGETS["provider_vs_openai_p50_ms"] more)."""
    if not any(f"providers_{key}_gateway" in results for key in PROVIDER_PATHS):
        return []
    lines: list[str] = []
    added: dict[str, float] = {}
    for key, label in PROVIDER_PATHS.items():
        phase = "latency" if key == "openai" else f"providers_{key}"
        direct, gateway = results.get(f"{phase}_direct"), results.get(f"{phase}_gateway")
        if not (direct and gateway):
            continue
        for p in ("p50", "p99"):
            value, line = added_row(f"c1 {label} {p} (ms)", direct, gateway, p, None)
            summary[f"providers_{key}_added_{p}_ms"] = value
            if p == "p50":
                added[key] = value
            lines.append(line)
        cpu_ms = gateway["cpu"]["gateway_cpu_s"] / max(gateway["requests"], 1) * 1000
        summary[f"providers_{key}_cpu_ms_per_request"] = cpu_ms
        lines.append(ROW.format(f"c1 {label} CPU/req (ms)", "", f"{cpu_ms:.3f}", "", "", ""))
    limit = TARGETS["provider_vs_openai_p50_ms"]
    for key, label in PROVIDER_PATHS.items():
        if key == "openai" or key not in added or "openai" not in added:
            continue
        diff = added[key] - added["openai"]
        summary[f"providers_{key}_vs_openai_p50_ms"] = diff
        lines.append(
            ROW.format(
                f"c1 {label} vs openai p50",
                "",
                "",
                f"{diff:+.3f}",
                f"<= +{limit} ms",
                verdict(diff <= limit, diff, limit, " ms", False),
            )
        )
    return lines


def drop_rows(
    off: dict[str, Any],
    on: dict[str, Any],
    summary: dict[str, Any],
    key: str,
    label: str,
    cpu_label: str,
) -> list[str]:
    """c64 requests/s of two runs (in the direct and gateway columns) with the drop in % against
    TARGETS[f"{key}_drop_pct"], then the gateway's CPU per request in both."""
    drop = 100 * (1 - on["rps"] / max(off["rps"], 1e-9))
    limit = TARGETS[f"{key}_drop_pct"]
    summary[f"{key}_drop_pct"] = drop
    cpu = [r["cpu"]["gateway_cpu_s"] / max(r["requests"], 1) * 1000 for r in (off, on)]
    summary[f"{key}_cpu_ms_per_request"] = cpu
    return [
        ROW.format(
            f"c64 req/s, {label}" + flag(off, on),
            f"{off['rps']:,.0f}",
            f"{on['rps']:,.0f}",
            f"{-drop:+.1f}%",
            f"drop <= {limit:g}%",
            verdict(drop <= limit, drop, limit, "%", False),
        ),
        ROW.format(f"c64 gateway CPU/req (ms), {cpu_label}", f"{cpu[0]:.3f}", f"{cpu[1]:.3f}",
                   f"{100 * (cpu[1] / max(cpu[0], 1e-9) - 1):+.1f}%", "", ""),
    ]  # fmt: skip


def live_rows(results: dict[str, Any], summary: dict[str, Any]) -> list[str]:
    """c64 gateway requests/s without and with live-log subscribers (in the direct and
    gateway columns), the drop in %, and what the subscribers received."""
    off, on = results.get("live_off"), results.get("live_on")
    if not (off and on):
        return []
    lines = drop_rows(
        off, on, summary, "live", f"0 vs {LIVE_SUBSCRIBERS} live subs", "0 vs live subs"
    )
    subscribers = on.get("subscribers")
    if subscribers:
        events = subscribers["events"]
        lines.append(
            f"  live subscribers: {min(events):,}-{max(events):,} events each, "
            f"{sum(subscribers['bytes']) / 1e6:,.1f} MB in all, {subscribers['ended']} cut off"
        )
    return lines


def otel_rows(results: dict[str, Any], summary: dict[str, Any]) -> list[str]:
    """c64 requests/s with telemetry off and on (in the direct and gateway columns), the
    drop in %, CPU per request, and how many of the spans the sink received."""
    off, on = results.get("otel_off"), results.get("otel_on")
    if not (off and on):
        return []
    lines = drop_rows(off, on, summary, "otel", "telemetry off vs on", "otel off vs on")
    sink, expected = on.get("sink"), on.get("expected_spans")
    if sink and expected:
        summary["otel_spans"] = [sink["spans"], expected]
        lines.append(
            f"  otel sink: {sink['spans']:,} spans of {expected:,} expected (the twin's request-"
            f"log rows and their attempts) in {sink['batches']:,} batches, "
            f"{sink['bytes'] / 1e6:,.1f} MB"
        )
    return lines


def bottleneck_notes(results: dict[str, Any]) -> list[str]:
    notes: list[str] = []
    for phase, label in (("rps", "c64 non-stream"), ("streams", "c32 streams")):
        direct, gateway = results.get(f"{phase}_direct"), results.get(f"{phase}_gateway")
        if not (direct and gateway):
            continue
        cpu_g = gateway["cpu"]
        core0, core1 = cpu_g.get("core0_busy_pct", 0), cpu_g.get("core1_busy_pct", 0)
        mock_share = 100 * gateway["rps"] / max(direct["rps"], 1)
        notes.append(
            f"{label}: during the gateway run core 0 (gateway) was {core0:.0f}% busy, core 1 "
            f"(mock + wrk) {core1:.0f}%; gateway {cpu_g['gateway_cpu_s']:.1f} s CPU, "
            f"mock {cpu_g['mock_cpu_s']:.1f} s, wrk {cpu_g['client_cpu_s']:.1f} s, other "
            f"processes {gateway['noise_pct']:.1f}% of a core."
        )
        if core1 >= 95 and core0 < 90:
            notes.append(
                f"  -> BOTTLENECK: core 1 (mock + wrk) is saturated while the gateway's core has "
                f"{100 - core0:.0f}% idle; the gateway figure is a lower bound (the direct run "
                f"shows mock + wrk alone top out at {direct['rps']:,.0f}/s)."
            )
        elif core0 >= 90:
            notes.append(
                f"  -> the gateway's core is the limit; mock + wrk reach {direct['rps']:,.0f}/s "
                f"alone, so the gateway runs at {mock_share:.0f}% of the mock's capacity."
            )
        else:
            notes.append("  -> neither core saturated: latency-bound (connections x round trip).")
    return notes
