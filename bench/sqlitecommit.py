"""Where a lone SQLite commit's time goes: the commit thread's hop and the checkpoints.

    taskset -c 0 python bench/sqlitecommit.py [--n 2000] [--gap-ms 1]

At one message per `--gap-ms` (scenario 2's pace), on a table shaped like `messages`
(a row plus two unique indexes scattered over 100 conversations), `synchronous=FULL`,
alternating in one run, each way `--n` commits:

- `thread`: BEGIN and INSERT on the event loop, COMMIT in the appender's commit thread
  (`store/appender.py::_Thread`), as Pounce does;
- `inline`: the same COMMIT on the event loop's thread (the loop blocks in fsync);
- `thread+bg-checkpoint`: as `thread`, with `wal_autocheckpoint=0` and a thread of
  its own running `PRAGMA wal_checkpoint(PASSIVE)` every 50 ms instead of SQLite's
  automatic checkpoint in the committing connection;
- `hop`: the commit thread running nothing (the bare round trip loop -> thread -> loop).

Prints p50 / p99 / max per way and the WAL file's size after it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import uvloop

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "src"))

from pounce.store.appender import _settle, _Thread  # noqa: E402

INSERT = "INSERT INTO m (conv, seq, author, cid, body, html) VALUES (?, ?, ?, ?, ?, ?)"
SCHEMA = (
    "CREATE TABLE m (id INTEGER PRIMARY KEY, conv TEXT, seq INT, author TEXT, cid TEXT,"
    " body TEXT, html TEXT, UNIQUE (conv, seq), UNIQUE (author, cid))"
)


def checkpoints(path: str, stop: threading.Event) -> None:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA synchronous=FULL")
    while not stop.wait(0.05):
        # fetchall: a half-read PRAGMA keeps a read transaction, and the WAL never restarts
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    conn.close()


async def way(name: str, n: int, gap: float, where: Path) -> None:
    path = str(where / f"{name}.db")
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(f"PRAGMA wal_autocheckpoint={0 if 'bg' in name else 1000}")
    conn.execute(SCHEMA)
    convs = [uuid.uuid4().hex for _ in range(100)]
    seqs = dict.fromkeys(convs, 0)
    committer = _Thread("commit")
    stop = threading.Event()
    background = threading.Thread(target=checkpoints, args=(path, stop), daemon=True)
    if "bg" in name:
        background.start()
    ms: list[float] = []
    for _ in range(n):
        await asyncio.sleep(gap)
        conv = random.choice(convs)
        seqs[conv] += 1
        row = (conv, seqs[conv], "v" + conv, uuid.uuid4().hex, "hello there " * 3, "<p>hi</p>")
        t = time.perf_counter()
        if name == "hop":
            await _settle(committer.run(lambda: None))
        else:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(INSERT, row)
            if name == "inline":
                conn.execute("COMMIT")
            else:
                await _settle(committer.run(conn.execute, "COMMIT"))
        ms.append((time.perf_counter() - t) * 1e3)
    wal = Path(path + "-wal")
    size = wal.stat().st_size / 1e6 if wal.exists() else 0.0  # before close removes it
    stop.set()
    if background.is_alive():
        background.join()
    committer.stop()
    conn.close()
    ms.sort()
    print(
        f"{name:22s} p50 {ms[len(ms) // 2]:.3f} ms  p99 {ms[int(len(ms) * 0.99)]:.2f} ms"
        f"  max {ms[-1]:.2f} ms  WAL {size:.1f} MB",
        flush=True,
    )


async def main(n: int, gap: float) -> None:
    var = Path(os.environ.get("POUNCE_VAR_DIR", BENCH.parent / "var"))
    var.mkdir(parents=True, exist_ok=True)
    where = Path(tempfile.mkdtemp(prefix="bench-sqlitecommit-", dir=var))  # the real disk
    try:
        for _ in range(2):  # alternate twice
            for name in ("thread", "inline", "thread+bg-checkpoint", "hop"):
                await way(name, n, gap, where)
                for f in where.iterdir():
                    f.unlink()
    finally:
        shutil.rmtree(where, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--gap-ms", type=float, default=1.0)
    args = parser.parse_args()
    uvloop.run(main(args.n, args.gap_ms / 1000))
