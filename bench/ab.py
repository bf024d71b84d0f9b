"""Two versions of Pounce under the same load, alternating in one run (not part of run.sh).

    python bench/ab.py --base 400c615 [--rate 2500] [--reps 3] [--visitors 440]
                       [--seconds 4] [--steps 2] [--runs 3]
    python bench/ab.py --base 0a29f6a --pg --rate 100 --visitors 50 --seconds 8
    python bench/ab.py --base 4ec654f --ladder 6200,7000,8000,9000,10000 --runs 3
    python bench/ab.py --base HEAD --current-env POUNCE_SQLITE_SYNCHRONOUS=OFF --ladder ...
    python bench/ab.py --base 48291e9 --idle 10000 --ladder 5000,6000,7000,8000,9000
    python bench/ab.py --base 48291e9 --current main --idle 5000 --ladder 2800,4000,5600

Checks the `--base` revision out into a temporary git worktree and runs the working
tree's `src/` and the base's alternately (base, current, base, current, ...), each
against a fresh SQLite (FULL) server on the server core, driven by `loadgen.py relay`
at one fixed rate, or (`--ladder`) up scenario 3's ladder with its pass rule, for the
highest rate each version passes and follows. `--pg` runs each version as two
processes on PostgreSQL + Redis (a fresh database each time, both on the server
core), the visitors on one and the reps on the other, so the latency is
cross-process. On a box whose speed drifts by the minute, only a comparison made this
way means anything. Prints the median server CPU, p50 and p99 per version (with
`--ladder`, the rates passed and followed) and writes the raw JSON under
bench/results/ab-<stamp>/. `--current-env KEY=VALUE` (repeatable) sets a setting for
the working tree's servers only: with `--base HEAD` it compares two settings of the
same code. `--current REV` runs that revision (checked out like the base) in place of the working
tree. `--idle N` also measures, in each run and for each version, scenario 1's
memory per idle messenger socket at N sockets (RSS growth after a 20-socket warm-up,
read after `--idle-seconds` idle; SQLite NORMAL), on a server of its own.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import servers  # noqa: E402
import suite  # noqa: E402


def checkout(rev: str) -> Path:
    where = Path(tempfile.mkdtemp(prefix="pounce-bench-ab-"))
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(where), rev],
        check=True,
        capture_output=True,
    )
    # the built front end is not in git; the servers under test need it to start
    shutil.copytree(ROOT / "src/pounce/static", where / "src/pounce/static", dirs_exist_ok=True)
    return where


def drop_checkout(where: Path) -> None:
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(where)],
        check=False,
        capture_output=True,
    )


@contextlib.contextmanager
def version(args: argparse.Namespace, src: Path | None) -> Iterator[dict[str, str]]:
    """The environment for one version's servers: the base's src/ ahead of the editable
    install, or the working tree with its `--current-env` settings."""
    settings: dict[str, str] = {}
    if src is None:
        os.environ.pop("PYTHONPATH", None)
        settings = dict(item.split("=", 1) for item in args.current_env)
    else:
        os.environ["PYTHONPATH"] = str(src / "src")  # ahead of the editable install
    try:
        yield settings
    finally:
        os.environ.pop("PYTHONPATH", None)


def idle(args: argparse.Namespace, src: Path | None) -> dict[str, float]:
    """Scenario 1's figure at one level: server RSS growth per idle messenger socket."""
    warm = 20
    with version(args, src) as settings:
        var = suite.tmpdir("ab-idle")
        url = servers.sqlite_url(var)
        proc = servers.start_pounce(var, url, POUNCE_SQLITE_SYNCHRONOUS="NORMAL", **settings)
        try:
            target = suite.IdleTarget("pounce", proc, suite.seed_site_key(url, proc.url), args.idle)
            try:
                target.connect_to(warm)
                time.sleep(3)
                base = servers.rss_kib(proc.pid)
                connect = target.connect_to(args.idle)
                time.sleep(args.idle_seconds)
                rss = servers.rss_kib(proc.pid)
                status = target.status()
            finally:
                target.quit()
        finally:
            proc.stop()
            shutil.rmtree(var, ignore_errors=True)
    return {
        "idle_kib": round((rss - base) / (args.idle - warm), 3),
        "idle_open": float(status["open"]),
        "connects_per_s": float(connect["rate_per_s"]),
    }


def one(args: argparse.Namespace, out: Path, src: Path | None) -> dict[str, float]:
    with version(args, src) as settings:
        return _one(args, out, settings)


