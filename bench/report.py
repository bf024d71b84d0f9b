# ruff: noqa: E501  (Markdown table rows read best on one line)
"""Markdown tables from a results directory (default bench/results/latest).

    python bench/report.py [DIR] > summary.md

Figures are the median over runs with [min - max] across runs ("spread").
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent


def med(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def fmt(v: float | None, digits: int = 2) -> str:
    if v is None:
        return "-"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.{digits}f}"


def spread(values: list[float | None], digits: int = 2) -> str:
    vals = [v for v in values if v is not None]
    if not vals:
        return "-"
    if len(vals) == 1:
        return fmt(vals[0], digits)
    return f"{fmt(statistics.median(vals), digits)} [{fmt(min(vals), digits)}-{fmt(max(vals), digits)}]"


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "-"
    r = a / b
    if r < 0.1:
        return f"{r:.2g}x"
    return f"{r:.1f}x" if r < 100 else f"{r:,.0f}x"


def load(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def foreign(step: dict[str, Any]) -> float:
    """Host CPU (both cores, % of one core) not used by the server(s) or the load generator."""
    host = sum(step.get("host_core_busy_pct", {}).values())
    ours = step.get("loadgen_cpu_pct", 0) + sum(step.get("server_cpu_pct", {}).values())
    return max(0.0, host - ours - step.get("watched_cpu_pct", 0))


def s1(d: dict[str, Any]) -> str:
    out = ["### Scenario 1: idle messenger sockets (one process, SQLite)\n"]
    out.append(
        "| sockets | Pounce RSS/socket KiB | marginal KiB | Node RSS/socket KiB | marginal KiB "
        "| Pounce/Node | Pounce idle CPU % | Node idle CPU % | kernel slab/conn KiB | Pounce connects/s |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for i, lvl in enumerate(d["levels"]):
        rows = [r["levels"][i]["targets"] for r in d["runs"] if len(r["levels"]) > i]
        p = [r["pounce"] for r in rows]
        n = [r["node"] for r in rows]
        out.append(
            f"| {lvl:,} | {spread([x['rss_per_socket_kib'] for x in p])} "
            f"| {spread([x.get('rss_marginal_per_socket_kib') for x in p])} "
            f"| {spread([x['rss_per_socket_kib'] for x in n])} "
            f"| {spread([x.get('rss_marginal_per_socket_kib') for x in n])} "
            f"| {ratio(med([x['rss_per_socket_kib'] for x in p]), med([x['rss_per_socket_kib'] for x in n]))} "
            f"| {spread([x['idle_cpu_pct'] for x in p])} | {spread([x['idle_cpu_pct'] for x in n])} "
            f"| {spread([r['levels'][i]['kernel']['slab_per_connection_kib'] for r in d['runs'] if len(r['levels']) > i])} "
            f"| {spread([x['connect_rate_per_s'] for x in p], 0)} |"
        )
    opened = [
        f"run {r['run'] + 1}: pounce {r['levels'][-1]['targets']['pounce']['status']['open']:,} open / "
        f"{r['levels'][-1]['targets']['pounce']['status']['closed']} closed"
        for r in d["runs"]
        if r["levels"]
    ]
    out.append(
        f"\nIdle window: {d['runs'][0]['levels'][-1]['targets']['pounce']['idle_seconds']} s at "
        f"the top level. {'; '.join(opened)}.\n"
    )
    return "\n".join(out)


def lat_row(name: str, steps: list[dict[str, Any]]) -> tuple[str, float | None, float | None]:
    p50 = [s["latency_ms"].get("p50") for s in steps]
    p99 = [s["latency_ms"].get("p99") for s in steps]
    row = (
        f"| {name} | {spread(p50, 3)} | {spread(p99, 2)} "
        f"| {spread([s['latency_ms'].get('max') for s in steps], 1)} "
        f"| {spread([s['achieved_rate'] for s in steps], 0)} "
        f"| {sum(s['lost'] for s in steps)} / {sum(s['duplicated'] for s in steps)} "
        f"| {spread([sum(s['server_cpu_pct'].values()) for s in steps], 0)} "
        f"| {spread([s['send_lag_ms'].get('p99') for s in steps], 2)} "
        f"| {spread([foreign(s) for s in steps], 0)} "
        f"| {spread([srv_metric(s, 'server_delivery_mean_ms') for s in steps], 2)} "
        f"| {spread([srv_metric(s, 'mean_batch_messages') for s in steps], 2)} "
        f"| {', '.join(disk(s) for s in steps)} |"
    )
    return row, med(p50), med(p99)


def disk(step: dict[str, Any] | None) -> str:
    """The disk's own slow fsyncs during the step: `count (worst ms)`, "-" if not watched."""
    watch = (step or {}).get("disk_stalls")
    if not watch:
        return "-"
    return f"{watch['slow']} ({fmt(watch['worst_ms'], 0)})" if watch["slow"] else "0"


