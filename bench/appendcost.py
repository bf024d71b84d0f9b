"""CPU and wall time of the SQLite message appender per commit and per message (not in
run.sh), by batch size and `synchronous` mode.

    taskset -c 0 .venv/bin/python bench/appendcost.py [--commits 1000] [--batches 1,4,16,64]
    taskset -c 0 .venv/bin/python bench/appendcost.py --split --modes FULL [--commits 3000]

A fresh database (migrated) with 100 open conversations; each batch appends one
message to each of `batch` different conversations, as group commit does under load,
through the server's own message log (`services/ingest.py`, which on SQLite tries
`SqliteAppender.try_append` first).
CPU is the process's user + system time (the commit thread's fsync included). Prints
one JSON line per (mode, batch).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sqlite3
import tempfile
import time
from functools import partial
from pathlib import Path

from pounce.domain.model import AuthorKind
from pounce.services.ingest import MessageLog
from pounce.store.appender import Appended, Draft, SqliteAppender, settle
from pounce.store.db import Database
from pounce.store.migrate import upgrade

STAMP = "2026-01-01 00:00:00.000000"


def seed(path: Path, page_size: int | None = None) -> None:
    if page_size:
        with sqlite3.connect(path) as conn:
            conn.execute(f"PRAGMA page_size={int(page_size)}")
            conn.execute("VACUUM")
    upgrade(f"sqlite+aiosqlite:///{path}")
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO orgs VALUES ('o', 'O', '{}', ?)", (STAMP,))
        conn.execute("INSERT INTO sites VALUES ('s', 'o', 'S', 'k', '[]', ?)", (STAMP,))
        for i in range(100):
            conn.execute(
                "INSERT INTO visitors (id, org_id, site_id, attributes, blocked, first_seen_at,"
                " last_seen_at) VALUES (?, 'o', 's', '{}', 0, ?, ?)",
                (f"v{i}", STAMP, STAMP),
            )
            conn.execute(
                "INSERT INTO conversations (id, org_id, site_id, visitor_id, status, source,"
                " routed_to, last_seq, visitor_read_seq, rep_read_seq, created_at, updated_at)"
                " VALUES (?, 'o', 's', ?, 'open', 'inbound', '[]', 0, 0, 0, ?, ?)",
                (f"c{i}", f"v{i}", STAMP, STAMP),
            )


async def commit(log: MessageLog, drafts: list[Draft]) -> None:
    """One batch, queued in one go as the server queues what arrives in a turn."""
    outcomes: list[Appended | BaseException] = []
    last: asyncio.Future[Appended] = asyncio.get_running_loop().create_future()
    for d in drafts[:-1]:
        log.submit(d, outcomes.append)
    log.submit(drafts[-1], partial(settle, last))
    created = (await last).created and all(isinstance(o, Appended) and o.created for o in outcomes)
    assert created and log.pacer.delay == 0, "every draft is new and nothing waits"


def open_log(path: Path, sync: str) -> MessageLog:
    return MessageLog(Database(f"sqlite+aiosqlite:///{path}", sqlite_synchronous=sync))


async def measure(path: Path, sync: str, batch: int, commits: int) -> dict[str, float]:
    log = open_log(path, sync)
    tag = f"{sync}-{batch}-{time.monotonic_ns()}"
    try:
        await commit(
            log, [Draft("o", "c0", AuthorKind.VISITOR, "v0", f"warm-{tag}", "x", "<p>x</p>")]
        )
        gc.freeze()  # as the server does after start-up (app.py)
        t0, w0, io0 = os.times(), time.perf_counter(), written()
        for k in range(commits):
            drafts = []
            for j in range(batch):
                i = (k * batch + j) % 100
                body = f"hello there [b:{k}:{j}]"
                drafts.append(
                    Draft(
                        "o",
                        f"c{i}",
                        AuthorKind.VISITOR,
                        f"v{i}",
                        f"{tag}-{k}-{j}",
                        body,
                        f"<p>{body}</p>",
                    )
                )
            await commit(log, drafts)
        wall = time.perf_counter() - w0
        t1, io1 = os.times(), written()
    finally:
        await log.db.dispose()
    user, system = t1.user - t0.user, t1.system - t0.system
    return {
        "sync": sync,  # type: ignore[dict-item]
        "batch": batch,
        "wall_us_per_commit": round(wall / commits * 1e6, 1),
        "cpu_us_per_commit": round((user + system) / commits * 1e6, 1),
        "user_us_per_message": round(user / commits / batch * 1e6, 1),
        "system_us_per_message": round(system / commits / batch * 1e6, 1),
        "cpu_us_per_message": round((user + system) / commits / batch * 1e6, 1),
        # bytes handed to write(2): the WAL, and the database file at checkpoints
        "written_kib_per_message": round((io1 - io0) / commits / batch / 1024, 1),
    }


def written() -> int:
    """This process's bytes written so far (`wchar` in /proc/self/io)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    return 0