def _one(args: argparse.Namespace, out: Path, settings: dict[str, str]) -> dict[str, float]:
    var = suite.tmpdir("ab")
    db = servers.create_pg_database() if args.pg else None
    procs: list[servers.Proc] = []
    try:
        if db is None:
            url = servers.sqlite_url(var)
            settings = {"POUNCE_SQLITE_SYNCHRONOUS": "FULL", **settings}
            procs.append(servers.start_pounce(var, url, **settings))
            target = suite.loadgen_target_args("pounce", procs[0])
        else:  # visitors on one process, reps on another: every delivery crosses Redis
            url = servers.pg_url(db)
            env = {
                "POUNCE_REDIS_URL": servers.REDIS_URL,
                "POUNCE_RUN_MIGRATIONS_ON_START": "false",
                **settings,
            }
            servers.pounce_migrate(var, url, **env)
            for i in range(2):
                procs.append(servers.start_pounce(var, url, name=f"pounce{i}", **env))
            target = ["--target", "pounce", "--visitor-url", procs[0].url]
            target += ["--rep-url", procs[1].url, "--db-url", url]
            target += [arg for p in procs for arg in ("--server-pid", str(p.pid))]
        rates = args.ladder or ",".join([str(args.rate)] * args.steps)
        ladder = ["--ladder", "--max-p99-ms", "100"] if args.ladder else []
        r = suite.run_loadgen(
            out,
            *target,
            "--reps",
            str(args.reps),
            "--visitors",
            str(args.visitors),
            "--rates",
            rates,
            "--duration",
            str(args.seconds),
            "--drain",
            "5",
            *ladder,
        )
    finally:
        for proc in procs:
            proc.stop()
        if db is not None:
            servers.drop_pg_database(db)
        shutil.rmtree(var, ignore_errors=True)
    steps = r["steps"]
    checked = {
        "lost_or_dup": sum(s["lost"] + s["duplicated"] for s in steps),
        # the disk's own fsyncs over 20 ms during the steps: they, not the version, set p99
        "disk_slow": sum((s.get("disk_stalls") or {}).get("slow", 0) for s in steps),
    }
    if args.ladder:
        return {
            "passing": float(r["max_passing_rate"] or 0),
            "followed": float(r["max_following_rate"] or 0),
            **checked,
        }
    return {
        "cpu": statistics.median(sum(s["server_cpu_pct"].values()) for s in steps),
        "p50": statistics.median(s["latency_ms"]["p50"] for s in steps),
        "p99": statistics.median(s["latency_ms"]["p99"] for s in steps),
        **checked,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", required=True, help="git revision to compare against")
    parser.add_argument(
        "--current",
        metavar="REV",
        help="a git revision to run as the current version instead of the working tree",
    )
    parser.add_argument("--rate", type=int, default=2500)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--visitors", type=int, default=440)
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--current-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting for the working tree's servers only (repeatable)",
    )
    parser.add_argument(
        "--ladder",
        help="comma-separated rates: climb them as scenario 3 does (pass: 0 lost or"
        " duplicated, >= 95%% achieved, p99 <= 100 ms) instead of holding --rate",
    )
    parser.add_argument(
        "--pg",
        action="store_true",
        help="PostgreSQL + Redis, two processes (visitors on one, reps on the other)",
    )
    parser.add_argument(
        "--idle",
        type=int,
        default=0,
        metavar="N",
        help="also measure memory per idle messenger socket at N sockets (scenario 1)",
    )
    parser.add_argument("--idle-seconds", type=float, default=30)
    args = parser.parse_args()
    if any("=" not in item for item in args.current_env):
        parser.error("--current-env takes KEY=VALUE")
    if args.current and args.current_env:
        parser.error("--current-env sets the working tree's servers only, not --current's")
    out = BENCH / "results" / time.strftime("ab-%Y%m%d-%H%M%S")
    out.mkdir(parents=True)
    base = checkout(args.base)
    current = checkout(args.current) if args.current else None
    results: dict[str, list[dict[str, float]]] = {"base": [], "current": []}
    try:
        for run in range(args.runs):
            servers.wait_quiet()
            for name, src in (("base", base), ("current", current)):
                got = one(args, out / f"{name}-{run}.json", src)
                if args.idle:
                    got.update(idle(args, src))
                results[name].append(got)
                print(f"run {run + 1} {name}: {got}", flush=True)
    finally:
        drop_checkout(base)
        if current is not None:
            drop_checkout(current)
    keys: tuple[str, ...] = ("passing", "followed") if args.ladder else ("cpu", "p50", "p99")
    if args.idle:
        keys += ("idle_kib",)
    summary = {
        name: {k: statistics.median(r[k] for r in rs) for k in keys} for name, rs in results.items()
    }
    (out / "summary.json").write_text(json.dumps({"args": vars(args), **summary}, indent=2))
    if args.idle:
        for name, s in summary.items():
            per_run = ", ".join(f"{r['idle_kib']:.2f}" for r in results[name])
            print(
                f"{name}: {s['idle_kib']:.2f} KiB per idle messenger socket at {args.idle}"
                f" (median; per run: {per_run})"
            )
    if args.ladder:
        for name, s in summary.items():
            runs = ", ".join(f"{r['passing']:.0f}/{r['followed']:.0f}" for r in results[name])
            print(
                f"{name}: max passing {s['passing']:.0f}, followed {s['followed']:.0f} msg/s"
                f" (median; per run passing/followed: {runs})"
            )
        return
    for name, s in summary.items():
        slow = sum(int(r.get("disk_slow", 0)) for r in results[name])
        print(
            f"{name}: server CPU {s['cpu']:.1f} %, p50 {s['p50']:.2f} ms, p99 {s['p99']:.1f} ms"
            f" (disk fsyncs over 20 ms during its runs: {slow})"
        )
    print(f"current/base CPU {summary['current']['cpu'] / summary['base']['cpu']:.3f}")


if __name__ == "__main__":
    main()