WEIGHTS = {"mean_batch_messages": "commit_batches", "server_delivery_mean_ms": "server_deliveries"}


def srv_metric(step: dict[str, Any] | None, key: str) -> float | None:
    """A figure from the servers' own /metrics over the step (Pounce only); means are
    weighted over the processes, other figures are the first process's."""
    if not step:
        return None
    found = [m for m in step.get("server_metrics") or [] if key in m]
    if not found:
        return None
    weight = WEIGHTS.get(key)
    if weight and len(found) > 1 and all(weight in m for m in found):
        total = sum(m[weight] for m in found)
        return sum(float(m[key]) * m[weight] for m in found) / total if total else None
    return float(found[0][key])


LAT_HEAD = (
    "| target | p50 ms | p99 ms | max ms | achieved msg/s | lost / dup | server CPU % "
    "| loadgen send-lag p99 ms | other tenants' CPU % | server-side mean ms | commit batch "
    "| disk fsyncs > 20 ms per run (worst ms) |"
    "\n|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def s2(d: dict[str, Any]) -> str:
    out = [
        f"### Scenario 2: visitor -> rep latency at {d['rate']:,} msg/s (SQLite synchronous=FULL)\n"
    ]
    for label, key in (
        (f"{d['rate']:,} msg/s", "targets"),
        (f"{d.get('low_rate', 100)} msg/s", "low_rate"),
    ):
        out.append(
            f"**{label}**, {len(d['runs'])} runs, {d['visitors']} visitors -> {d['reps']} rep\n"
        )
        out.append(LAT_HEAD)
        meds = {}
        for name in ("pounce", "node", "tcp"):
            steps = [r[key][name] for r in d["runs"] if name in r.get(key, {})]
            if not steps:
                continue
            row, p50, p99 = lat_row(name, steps)
            meds[name] = (p50, p99)
            out.append(row)
        if "pounce" in meds:
            out.append(
                f"\nRatios (medians): Pounce/Node p50 {ratio(meds['pounce'][0], meds.get('node', (None,))[0])}, "
                f"p99 {ratio(meds['pounce'][1], meds.get('node', (None, None))[1])}; "
                f"Pounce/floor p50 {ratio(meds['pounce'][0], meds.get('tcp', (None,))[0])}, "
                f"p99 {ratio(meds['pounce'][1], meds.get('tcp', (None, None))[1])}.\n"
            )
    return "\n".join(out)


def best_step(target: dict[str, Any]) -> dict[str, Any] | None:
    rate = target.get("max_passing_rate")
    for s in target["steps"]:
        if s["offered_rate"] == rate and s["passed"]:
            return s
    return None


def why_failed(s: dict[str, Any]) -> str:
    """`RATE (reasons)` for a step that did not pass."""
    why = []
    if s["lost"]:
        why.append(f"lost {s['lost']}")
    if s["duplicated"]:
        why.append(f"dup {s['duplicated']}")
    if s["closed_count"]:
        why.append(f"{s['closed_count']} closed")
    if (s["latency_ms"].get("p99") or 0) > 100:
        why.append(f"p99 {fmt(s['latency_ms'].get('p99'))} ms")
    if s["achieved_rate"] < 0.95 * s["offered_rate"]:
        why.append(f"achieved {s['achieved_rate']:.0f}")
    if s.get("loadgen_limited"):
        why.append("loadgen-limited")
    if (s.get("disk_stalls") or {}).get("slow"):
        why.append(f"disk fsyncs > 20 ms: {disk(s)}")
    return f"{s['offered_rate']:.0f} ({', '.join(why) or 'errors'})"


def s3(d: dict[str, Any]) -> str:
    out = [
        "### Scenario 3: max sustained stored msg/s, 3 recipients each (SQLite synchronous=FULL)\n",
        f"Pass rule per step ({d['duration_s']} s): {d['pass_rule']}.\n",
        "| target | max passing rate msg/s (per run) | median | p50 ms at max | p99 ms at max "
        "| server CPU % at max | commit batch at max | max rate followed, p99 aside (per run) "
        "| first failing step |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    meds = {}
    for name in ("pounce", "node", "tcp"):
        targets = [r["targets"][name] for r in d["runs"] if name in r["targets"]]
        rates = [t.get("max_passing_rate") for t in targets]
        bests = [best_step(t) for t in targets]
        fails = []
        for t in targets:
            f = [s for s in t["steps"] if not s["passed"]]
            if f:
                fails.append(why_failed(min(f, key=lambda s: s["offered_rate"])))
            else:
                fails.append("none (ladder top)")
        meds[name] = med(rates)
        out.append(
            f"| {name} | {', '.join(fmt(r, 0) for r in rates)} | {fmt(meds[name], 0)} "
            f"| {spread([b['latency_ms'].get('p50') if b else None for b in bests], 2)} "
            f"| {spread([b['latency_ms'].get('p99') if b else None for b in bests], 1)} "
            f"| {spread([sum(b['server_cpu_pct'].values()) if b else None for b in bests], 0)} "
            f"| {spread([srv_metric(b, 'mean_batch_messages') for b in bests], 2)} "
            f"| {', '.join(fmt(t.get('max_following_rate'), 0) for t in targets)} "
            f"| {'; '.join(fails)} |"
        )
    out.append(
        f"\nRatios (medians): Pounce/Node {ratio(meds.get('pounce'), meds.get('node'))}, "
        f"Pounce/floor {ratio(meds.get('pounce'), meds.get('tcp'))}.\n"
    )
    return "\n".join(out)


S4_LAYOUTS = ("1proc", "2proc_same_core", "2proc_spread", "1proc_capped", "2proc_capped")


def step_at(cfg: dict[str, Any], rate: float | None, key: str) -> dict[str, Any] | None:
    """The latency or ladder step run at `rate` that has `key` (passed / follows)."""
    for s in [cfg["latency"], *cfg["ladder"]]:
        if rate is not None and s["offered_rate"] == rate and s[key]:
            return s
    return None


def quota_label(c: dict[str, Any]) -> str:
    q = c.get("cpu_quota")
    if q is None:
        return "-"
    return f"{q:g} core" + (" each" if len(c["cores"]) > 1 else "")


def s4(d: dict[str, Any]) -> str:
    out = [
        "### Scenario 4: PostgreSQL + Redis, 1 vs 2 server processes\n",
        "| layout | cores | CPU quota | clients | max passing msg/s (per run) | median "
        "| max followed (per run) | median "
        f"| latency p50 ms @{d['latency_rate']}/s | p99 ms | server CPU % @max passing "
        "| server CPU % @max followed | PG+Redis CPU % @max passing | lowest step not followed |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    meds: dict[str, float | None] = {}
    fmeds: dict[str, float | None] = {}
    at_top: dict[str, bool] = {}
    p50s = {}
    for cname in S4_LAYOUTS:
        cfgs = [r["configs"][cname] for r in d["runs"] if cname in r["configs"]]
        if not cfgs:
            continue
        rates = [c.get("max_passing_rate") for c in cfgs]
        follows = [c.get("max_following_rate") for c in cfgs]
        meds[cname], fmeds[cname] = med(rates), med(follows)
        lats = [c["latency"] for c in cfgs]
        p50s[cname] = med([s["latency_ms"].get("p50") for s in lats])
        bests = [step_at(c, c.get("max_passing_rate"), "passed") for c in cfgs]
        fbests = [step_at(c, c.get("max_following_rate"), "follows") for c in cfgs]
        unfollowed = []
        for c in cfgs:
            f = [s for s in [c["latency"], *c["ladder"]] if not s["follows"]]
            unfollowed.append(
                why_failed(min(f, key=lambda s: s["offered_rate"])) if f else "none (ladder top)"
            )
        top = ["+" if u.startswith("none") else "" for u in unfollowed]
        at_top[cname] = all(top)
        c0 = cfgs[0]
        if len(c0["cores"]) == 1:
            clients = "all on one"
        elif c0.get("balanced"):
            clients = "round-robin"
        else:
            clients = "visitors A, reps B"
        out.append(
            f"| {cname} | {','.join(c0['cores'])} | {quota_label(c0)} | {clients} "
            f"| {', '.join(fmt(r, 0) for r in rates)} | {fmt(meds[cname], 0)} "
            f"| {', '.join(fmt(f, 0) + t for f, t in zip(follows, top, strict=True))} "
            f"| {fmt(fmeds[cname], 0)}{'+' if all(top) else ''} "
            f"| {spread([s['latency_ms'].get('p50') for s in lats], 2)} "
            f"| {spread([s['latency_ms'].get('p99') for s in lats], 1)} "
            f"| {spread([sum(b['server_cpu_pct'].values()) if b else None for b in bests], 0)} "
            f"| {spread([sum(b['server_cpu_pct'].values()) if b else None for b in fbests], 0)} "
            f"| {spread([b.get('watched_cpu_pct') if b else None for b in bests], 0)} "
            f"| {'; '.join(unfollowed)} |"
        )
    out.append(
        "\n`+`: every step followed, so the ladder's top is a lower bound.\n"
        f"\nThroughput ratio 2-proc/1-proc (medians of max passing): same core {ratio(meds.get('2proc_same_core'), meds.get('1proc'))}, "
        f"spread {ratio(meds.get('2proc_spread'), meds.get('1proc'))}. "
        f"Cross-process latency p50: {fmt(p50s.get('2proc_same_core'))} ms (same core), "
        f"{fmt(p50s.get('2proc_spread'))} ms (spread); in-process {fmt(p50s.get('1proc'))} ms.\n"
    )
    if "1proc_capped" in meds or "2proc_capped" in meds:
        q = d.get("cpu_quota")
        split = next(
            (
                r["configs"]["2proc_capped"].get("reps_per_url")
                for r in d["runs"]
                if "2proc_capped" in r["configs"]
            ),
            None,
        )
        reps = "/".join(str(n) for n in split.values()) if split else "-"
        out.append(
            f"Capped scale-out ({'-' if q is None else f'{q:g}'} of a core per process, each in its own cgroup, "
            f"period {d.get('cfs_period_us', 10000)} us; 2proc_capped reps per process {reps}): 2proc_capped/1proc_capped "
            f"max followed {ratio(fmeds.get('2proc_capped'), fmeds.get('1proc_capped'))}"
            f"{' (or more: 2proc_capped followed the ladder top)' if at_top.get('2proc_capped') else ''}, "
            f"max passing {ratio(meds.get('2proc_capped'), meds.get('1proc_capped'))} (medians; 2.0x is linear).\n"
        )
    return "\n".join(out)


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else BENCH / "results" / "latest"
    meta = load(root / "meta.json") or {}
    code = meta.get("code", {})
    print(
        f"Results: `{root.resolve()}`; started {meta.get('started')}, finished "
        f"{meta.get('finished')}; git HEAD {code.get('head')} with "
        f"{len(code.get('src_dirty_files', []))} uncommitted src/ changes (src sha256 "
        f"{code.get('src_sha256')}); BENCH_NICE {meta.get('nice', '0')}; fsync 4 KiB "
        f"{meta.get('fsync_4k_ms')} ms; loadavg {meta.get('loadavg_start')} -> "
        f"{meta.get('loadavg_end')}\n"
    )
    for name, fn in (("scenario1", s1), ("scenario2", s2), ("scenario3", s3), ("scenario4", s4)):
        d = load(root / f"{name}.json")
        if d:
            print(fn(d))
            print(f"_wall time {d.get('wall_s')} s_\n")


if __name__ == "__main__":
    main()