async def split(path: Path, sync: str, commits: int) -> list[dict[str, float]]:
    """Where a one-message commit's cost goes: the statements alone (rolled back), the
    statements and COMMIT on this thread, and `served` (the message log: COMMIT in the
    commit thread, as the server does). Each `way` in turn, three rounds."""
    log = open_log(path, sync)
    appender = log.db.appender
    assert isinstance(appender, SqliteAppender)
    out = []
    try:
        await commit(
            log,
            [Draft("o", "c0", AuthorKind.VISITOR, "v0", f"warm-{time.monotonic_ns()}", "x", "x")],
        )
        conn = appender._conn
        assert conn is not None

        def draft(tag: str, k: int) -> list[Draft]:
            i, body = k % 100, f"hello there [b:{k}]"
            return [Draft("o", f"c{i}", AuthorKind.VISITOR, f"v{i}", f"{tag}-{k}", body, body)]

        for rnd in range(3):
            tag = f"{rnd}-{time.monotonic_ns()}"
            for way in ("statements", "inline", "served"):
                t0, w0 = os.times(), time.perf_counter()
                for k in range(commits):
                    if way == "served":
                        await commit(log, draft(f"{tag}{way}", k))
                        continue
                    conn.execute("BEGIN IMMEDIATE")
                    appender._apply(conn, draft(f"{tag}{way}", k), checked=False)
                    conn.execute("ROLLBACK" if way == "statements" else "COMMIT")
                wall, t1 = time.perf_counter() - w0, os.times()
                out.append(
                    {
                        "sync": sync,  # type: ignore[dict-item]
                        "way": way,  # type: ignore[dict-item]
                        "round": rnd,
                        "wall_us": round(wall / commits * 1e6, 1),
                        "user_us": round((t1.user - t0.user) / commits * 1e6, 1),
                        "system_us": round((t1.system - t0.system) / commits * 1e6, 1),
                    }
                )
                print(json.dumps(out[-1]), flush=True)
    finally:
        await log.db.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commits", type=int, default=1000)
    parser.add_argument("--batches", default="1,4,16,64")
    parser.add_argument("--modes", default="OFF,NORMAL,FULL")
    parser.add_argument(
        "--split",
        action="store_true",
        help="one message per commit: statements, COMMIT inline, served (per commit)",
    )
    parser.add_argument("--page-size", type=int, help="create the database with this page size")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pounce-bench-append-") as tmp:
        path = Path(tmp) / "append.db"
        seed(path, args.page_size)
        with sqlite3.connect(path) as conn:
            print(json.dumps({"page_size": conn.execute("PRAGMA page_size").fetchone()[0]}))
        if args.split:
            for sync in args.modes.split(","):
                asyncio.run(split(path, sync, args.commits))
            return
        for sync in args.modes.split(","):
            for batch in (int(b) for b in args.batches.split(",")):
                print(json.dumps(asyncio.run(measure(path, sync, batch, args.commits))), flush=True)


if __name__ == "__main__":
    main()
