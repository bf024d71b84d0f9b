"""The benchmark scenarios; each writes raw JSON under bench/results/<stamp>/.

    python bench/suite.py [--quick] [--scenarios 1,2,3,4] [--runs 3] [--out DIR]

1  memory and idle CPU per idle messenger socket (SQLite), vs the Node relay
2  visitor -> rep latency at 1,000 msg/s, durable SQLite commits, vs Node and TCP floor
3  max sustained stored msg/s to three recipients, vs Node and TCP floor
4  PostgreSQL + Redis: 1 vs 2 server processes, cross-process latency; and 1 vs 2
   processes each capped to --s4-quota of a core (a cgroup each), i.e. scale-out

Servers run on core BENCH_SERVER_CORE (0), load generators on BENCH_LOADGEN_CORE (1).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import servers  # noqa: E402
from servers import LOADGEN_CORE, SERVER_CORE  # noqa: E402

PY = sys.executable
LOADGEN = str(BENCH / "loadgen.py")
IDLE_PER_WORKER = 9800  # each load generator process stays below the 20,000-fd limit


def log(msg: str) -> None:
    print(f"[suite {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def code_state() -> dict[str, Any]:
    """Which server code was measured (others edit src/ while benchmarks run)."""
    out: dict[str, Any] = {}
    with contextlib.suppress(Exception):
        out["head"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--short", "src"], cwd=ROOT, capture_output=True, text=True
        ).stdout.split("\n")
        out["src_dirty_files"] = [d for d in dirty if d.strip()]
    digest = hashlib.sha256()
    for path in sorted((ROOT / "src" / "pounce").rglob("*.py")):
        digest.update(path.read_bytes())
    out["src_sha256"] = digest.hexdigest()[:16]
    return out


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def run_loadgen(out: Path, *args: str, timeout: float = 900) -> dict[str, Any]:
    # the disk's own fsync stalls during each step, on the filesystem the databases use
    watch = ["--disk-watch", tempfile.gettempdir()]
    cmd = servers.pinned(LOADGEN_CORE, [PY, LOADGEN, "relay", *args, *watch, "--out", str(out)])
    subprocess.run(cmd, check=True, timeout=timeout)
    return json.loads(out.read_text())


def tmpdir(tag: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"pounce-bench-{tag}-"))


def seed_site_key(db_url: str, origin: str) -> str:
    import asyncio

    import loadgen

    org = asyncio.run(loadgen.seed(db_url, [origin], 0))
    return str(org.site_key)


# ---------------------------------------------------------------------------------------
# Scenario 1: idle sockets
# ---------------------------------------------------------------------------------------


class IdleWorker:
    def __init__(self, url: str, site_key: str) -> None:
        cmd = servers.pinned(
            LOADGEN_CORE, [PY, LOADGEN, "idle", "--url", url, "--site-key", site_key]
        )
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.count = 0
        self.read()

    def read(self) -> dict[str, Any]:
        line = self.p.stdout.readline()  # type: ignore[union-attr]
        if not line:
            raise RuntimeError("idle worker died")
        return dict(json.loads(line))

    def cmd(self, text: str) -> None:
        self.p.stdin.write(text + "\n")  # type: ignore[union-attr]
        self.p.stdin.flush()  # type: ignore[union-attr]

    def quit(self) -> None:
        with contextlib.suppress(Exception):
            self.cmd("quit")
            self.p.wait(timeout=60)
        if self.p.poll() is None:
            self.p.kill()


class IdleTarget:
    """One server plus the load generator processes holding sockets to it."""

    def __init__(self, name: str, proc: servers.Proc, site_key: str, max_sockets: int) -> None:
        self.name, self.proc = name, proc
        n = max(1, math.ceil(max_sockets / IDLE_PER_WORKER))
        self.workers = [IdleWorker(proc.url, site_key) for _ in range(n)]
        self.open = 0

    def start_connect(self, total: int) -> list[tuple[IdleWorker, int]]:
        """Ask the workers for sockets up to `total` (returns at once; see finish_connect)."""
        need = total - self.open
        plan = []
        for w in self.workers:
            take = min(need, IDLE_PER_WORKER - w.count)
            if take > 0:
                plan.append((w, take))
                need -= take
        for w, take in plan:
            w.cmd(f"connect {take}")
        self._t = time.monotonic()
        self._added = total - self.open
        self.open = total
        return plan

    def finish_connect(self, plan: list[tuple[IdleWorker, int]]) -> dict[str, Any]:
        failed = 0
        for w, take in plan:
            res = w.read()
            w.count += take
            failed += res.get("failed", 0)
        secs = time.monotonic() - self._t
        return {
            "secs": round(secs, 1),
            "failed_total": failed,
            "rate_per_s": round(self._added / max(secs, 0.01), 1),
        }

    def connect_to(self, total: int) -> dict[str, Any]:
        return self.finish_connect(self.start_connect(total))

    def status(self) -> dict[str, Any]:
        open_, closed = 0, 0
        codes: dict[str, int] = {}
        for w in self.workers:
            w.cmd("status")
            res = w.read()
            open_ += res["open"]
            closed += res["closed"]
            for k, v in res.get("close_codes", {}).items():
                codes[k] = codes.get(k, 0) + v
        return {"open": open_, "closed": closed, "close_codes": codes}

    def quit(self) -> None:
        for w in self.workers:
            w.quit()


def scenario1(args: argparse.Namespace, out_dir: Path) -> dict[str, Any]:
    levels = [500, 1000, 2000] if args.quick else [5000, 10000, 19500]
    idle_s = {lvl: (5 if args.quick else args.idle_seconds) for lvl in levels}
    if not args.quick:
        idle_s[levels[-1]] = max(idle_s[levels[-1]], 30)
    warm = 20
    runs = []
    n_runs = args.s1_runs or args.runs
    for run in range(n_runs):
        log(f"S1 run {run + 1}/{n_runs}: levels {levels}")
        gate = servers.wait_quiet()
        var = tmpdir("s1")
        # Memory/CPU of idle sockets do not depend on fsync; NORMAL makes 19.5k visitor
        # hellos (one write transaction each) finish sooner.
        pounce = servers.start_pounce(
            var, servers.sqlite_url(var), POUNCE_SQLITE_SYNCHRONOUS="NORMAL"
        )
        node = servers.start_node(var)
        site_key = seed_site_key(servers.sqlite_url(var), pounce.url)
        targets = [
            IdleTarget("pounce", pounce, site_key, levels[-1]),
            IdleTarget("node", node, site_key, levels[-1]),
        ]
        try:
            for t in targets:
                t.connect_to(warm)
            time.sleep(3)
            base = {
                t.name: {
                    "rss_kib": servers.rss_kib(t.proc.pid),
                    "fds": servers.open_fds(t.proc.pid),
                }
                for t in targets
            }
            levels_out = []
            for lvl in levels:
                entry: dict[str, Any] = {"sockets": lvl, "targets": {}}
                # both servers get their sockets at the same time (Node is done in seconds)
                slab0, sock0 = servers.slab_kib(), servers.sockstat()
                added = lvl - (levels_out[-1]["sockets"] if levels_out else warm)
                plans = [(t, t.start_connect(lvl)) for t in targets]
                with ThreadPoolExecutor(len(plans)) as pool:
                    done = [(t, pool.submit(t.finish_connect, plan)) for t, plan in plans]
                    for t, fut in done:
                        conn = fut.result()
                        entry["targets"][t.name] = {
                            "connect": conn,
                            "connect_rate_per_s": conn["rate_per_s"],
                        }
                time.sleep(1)
                slab1, sock1 = servers.slab_kib(), servers.sockstat()
                # kernel memory does not depend on the server: per connection, both ends
                entry["kernel"] = {
                    "slab_delta_kib": slab1 - slab0,
                    "slab_per_connection_kib": round((slab1 - slab0) / (added * len(targets)), 2),
                    "sockstat_tcp_mem_pages_delta": sock1.get("mem", 0) - sock0.get("mem", 0),
                    "sockstat_tcp_inuse": sock1.get("inuse"),
                    "note": "Slab: of /proc/meminfo; each connection is 2 sockets on this host",
                }
                time.sleep(2)  # let connect-time work finish before the idle window
                cpu0 = {t.name: servers.cpu_ticks(t.proc.pid) for t in targets}
                w0 = time.monotonic()
                time.sleep(idle_s[lvl])
                wall = time.monotonic() - w0
                cpu1 = {t.name: servers.cpu_ticks(t.proc.pid) for t in targets}
                for t in targets:
                    rss = servers.rss_kib(t.proc.pid)
                    st = t.status()
                    e = entry["targets"][t.name]
                    e.update(
                        rss_kib=rss,
                        rss_delta_kib=rss - base[t.name]["rss_kib"],
                        rss_per_socket_kib=round(
                            (rss - base[t.name]["rss_kib"]) / max(1, lvl - warm), 2
                        ),
                        fds=servers.open_fds(t.proc.pid),
                        idle_seconds=round(wall, 1),
                        idle_cpu_pct=round(
                            100 * (cpu1[t.name] - cpu0[t.name]) / servers.TICK / wall, 2
                        ),
                        status=st,
                    )
                prev = levels_out[-1] if levels_out else None
                if prev is not None:
                    for t in targets:
                        e = entry["targets"][t.name]
                        p = prev["targets"][t.name]
                        e["rss_marginal_per_socket_kib"] = round(
                            (e["rss_kib"] - p["rss_kib"]) / (lvl - prev["sockets"]), 2
                        )
                entry["loadavg"] = loadavg()
                levels_out.append(entry)
                log(
                    "S1 "
                    + " | ".join(
                        f"{n} {lvl}: {e['rss_per_socket_kib']} KiB/socket, "
                        f"idle CPU {e['idle_cpu_pct']}%, open {e['status']['open']}, "
                        f"connect {e['connect_rate_per_s']}/s"
                        for n, e in entry["targets"].items()
                    )
                )
            runs.append({"run": run, "gate": gate, "baseline": base, "levels": levels_out})
        finally:
            for t in targets:
                t.quit()
            pounce.stop()
            node.stop()
            shutil.rmtree(var, ignore_errors=True)
    return {"scenario": 1, "levels": levels, "warm_sockets": warm, "runs": runs}


# ---------------------------------------------------------------------------------------
# Scenarios 2 and 3: relay through Pounce (SQLite), the Node relay and the TCP floor
# ---------------------------------------------------------------------------------------


def relay_targets(var: Path, sync: str) -> dict[str, servers.Proc]:
    return {
        "pounce": servers.start_pounce(
            var, servers.sqlite_url(var), POUNCE_SQLITE_SYNCHRONOUS=sync
        ),
        "node": servers.start_node(var),
        "tcp": servers.start_tcp_floor(var),
    }


def loadgen_target_args(name: str, proc: servers.Proc) -> list[str]:
    url = proc.url.replace("tcp://", "http://")
    args = ["--target", name, "--visitor-url", url, "--server-pid", str(proc.pid)]
    if name == "pounce":
        args += ["--db-url", proc.extra["database_url"]]
    return args


def scenario2(args: argparse.Namespace, out_dir: Path) -> dict[str, Any]:
    rate = 1000
    duration = 3 if args.quick else 10
    low = 100  # a rate every target sustains, to show the unloaded per-message latency
    visitors = 100
    runs = []
    for run in range(args.runs):
        gate = servers.wait_quiet()
        var = tmpdir("s2")
        procs = relay_targets(var, "FULL")
        try:
            order = ["pounce", "node", "tcp"]
            order = order[run % 3 :] + order[: run % 3]
            res: dict[str, Any] = {"run": run, "gate": gate, "order": order, "targets": {}}
            for name in order:
                log(f"S2 run {run + 1}/{args.runs}: {name} at {rate} msg/s for {duration}s")
                r = run_loadgen(
                    out_dir / f"s2-run{run}-{name}.json",
                    *loadgen_target_args(name, procs[name]),
                    "--reps",
                    "1",
                    "--visitors",
                    str(visitors),
                    "--rates",
                    f"{low}:{2 if args.quick else 5},{rate}",
                    "--duration",
                    str(duration),
                    "--drain",
                    "10",
                )
                res["targets"][name] = r["steps"][-1]
                res.setdefault("low_rate", {})[name] = r["steps"][0]
            res["loadavg"] = loadavg()
            runs.append(res)
        finally:
            for p in procs.values():
                p.stop()
            shutil.rmtree(var, ignore_errors=True)
    return {
        "scenario": 2,
        "rate": rate,
        "low_rate": low,
        "duration_s": duration,
        "visitors": visitors,
        "reps": 1,
        "sqlite_synchronous": "FULL",
        "runs": runs,
    }


POUNCE_LADDER = [250, 350, 500, 700, 1000, 1400, 2000, 2800, 4000, 5600, 8000, 11000]
# the peers pass everything below ~4k; above ~10k the load generator's core is the limit
PEER_LADDER = [4000, 8000, 12000, 16000]
PER_VISITOR_RATE = 25  # < the server's 30 frames/s per-socket budget


def scenario3(args: argparse.Namespace, out_dir: Path) -> dict[str, Any]:
    duration = 2 if args.quick else 4
    runs = []
    for run in range(args.runs):
        gate = servers.wait_quiet()
        var = tmpdir("s3")
        procs = relay_targets(var, "FULL")
        try:
            res: dict[str, Any] = {"run": run, "gate": gate, "targets": {}}
            for name in ["pounce", "node", "tcp"]:
                ladder = POUNCE_LADDER if name == "pounce" else PEER_LADDER
                if args.quick:
                    ladder = ladder[:4]
                visitors = max(50, math.ceil(max(ladder) / PER_VISITOR_RATE))
                log(f"S3 run {run + 1}/{args.runs}: {name} ladder {ladder}")
                r = run_loadgen(
                    out_dir / f"s3-run{run}-{name}.json",
                    *loadgen_target_args(name, procs[name]),
                    "--reps",
                    "3",
                    "--visitors",
                    str(visitors),
                    "--rates",
                    ",".join(str(x) for x in ladder),
                    "--duration",
                    str(duration),
                    "--drain",
                    "5",
                    "--ladder",
                    "--max-p99-ms",
                    "100",
                )
                res["targets"][name] = r
            res["loadavg"] = loadavg()
            runs.append(res)
        finally:
            for p in procs.values():
                p.stop()
            shutil.rmtree(var, ignore_errors=True)
    return {
        "scenario": 3,
        "duration_s": duration,
        "reps": 3,
        "sqlite_synchronous": "FULL",
        "pass_rule": (
            "0 lost, 0 duplicated, no socket closed, achieved >= 95% offered, p99 <= 100 ms"
            " ('followed': the same without the p99 bound)"
        ),
        "runs": runs,
    }


# ---------------------------------------------------------------------------------------
# Scenario 4: PostgreSQL + Redis, one vs two processes
# ---------------------------------------------------------------------------------------

PG_LADDER = [150, 250, 350, 500, 700, 1000, 1400, 2000, 2800, 4000]
# capped layouts (a fraction of a core each): finer steps in the low range; the steps
# above 1,400 are for 2proc_capped (at 0.3 of a core each it followed 1,700-2,400 here)
PG_CAPPED_LADDER = [100, 150, 200, 250, 300, 350, 425, 500, 600, 700, 850, 1000, 1200, 1400]
PG_CAPPED_LADDER += [1700, 2000, 2400, 2800]


def scenario4(args: argparse.Namespace, out_dir: Path) -> dict[str, Any]:
    """One load generator run per layout: first LAT_RATE msg/s (latency), then the ladder.

    Layouts: (name, cores, cpu_quota per process, balanced). Unbalanced two-process
    layouts put the visitors on process A and the reps on B (every delivery crosses
    Redis); balanced ones spread visitors and reps round-robin over both processes."""
    duration = 2 if args.quick else 4
    lat_rate, lat_duration = 100, (3 if args.quick else 8)
    # the latency step is the ladder's first step; the ladders start above it
    ladders = {
        False: [r for r in PG_LADDER if r > lat_rate],
        True: [r for r in PG_CAPPED_LADDER if r > lat_rate],
    }
    if args.quick:
        ladders = {k: v[:3] for k, v in ladders.items()}
    visitors = max(50, math.ceil(max(max(v) for v in ladders.values()) / PER_VISITOR_RATE))
    quota = args.s4_quota
    runs = []
    for run in range(args.runs):
        res: dict[str, Any] = {"run": run, "gate": servers.wait_quiet(), "configs": {}}
        configs: list[tuple[str, tuple[str, ...], float | None, bool]] = [
            ("1proc", (SERVER_CORE,), None, False),
            # both processes on the server core: the same CPU budget as one process
            ("2proc_same_core", (SERVER_CORE, SERVER_CORE), None, False),
        ]
        if not args.no_spread and (run == 0 or args.spread_all_runs):
            # the second process on the load generator's core: there is no spare core
            configs.append(("2proc_spread", (SERVER_CORE, LOADGEN_CORE), None, False))
        # each process gets `quota` of a core (its own cgroup), as if on a machine of its
        # own; 2 x quota <= 1 core, so both fit on the server core without contending
        configs.append(("1proc_capped", (SERVER_CORE,), quota, False))
        configs.append(("2proc_capped", (SERVER_CORE, SERVER_CORE), quota, True))
        for cname, cores, cpu_quota, balanced in configs:
            ladder = ladders[cpu_quota is not None]
            var = tmpdir("s4")
            db = servers.create_pg_database()
            url = servers.pg_url(db)
            env = {
                "POUNCE_REDIS_URL": servers.REDIS_URL,
                "POUNCE_RUN_MIGRATIONS_ON_START": "false",
            }
            procs: list[servers.Proc] = []
            try:
                servers.pounce_migrate(var, url, **env)
                for i, core in enumerate(cores):
                    procs.append(
                        servers.start_pounce(
                            var, url, core=core, name=f"pounce{i}", cpu_quota=cpu_quota, **env
                        )
                    )
                if balanced:  # visitors and reps round-robin over every process
                    vis_urls = rep_urls = ",".join(p.url for p in procs)
                else:  # visitors on the first process, reps on the last
                    vis_urls, rep_urls = procs[0].url, procs[-1].url
                cmd = [
                    "--target",
                    "pounce",
                    "--visitor-url",
                    vis_urls,
                    "--rep-url",
                    rep_urls,
                    "--db-url",
                    url,
                ]
                for p in procs:
                    cmd += ["--server-pid", str(p.pid)]
                throttle0 = [p.throttle_stat() for p in procs]
                log(
                    f"S4 run {run + 1}/{args.runs}: {cname} (cores {','.join(cores)}"
                    + (f", cpu quota {cpu_quota} each" if cpu_quota is not None else "")
                    + f") ladder {ladder}"
                )
                r = run_loadgen(
                    out_dir / f"s4-run{run}-{cname}.json",
                    *cmd,
                    "--reps",
                    "3",
                    "--visitors",
                    str(visitors),
                    "--rates",
                    f"{lat_rate}:{lat_duration}," + ",".join(str(x) for x in ladder),
                    "--duration",
                    str(duration),
                    "--drain",
                    "5",
                    "--ladder",
                    "--watch-comm",
                    "postgres,redis-server",
                )
                throttle1 = [p.throttle_stat() for p in procs]
                res["configs"][cname] = {
                    "cores": list(cores),
                    "cpu_quota": cpu_quota,
                    "cfs_period_us": servers.CFS_PERIOD_US if cpu_quota is not None else None,
                    "balanced": balanced,
                    "cross_process": len(procs) > 1,
                    "visitors_per_url": r.get("visitors_per_url"),
                    "reps_per_url": r.get("reps_per_url"),
                    "ladder_rates": ladder,
                    # whole loadgen run (set-up included): periods the cap throttled
                    "cgroup_cpu_stat": [
                        {k: b.get(k, 0) - a.get(k, 0) for k in b} if b else None
                        for a, b in zip(throttle0, throttle1, strict=True)
                    ],
                    "max_passing_rate": r["max_passing_rate"],
                    "max_following_rate": r.get("max_following_rate"),
                    "latency": r["steps"][0],
                    "ladder": r["steps"][1:],
                }
            finally:
                for p in procs:
                    p.stop()
                servers.drop_pg_database(db)
                shutil.rmtree(var, ignore_errors=True)
        res["loadavg"] = loadavg()
        runs.append(res)
    return {
        "scenario": 4,
        "duration_s": duration,
        "latency_rate": lat_rate,
        "latency_duration_s": lat_duration,
        "reps": 3,
        "visitors": visitors,
        "cpu_quota": quota,
        "cfs_period_us": servers.CFS_PERIOD_US,
        "ladders": {"uncapped": ladders[False], "capped": ladders[True]},
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small counts, short steps, 1 run")
    parser.add_argument("--scenarios", default="1,2,3,4")
    parser.add_argument("--runs", type=int, default=None, help="runs per scenario (3; quick 1)")
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=10.0,
        help="S1 idle window at each level (the top level is always >= 30 s)",
    )
    parser.add_argument(
        "--s1-runs",
        type=int,
        default=None,
        help="runs of scenario 1 (default --runs); each full run connects 19.5k visitors, "
        "~5 min at Pounce's ~100-130 hellos/s",
    )
    parser.add_argument("--no-spread", action="store_true", help="S4: skip the 2proc_spread layout")
    parser.add_argument(
        "--spread-all-runs",
        action="store_true",
        help="S4: run 2proc_spread in every run (default: the first run only)",
    )
    parser.add_argument(
        "--s4-quota",
        type=float,
        default=0.3,
        help="S4: CPU budget of each process in the capped layouts, a fraction of one core "
        "(0.1-0.5: both capped processes share the server core)",
    )
    parser.add_argument("--out", help="results directory (default bench/results/<stamp>)")
    args = parser.parse_args()
    if not 0.1 <= args.s4_quota <= 0.5:
        parser.error("--s4-quota must be between 0.1 and 0.5 (two capped processes, one core)")
    if args.runs is None:
        args.runs = 1 if args.quick else 3
    stamp = time.strftime("%Y%m%d-%H%M%S") + ("-quick" if args.quick else "")
    out_dir = Path(args.out) if args.out else BENCH / "results" / stamp
    out_dir.mkdir(parents=True, exist_ok=True)
    latest = BENCH / "results" / "latest"
    with contextlib.suppress(OSError):
        if latest.is_symlink() or latest.exists():
            latest.unlink()
        latest.symlink_to(out_dir.resolve())
    meta = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "argv": sys.argv,
        "quick": args.quick,
        "runs": args.runs,
        "machine": servers.machine(),
        "code": code_state(),
        "server_core": SERVER_CORE,
        "nice": servers.NICE,
        "loadgen_core": LOADGEN_CORE,
        "loadavg_start": loadavg(),
        "fsync_4k_ms": servers.fsync_probe(Path(tempfile.gettempdir())),
    }
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=1))
    table = {"1": scenario1, "2": scenario2, "3": scenario3, "4": scenario4}
    for s in args.scenarios.split(","):
        t = time.monotonic()
        result = table[s.strip()](args, out_dir)
        result["wall_s"] = round(time.monotonic() - t, 1)
        result["code"] = code_state()
        (out_dir / f"scenario{s.strip()}.json").write_text(json.dumps(result, indent=1))
        log(f"scenario {s} done in {result['wall_s']}s -> {out_dir}/scenario{s.strip()}.json")
    meta["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    meta["loadavg_end"] = loadavg()
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=1))
    print(out_dir)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
