"""Are latency stalls garbage-collection pauses? The server in-process with gc.callbacks.

    python bench/gcprobe.py [--rate 250] [--reps 3] [--visitors 440] [--seconds 8]

Runs the same app and uvicorn settings as `pounce serve` (SQLite, FULL) in this process
pinned to the server core, drives it with `bench/loadgen.py relay` on the load generator
core, and records every collection's generation, duration and object count, then prints
them next to the load generator's per-100 ms latency stalls.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

import servers  # noqa: E402

pauses: list[tuple[float, int, float, int]] = []  # (monotonic start, generation, ms, collected)
_start: list[float] = [0.0]


def on_gc(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _start[0] = time.perf_counter()
    else:
        pauses.append(
            (
                time.monotonic(),
                info["generation"],
                (time.perf_counter() - _start[0]) * 1000,
                info["collected"],
            )
        )


async def main(args: argparse.Namespace) -> None:
    import uvicorn

    from pounce.app import create_app
    from pounce.cli import server_options
    from pounce.config import Settings

    var = Path(tempfile.mkdtemp(prefix="pounce-bench-gc-"))
    port = servers.free_port()
    db = servers.sqlite_url(var)
    os.environ.update(servers.pounce_env(var, db, port, POUNCE_SQLITE_SYNCHRONOUS=args.sync))
    settings = Settings()
    settings.host, settings.port = "127.0.0.1", port
    # the same uvicorn options as `pounce serve`, Pounce's WebSocket protocol included
    options = server_options(create_app(settings), settings)
    options["log_level"] = "warning"
    config = uvicorn.Config(**options)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started and not serving.done():
        await asyncio.sleep(0.05)
    gc.callbacks.append(on_gc)
    out = var / "r.json"
    lg = await asyncio.create_subprocess_exec(
        *servers.pinned(
            servers.LOADGEN_CORE,
            [
                sys.executable,
                str(BENCH / "loadgen.py"),
                "relay",
                "--target",
                "pounce",
                "--visitor-url",
                f"http://127.0.0.1:{port}",
                "--db-url",
                db,
                "--reps",
                str(args.reps),
                "--visitors",
                str(args.visitors),
                "--rates",
                str(args.rate),
                "--duration",
                str(args.seconds),
                "--server-pid",
                str(os.getpid()),
                "--out",
                str(out),
            ],
        ),
        stderr=asyncio.subprocess.PIPE,
    )
    assert lg.stderr is not None
    t_step = None
    while True:
        line = (await lg.stderr.readline()).decode()
        if not line:
            break
        if "warm-up done" in line:
            t_step = time.monotonic() + 0.05  # loadgen's t0 is ~50 ms after this line
    await lg.wait()
    step = json.loads(out.read_text())["steps"][0]
    print(
        f"rate {args.rate}: p50 {step['latency_ms']['p50']} ms, p99 {step['latency_ms']['p99']} ms"
    )
    print("latency stalls (s into the step, worst ms):", step["stalls"]["worst"][:20])
    in_step = [p for p in pauses if t_step and t_step <= p[0] <= t_step + args.seconds]
    by_gen = {g: [p[2] for p in in_step if p[1] == g] for g in (0, 1, 2)}
    for g, ms in by_gen.items():
        if ms:
            print(f"gen{g}: {len(ms)} collections, total {sum(ms):.0f} ms, max {max(ms):.1f} ms")
    print("collections over 20 ms (s into the step, generation, ms, objects collected):")
    for t, g, ms, n in in_step:
        if ms > 20:
            print(f"  {t - (t_step or 0):5.2f}s gen{g} {ms:6.1f} ms collected {n}")
    print(f"objects tracked by the GC now: {len(gc.get_objects()):,}")
    os._exit(0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=250)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--visitors", type=int, default=440)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--sync", default="FULL")
    a = parser.parse_args()
    os.sched_setaffinity(0, {int(servers.SERVER_CORE)})
    import uvloop

    uvloop.run(main(a))
