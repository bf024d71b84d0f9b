"""Where an idle messenger socket's memory goes: the server in-process under tracemalloc.

    python bench/memprofile.py [--sockets 2000] [--top 25]

Runs the same app and uvicorn settings as `pounce serve` (SQLite, embedded) in this
process with tracemalloc on, holds N idle messenger sockets from a load generator
subprocess (bench/loadgen.py idle), and prints the Python allocation sites that grew,
per socket, next to the RSS growth per socket. The gap between the two is memory
Python does not trace (uvloop/httptools/SQLite C allocations, allocator slack).
tracemalloc slows the server ~2x; the figures are sizes, not speeds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

import servers  # noqa: E402


async def main(args: argparse.Namespace) -> None:
    import uvicorn

    from pounce.app import create_app
    from pounce.cli import server_options
    from pounce.config import Settings

    var = Path(tempfile.mkdtemp(prefix="pounce-bench-mem-"))
    port = servers.free_port()
    os.environ.update(
        servers.pounce_env(var, servers.sqlite_url(var), port, POUNCE_SQLITE_SYNCHRONOUS="NORMAL")
    )
    settings = Settings()
    settings.host, settings.port = "127.0.0.1", port
    app = create_app(settings)
    # the same uvicorn options as `pounce serve`, Pounce's WebSocket protocol included
    options = server_options(app, settings)
    options["log_level"] = "warning"
    config = uvicorn.Config(**options)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started and not serving.done():
        await asyncio.sleep(0.05)
    import loadgen

    org = await loadgen.seed(servers.sqlite_url(var), [f"http://127.0.0.1:{port}"], 0)
    worker = await asyncio.create_subprocess_exec(
        *servers.pinned(
            servers.LOADGEN_CORE,
            [
                sys.executable,
                str(BENCH / "loadgen.py"),
                "idle",
                "--url",
                f"http://127.0.0.1:{port}",
                "--site-key",
                org.site_key,
            ],
        ),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert worker.stdin and worker.stdout

    async def cmd(text: str) -> dict:
        worker.stdin.write((text + "\n").encode())  # type: ignore[union-attr]
        await worker.stdin.drain()  # type: ignore[union-attr]
        return json.loads(await worker.stdout.readline())  # type: ignore[union-attr]

    await worker.stdout.readline()
    await cmd("connect 50")  # warm every code path first
    await asyncio.sleep(2)
    tracemalloc.start(args.frames)
    rss0 = servers.rss_kib(os.getpid())
    snap0 = tracemalloc.take_snapshot()
    t = time.monotonic()
    res = await cmd(f"connect {args.sockets}")
    await asyncio.sleep(3)
    snap1 = tracemalloc.take_snapshot()
    rss1 = servers.rss_kib(os.getpid())
    n = res["open"] - 50
    traced = sum(s.size_diff for s in snap1.compare_to(snap0, "filename"))
    print(f"sockets: {n} (connected in {time.monotonic() - t:.1f}s)")
    print(
        f"RSS growth: {(rss1 - rss0) / n:.2f} KiB/socket; "
        f"Python-traced growth: {traced / 1024 / n:.2f} KiB/socket\n"
    )
    print(f"== top allocation sites by growth (KiB per socket), grouped by {args.group} ==")
    filt = [tracemalloc.Filter(False, tracemalloc.__file__)]
    stats = snap1.filter_traces(filt).compare_to(
        snap0.filter_traces(filt), "lineno" if args.group == "owner" else args.group
    )

    def short(frame: tracemalloc.Frame) -> str:
        name = frame.filename.split("site-packages/")[-1].split("/src/")[-1]
        return f"{name.split('/lib/python3.11/')[-1]}:{frame.lineno}"

    if args.group == "owner":
        # attribute each block to the innermost frame that is not the stdlib/uvloop: e.g. an
        # asyncio.Queue created by pounce/realtime/connection.py counts for that line
        def owner(tb: tracemalloc.Traceback) -> str:
            for frame in reversed(list(tb)):
                name = frame.filename
                if "/lib/python3." in name and "site-packages" not in name:
                    continue
                if "uvloop" in name or name.endswith("memprofile.py"):
                    continue
                return short(frame)
            return short(tb[-1])

        def by_owner(snap: tracemalloc.Snapshot) -> dict[str, tuple[int, int]]:
            acc: dict[str, tuple[int, int]] = {}
            for st in snap.filter_traces(filt).statistics("traceback"):
                k = owner(st.traceback)
                size, count = acc.get(k, (0, 0))
                acc[k] = (size + st.size, count + st.count)
            return acc

        a, b = by_owner(snap0), by_owner(snap1)
        diffs = sorted(
            ((b[k][0] - a.get(k, (0, 0))[0], b[k][1] - a.get(k, (0, 0))[1], k) for k in b),
            reverse=True,
        )
        for size, count, k in diffs[: args.top]:
            print(f"{size / 1024 / n:8.3f}  {count / n:6.2f} blocks  {k}")
        stats = []
    for s in stats[: args.top]:
        print(
            f"{s.size_diff / 1024 / n:8.3f}  {s.count_diff / n:6.2f} blocks  "
            f"{short(s.traceback[0])}"
        )
        if args.group == "traceback":
            for frame in list(s.traceback)[1:]:
                print(f"{'':26}<- {short(frame)}")
    print("\n== grouped by file ==")
    for s in snap1.filter_traces(filt).compare_to(snap0.filter_traces(filt), "filename")[:15]:
        name = s.traceback[0].filename.split("site-packages/")[-1].split("/src/")[-1]
        print(f"{s.size_diff / 1024 / n:8.3f}  {name}")
    sys.stdout.flush()
    worker.stdin.write(b"quit\n")
    await worker.wait()
    os._exit(0)  # skip the graceful shutdown of thousands of sockets


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--frames", type=int, default=1)
    parser.add_argument(
        "--group", default="lineno", choices=["lineno", "filename", "traceback", "owner"]
    )
    a = parser.parse_args()
    import uvloop

    uvloop.run(main(a))
