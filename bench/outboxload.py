"""Scenario 2's chat latency with a slow mail server behind 100 pending deliveries.

Two servers of the same configuration (SQLite, synchronous=FULL, POUNCE_SMTP_URL at a
local SMTP server that takes 2 s per message, one message at a time) under scenario 2's
load (`loadgen.py relay`: 1 rep, 100 visitors, 100 msg/s then 1,000 msg/s for 10 s):

- `idle`: nothing in the outbox;
- `slow_smtp`: 100 transcript emails queued just before the load, so the outbox worker
  holds a batch of SMTP conversations open for the whole run (each finishes 2 s after
  the one before it), claiming and recording outcomes in between.

The modes alternate over `--runs`; each run writes the load generator's JSON and the
outbox's state before and after under `--out`, and a summary is printed.

    .venv/bin/python bench/outboxload.py --runs 3 --out bench/results/outbox
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

from aiosmtpd.controller import Controller  # noqa: E402
from tests.support import clients  # noqa: E402
from tests.support.seed import seed_org  # noqa: E402

import servers  # noqa: E402
from pounce.store import outbox as outbox_store  # noqa: E402
from pounce.store.db import Database  # noqa: E402
from servers import LOADGEN_CORE  # noqa: E402

PENDING = 100
SECONDS_PER_MESSAGE = 2.0


class SlowSmtp:
    """Accepts one message at a time, each after `delay` seconds."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.accepted = 0
        self._lock: asyncio.Lock | None = None
        self._count = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            await asyncio.sleep(self.delay)
        with self._count:
            self.accepted += 1
        return "250 OK"


async def queue_transcripts(url: str, db_url: str, n: int) -> None:
    """A visitor's conversation, then `n` transcript emails of it in the outbox (as
    closing or resending would write them)."""
    org = await seed_org(db_url, origins=[url])
    visitor, _ = await clients.visitor(url, org.site_key)
    ack = await visitor.request({"type": "message", "body": "hello, *bench*"})
    await visitor.close()
    db = Database(db_url)
    try:
        async with db.write() as conn:
            now = time.time()
            for i in range(n):
                await outbox_store.add(
                    conn,
                    org_id=org.id,
                    kind="email.transcript",
                    key=f"bench:{i}",
                    payload={"conversation_id": ack["conversation_id"], "to": f"v{i}@bench.test"},
                    now=now,
                )
    finally:
        await db.dispose()


async def outbox_state(db_url: str) -> dict[str, int]:
    db = Database(db_url)
    try:
        async with db.read() as conn:
            return await outbox_store.counts(conn)
    finally:
        await db.dispose()


def one_run(mode: str, run: int, out: Path, quick: bool) -> dict[str, Any]:
    gate = servers.wait_quiet()
    var = Path(tempfile.mkdtemp(prefix=f"pounce-bench-outbox-{mode}-"))
    smtp = SlowSmtp(SECONDS_PER_MESSAGE)
    port = servers.free_port()
    controller = Controller(smtp, hostname="127.0.0.1", port=port)
    controller.start()
    db_url = servers.sqlite_url(var)
    proc = servers.start_pounce(
        var,
        db_url,
        POUNCE_SQLITE_SYNCHRONOUS="FULL",
        POUNCE_SMTP_URL=f"smtp://127.0.0.1:{port}",
        POUNCE_SMTP_TIMEOUT_SECONDS="600",
        POUNCE_OUTBOX_LEASE_SECONDS="3600",
    )
    try:
        if mode == "slow_smtp":
            asyncio.run(queue_transcripts(proc.url, db_url, PENDING))
        before = asyncio.run(outbox_state(db_url))
        res_path = out / f"outbox-{mode}-run{run}.json"
        cmd = servers.pinned(
            LOADGEN_CORE,
            [
                sys.executable,
                str(BENCH / "loadgen.py"),
                "relay",
                "--target",
                "pounce",
                "--visitor-url",
                proc.url,
                "--server-pid",
                str(proc.pid),
                "--db-url",
                db_url,
                "--reps",
                "1",
                "--visitors",
                "100",
                "--rates",
                f"100:{2 if quick else 5},1000",
                "--duration",
                str(3 if quick else 10),
                "--drain",
                "10",
                "--out",
                str(res_path),
            ],
        )
        subprocess.run(cmd, check=True, timeout=900)
        after = asyncio.run(outbox_state(db_url))
        steps = json.loads(res_path.read_text())["steps"]
        return {
            "mode": mode,
            "run": run,
            "gate": gate,
            "outbox_before": before,
            "outbox_after": after,
            "emails_accepted": smtp.accepted,
            "low": steps[0],
            "high": steps[-1],
        }
    finally:
        proc.stop()
        controller.stop(no_assert=True)
        shutil.rmtree(var, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "outbox")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for run in range(args.runs):
        modes = ["idle", "slow_smtp"] if run % 2 == 0 else ["slow_smtp", "idle"]
        for mode in modes:
            r = one_run(mode, run, args.out, args.quick)
            results.append(r)
            for step in ("low", "high"):
                s = r[step]
                lat = s["latency_ms"]
                print(
                    f"run {run} {mode:9s} {step:4s} {s['achieved_rate']:7.1f} msg/s "
                    f"p50 {lat.get('p50')} p99 {lat.get('p99')} max {lat.get('max')} ms "
                    f"srv {s.get('server_cpu_pct')}% lost {s['lost']}",
                    flush=True,
                )
            print(
                f"run {run} {mode:9s} outbox before {r['outbox_before']} after "
                f"{r['outbox_after']}, emails accepted during the run {r['emails_accepted']}",
                flush=True,
            )
    (args.out / "summary.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
