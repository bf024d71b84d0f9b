"""What one PostgreSQL batch commit costs: the appender's statement next to a plain INSERT.

    taskset -c 0 python bench/pgappend.py [--n 200]

Makes a fresh database, has `pounce serve` (PostgreSQL + Redis) store a few visitor
messages through the load generator so there are real conversations, then times
one message per commit, back to back and 5 ms apart, three ways in turn: what
`PostgresAppender.append_many` sends for one message (its one-message statement), the
batch statement with one message in it, and a one-row INSERT on another connection.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import time
from pathlib import Path

import asyncpg
import uvloop

from pounce.domain.model import AuthorKind
from pounce.store.appender import Draft, PostgresAppender
from pounce.store.records import now

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import servers  # noqa: E402
import suite  # noqa: E402


def seed(db: str) -> None:
    var = suite.tmpdir("pgappend")
    url = servers.pg_url(db)
    env = {"POUNCE_REDIS_URL": servers.REDIS_URL, "POUNCE_RUN_MIGRATIONS_ON_START": "false"}
    servers.pounce_migrate(var, url, **env)
    proc = servers.start_pounce(var, url, **env)
    try:
        suite.run_loadgen(
            var / "seed.json",
            *["--target", "pounce", "--visitor-url", proc.url, "--db-url", url],
            *["--server-pid", str(proc.pid), "--reps", "1", "--visitors", "20"],
            *["--rates", "50", "--duration", "1", "--drain", "1"],
        )
    finally:
        proc.stop()
        shutil.rmtree(var, ignore_errors=True)


async def measure(db: str, n: int) -> None:
    dsn = servers.pg_url(db).replace("+asyncpg", "")
    plain = await asyncpg.connect(dsn)
    await plain.execute("CREATE TABLE bench_probe (id serial PRIMARY KEY, body text)")
    row = await plain.fetchrow(
        "SELECT id, org_id, visitor_id FROM conversations WHERE status <> 'closed' LIMIT 1"
    )
    appender = PostgresAppender(dsn)
    conn = await appender._connection()
    count = 0

    def draft() -> Draft:
        nonlocal count
        count += 1
        return Draft(
            org_id=row["org_id"],
            conversation_id=row["id"],
            author_kind=AuthorKind.VISITOR,
            author_id=row["visitor_id"],
            client_id=f"bench-{count}",
            body="hello there",
            html="<p>hello there</p>",
        )

    async def one() -> None:
        (result,) = await appender.append_many([draft()])
        assert result.created

    async def batch() -> None:  # the batch statement with one message in it
        _, claimed, _ = await appender._batch(conn, [draft()], [0], now())
        assert claimed

    async def insert() -> None:
        await plain.execute("INSERT INTO bench_probe (body) VALUES ($1)", "x" * 200)

    ways = {"one-message statement": one, "batch statement": batch, "plain INSERT": insert}
    times: dict[tuple[str, float], list[float]] = {}
    for _ in range(2):  # alternate twice
        for gap in (0.0, 0.005):
            for _ in range(n):
                for name, way in ways.items():
                    t = time.perf_counter()
                    await way()
                    times.setdefault((name, gap), []).append((time.perf_counter() - t) * 1e3)
                    if gap:
                        await asyncio.sleep(gap)
    await appender.close()
    await plain.close()
    for (name, gap), ms in sorted(times.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        ms.sort()
        p90 = ms[int(len(ms) * 0.9)]
        print(
            f"{name:22s} {gap * 1000:.0f} ms apart: p50 {statistics.median(ms):.2f} ms,"
            f" p90 {p90:.2f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    db = servers.create_pg_database()
    try:
        seed(db)
        uvloop.run(measure(db, args.n))
    finally:
        servers.drop_pg_database(db)


if __name__ == "__main__":
    main()
