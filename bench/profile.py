"""Profile `pounce serve` with py-spy under a benchmark load (not part of run.sh).

    .venv/bin/pip install -e '.[bench]'    # py-spy, into the venv
    python bench/profile.py relay --rate 300 [--reps 3] [--seconds 20] [--sync FULL]
    python bench/profile.py idle --sockets 5000 [--seconds 30]
    python bench/profile.py connect --sockets 3000
    python bench/profile.py relay --rate 50 --pg      # PostgreSQL + Redis

Writes bench/results/profiles/<mode>-<stamp>.txt (py-spy raw = collapsed stacks; feed
it to flamegraph.pl or speedscope) and prints bench/pyspy_top.py's summary. `--gil`
samples only the thread holding the GIL (where Python time really goes).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import servers  # noqa: E402
from suite import IdleTarget, seed_site_key  # noqa: E402

PYSPY = str(Path(sys.executable).parent / "py-spy")


def record(pid: int, seconds: float, out: Path, gil: bool) -> subprocess.Popen[bytes]:
    cmd = [
        PYSPY,
        "record",
        "-p",
        str(pid),
        "-d",
        str(int(seconds)),
        "-r",
        "250",
        "-f",
        "raw",
        "-o",
        str(out),
        "--nonblocking",
    ]
    if gil:
        cmd.append("--gil")
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["relay", "idle", "connect"])
    parser.add_argument("--rate", type=float, default=300)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument(
        "--visitors",
        type=int,
        default=None,
        help="default: rate / 25, at least 100 (the server allows 30 frames/s per socket)",
    )
    parser.add_argument("--sockets", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--sync", default="FULL")
    parser.add_argument("--gil", action="store_true")
    parser.add_argument("--pg", action="store_true", help="PostgreSQL + Redis instead of SQLite")
    args = parser.parse_args()
    if args.visitors is None:
        args.visitors = max(100, math.ceil(args.rate / 25))

    out_dir = BENCH / "results" / "profiles"
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{args.mode}-{time.strftime('%Y%m%d-%H%M%S')}.txt"
    var = Path(tempfile.mkdtemp(prefix="pounce-bench-prof-"))
    pg_db = None
    if args.pg:
        pg_db = servers.create_pg_database()
        db_url = servers.pg_url(pg_db)
        env = {"POUNCE_REDIS_URL": servers.REDIS_URL, "POUNCE_RUN_MIGRATIONS_ON_START": "false"}
        servers.pounce_migrate(var, db_url, **env)
        proc = servers.start_pounce(var, db_url, **env)
    else:
        db_url = servers.sqlite_url(var)
        proc = servers.start_pounce(var, db_url, POUNCE_SQLITE_SYNCHRONOUS=args.sync)
    try:
        if args.mode == "relay":
            lg = subprocess.Popen(
                servers.pinned(
                    servers.LOADGEN_CORE,
                    [
                        sys.executable,
                        str(BENCH / "loadgen.py"),
                        "relay",
                        "--target",
                        "pounce",
                        "--visitor-url",
                        proc.url,
                        "--db-url",
                        db_url,
                        "--reps",
                        str(args.reps),
                        "--visitors",
                        str(args.visitors),
                        "--rates",
                        str(args.rate),
                        "--duration",
                        str(args.seconds + 8),
                        "--server-pid",
                        str(proc.pid),
                        "--out",
                        str(out.with_suffix(".json")),
                    ],
                )
            )
            # sample inside the measured step: after connect (~120 visitors/s) and warm-up
            time.sleep(args.visitors / 100 + args.reps + 4)
            spy = record(proc.pid, args.seconds, out, args.gil)
            spy.wait()
            lg.wait()
        else:
            site_key = seed_site_key(db_url, proc.url)
            target = IdleTarget("pounce", proc, site_key, args.sockets)
            if args.mode == "connect":
                spy = record(proc.pid, args.seconds, out, args.gil)
                threading.Thread(target=target.connect_to, args=(args.sockets,)).start()
                spy.wait()
            else:
                print(json.dumps(target.connect_to(args.sockets)))
                time.sleep(3)
                c0, t0 = servers.cpu_ticks(proc.pid), time.monotonic()
                spy = record(proc.pid, args.seconds, out, args.gil)
                spy.wait()
                cpu = (servers.cpu_ticks(proc.pid) - c0) / servers.TICK / (time.monotonic() - t0)
                print(f"server CPU while idle (incl. py-spy's sampling overhead): {100 * cpu:.1f}%")
            target.quit()
    finally:
        proc.stop()
        if pg_db:
            servers.drop_pg_database(pg_db)
        shutil.rmtree(var, ignore_errors=True)
    print(f"profile: {out}")
    subprocess.run([sys.executable, str(BENCH / "pyspy_top.py"), str(out), "--top", "40"])


if __name__ == "__main__":
    main()
