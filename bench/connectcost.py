"""CPU per messenger connect: first-time visitors' WebSocket upgrade and `hello`.

    .venv/bin/python bench/connectcost.py [--sockets 2000] [--sync NORMAL] [--runs 3]

Starts `pounce serve` on SQLite (on the server core), opens `--sockets` messenger
sockets from the idle-socket holder (`loadgen.py idle`, on the load generator's core,
200 hellos in flight), and prints the connect rate and the server's CPU (user +
system) per connect. Each run gets a fresh server and database. Scenario 1 reports
the same connect rate; this gives its CPU.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import servers  # noqa: E402
import suite  # noqa: E402


def one(sockets: int, sync: str) -> dict[str, float]:
    var = suite.tmpdir("connectcost")
    url = servers.sqlite_url(var)
    proc = servers.start_pounce(var, url, POUNCE_SQLITE_SYNCHRONOUS=sync)
    try:
        target = suite.IdleTarget("pounce", proc, suite.seed_site_key(url, proc.url), sockets)
        c0, t0 = servers.cpu_ticks(proc.pid), time.monotonic()
        got = target.connect_to(sockets)
        wall = time.monotonic() - t0
        cpu = (servers.cpu_ticks(proc.pid) - c0) / servers.TICK
        target.quit()
    finally:
        proc.stop()
        shutil.rmtree(var, ignore_errors=True)
    return {
        "connects_per_s": round(sockets / wall, 1),
        "failed": got.get("failed_total", 0),
        "server_cpu_pct": round(100 * cpu / wall, 1),
        "cpu_ms_per_connect": round(1000 * cpu / sockets, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--sync", default="NORMAL", help="as scenario 1")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for _ in range(args.runs):
        runs.append(one(args.sockets, args.sync))
        print(json.dumps(runs[-1]), flush=True)
    for key in ("connects_per_s", "cpu_ms_per_connect"):
        print(f"median {key}: {statistics.median(r[key] for r in runs)}")


if __name__ == "__main__":
    main()
