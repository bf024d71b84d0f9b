"""Open-loop load generator for Pounce and its peers (Node `ws` relay, raw TCP floor).

    loadgen.py relay ...   visitors send messages on a fixed timetable, reps receive them
    loadgen.py idle ...    hold many idle messenger sockets (driven over stdin/stdout)

`relay` (see `--help`): N reps log in (POST /api/v1/session), open /ws/console, say
hello and become available; V visitors open /ws/messenger, say hello (visitor_token
null, a page) and each sends one warm-up message, which opens its inbound conversation
and (routing rule mode EVERYONE) alerts every rep. The conversations are never started,
so every later visitor message goes to every rep: with `--reps 3`, three recipients.

Then, for each offered rate R (a ladder with `--rates 500,1000,...`), message k is
SCHEDULED at t0 + k/R and sent by visitor k mod V, its body stamped with
`[b:<scheduled monotonic ns>:<visitor>:<k>:<step>]`. A rep socket measures latency as
(time the chunk holding the frame was read) - (scheduled time), so a late send or a
stalled server counts in full: no coordinated omission. Each rep checks per
conversation that seq goes up by exactly one and that no message arrives twice.
Time is CLOCK_MONOTONIC, shared by all processes on the host.

A step PASSES when nothing is lost or duplicated, no socket was closed, the rate
achieved during the send window is >= 95 % of the offered rate, and p99 <= --max-p99-ms.
With `--ladder`, the first failing step ends the ladder (after one midpoint retry).

Targets: `pounce` and `node` speak protocol v1 over WebSocket (bench/wsclient.py);
`tcp` speaks bench/peer/tcp_floor.py's line protocol.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import gc
import json
import math
import os
import resource
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

import wsclient  # noqa: E402

loads = orjson.loads
BODY = "Hi! I have a question about your pricing plans for teams, can someone help?"
PASSWORD = "correct horse battery"  # noqa: S105 - tests/support/seed.py's PASSWORD


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def cpu_ticks(pid: int | str = "self") -> int:
    """utime + stime of a process, in clock ticks."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


TICK = os.sysconf("SC_CLK_TCK")


def comm_ticks(names: set[str]) -> dict[int, int]:
    """utime+stime of every process whose comm is in `names` (e.g. postgres, redis-server)."""
    out: dict[int, int] = {}
    if not names:
        return out
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as fh:
                if fh.read().strip() not in names:
                    continue
            out[int(entry)] = cpu_ticks(entry)
        except OSError:
            continue
    return out


def core_ticks() -> dict[str, tuple[int, int]]:
    """Per core (busy, total) clock ticks from /proc/stat."""
    out = {}
    with open("/proc/stat") as fh:
        for line in fh:
            if line.startswith("cpu") and line[3].isdigit():
                name, *vals = line.split()
                nums = [int(x) for x in vals[:8]]
                idle = nums[3] + nums[4]
                out[name] = (sum(nums) - idle, sum(nums))
    return out


def core_busy_pct(a: dict[str, tuple[int, int]], b: dict[str, tuple[int, int]]) -> dict[str, float]:
    return {k: round(100 * (b[k][0] - a[k][0]) / max(1, b[k][1] - a[k][1]), 1) for k in b if k in a}


def pct(sorted_ns: list[int], q: float) -> float | None:
    if not sorted_ns:
        return None
    i = min(len(sorted_ns) - 1, max(0, math.ceil(q * len(sorted_ns)) - 1))
    return round(sorted_ns[i] / 1e6, 4)


def summary_ms(values: list[int]) -> dict[str, Any]:
    s = sorted(values)
    if not s:
        return {"n": 0}
    return {
        "n": len(s),
        "p50": pct(s, 0.50),
        "p90": pct(s, 0.90),
        "p99": pct(s, 0.99),
        "p999": pct(s, 0.999),
        "max": round(s[-1] / 1e6, 4),
        "mean": round(sum(s) / len(s) / 1e6, 4),
    }


# ---------------------------------------------------------------------------------------
# Shared run state
# ---------------------------------------------------------------------------------------


class Run:
    def __init__(self) -> None:
        self.step = -1
        self.window_end = 0
        self.errors: collections.Counter[str] = collections.Counter()
        self.ack_lat: dict[int, list[int]] = collections.defaultdict(list)
        self.acks: collections.Counter[int] = collections.Counter()
        self.echoes = 0
        self.closed: list[tuple[str, int | None]] = []


def parse_tag(body: str) -> tuple[int, int, int, int] | None:
    i = body.rfind("[b:")
    if i < 0:
        return None
    a, b, c, d = body[i + 3 : body.index("]", i)].split(":")
    return int(a), int(b), int(c), int(d)


class Recipient:
    """A rep socket's bookkeeping: deliveries, latency, duplicates, seq continuity."""

    def __init__(self, run: Run, name: str) -> None:
        self.run = run
        self.name = name
        self.seen: set[int] = set()
        self.last_seq: dict[Any, int] = {}
        self.lat: dict[int, list[int]] = collections.defaultdict(list)
        self.sched: dict[int, list[int]] = collections.defaultdict(list)
        self.in_window: collections.Counter[int] = collections.Counter()
        self.dups: collections.Counter[int] = collections.Counter()
        self.gaps = 0
        self.reorders = 0
        self.warm = 0
        self.other: collections.Counter[str] = collections.Counter()
        self.waiters: list[tuple[Callable[[dict[str, Any]], bool], asyncio.Future[Any]]] = []

    def delivery(self, conv: Any, seq: int, tag: tuple[int, int, int, int] | None, t: int) -> None:
        last = self.last_seq.get(conv, 0)
        if seq == last + 1:
            self.last_seq[conv] = seq
        elif seq > last + 1:
            self.gaps += seq - last - 1
            self.last_seq[conv] = seq
        else:
            self.reorders += 1
        if tag is None:
            return
        sched, _v, n, step = tag
        if n in self.seen:
            self.dups[step] += 1
            return
        self.seen.add(n)
        if step < 0:
            self.warm += 1
            return
        self.lat[step].append(t - sched)
        self.sched[step].append(sched)
        if t <= self.run.window_end:
            self.in_window[step] += 1

    def control(self, d: dict[str, Any]) -> None:
        self.other[str(d.get("type"))] += 1
        if d.get("type") == "error":
            self.run.errors[f"rep:{d.get('code')}"] += 1
        for i, (pred, fut) in enumerate(self.waiters):
            if pred(d):
                del self.waiters[i]
                if not fut.done():
                    fut.set_result(d)
                break

    def on_ws_frame(self, payload: bytes, t: int) -> None:
        d = loads(payload)
        if d.get("type") == "message":
            self.delivery(d["conversation_id"], d["seq"], parse_tag(d["body"]), t)
        else:
            self.control(d)

    async def wait_for(self, pred: Callable[[dict[str, Any]], bool], timeout: float = 30) -> Any:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiters.append((pred, fut))
        return await asyncio.wait_for(fut, timeout)


class Sender:
    """A visitor socket's bookkeeping: acks (and their latency), echoes, errors."""

    def __init__(self, run: Run, index: int) -> None:
        self.run = run
        self.index = index
        self.waiters: list[tuple[Callable[[dict[str, Any]], bool], asyncio.Future[Any]]] = []
        self.pending: collections.deque[tuple[int, int]] = collections.deque()  # tcp only

    def on_ws_frame(self, payload: bytes, t: int) -> None:
        d = loads(payload)
        typ = d.get("type")
        if typ == "ack":
            msg = d.get("message")
            tag = parse_tag(msg["body"]) if msg else None
            if tag is not None:
                self.run.acks[tag[3]] += 1
                if tag[3] >= 0:
                    self.run.ack_lat[tag[3]].append(t - tag[0])
            return
        if typ == "message":
            self.run.echoes += 1
            return
        if typ == "error":
            self.run.errors[f"visitor:{d.get('code')}"] += 1
        for i, (pred, fut) in enumerate(self.waiters):
            if pred(d):
                del self.waiters[i]
                if not fut.done():
                    fut.set_result(d)
                break

    async def wait_for(self, pred: Callable[[dict[str, Any]], bool], timeout: float = 30) -> Any:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiters.append((pred, fut))
        return await asyncio.wait_for(fut, timeout)


def stalls(recipients: list[Recipient], step: int, t0: int, bucket_ms: int = 100) -> Any:
    """Where in the step latency spiked: per 100 ms of scheduled time, the worst latency,
    listed for buckets over 50 ms (offset s, max ms); and the count of such buckets."""
    worst: dict[int, int] = {}
    for r in recipients:
        for sched, lat in zip(r.sched[step], r.lat[step], strict=True):
            b = (sched - t0) // (bucket_ms * 1_000_000)
            if lat > worst.get(b, 0):
                worst[b] = lat
    bad = sorted((b, v) for b, v in worst.items() if v > 50_000_000)
    return {
        "buckets_over_50ms": len(bad),
        "buckets": len(worst),
        "worst": [[round(b * bucket_ms / 1000, 1), round(v / 1e6, 1)] for b, v in bad[:40]],
    }


class DiskWatch:
    """The disk's own fsync stalls while a step runs: a thread writes 4 KiB and
    fdatasyncs it every `every` seconds in `directory` (the filesystem the server's
    SQLite uses) and keeps the syncs slower than `over` seconds. A latency stall of the
    server that lines up with one is the disk, not the server."""

    def __init__(self, directory: str, every: float = 0.05, over: float = 0.02) -> None:
        self.path = Path(directory) / f".disk-watch-{os.getpid()}"
        self.every, self.over = every, over
        self.slow: list[tuple[float, float]] = []  # (monotonic at start, seconds)
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="disk-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            block = b"x" * 4096
            while not self._stop.wait(self.every):
                os.pwrite(fd, block, 0)
                t = time.monotonic()
                os.fdatasync(fd)
                took = time.monotonic() - t
                self.count += 1
                if took > self.over:
                    self.slow.append((t, took))
        finally:
            os.close(fd)
            self.path.unlink(missing_ok=True)

    def between(self, start: float, end: float) -> dict[str, Any]:
        """The slow syncs that overlapped [start, end] (monotonic seconds)."""
        slow = [(t, d) for t, d in self.slow if t <= end and t + d >= start]
        return {
            "over_ms": round(self.over * 1000),
            "slow": len(slow),
            "worst_ms": round(max((d for _, d in slow), default=0.0) * 1000, 1),
            "at": [[round(t - start, 2), round(d * 1000, 1)] for t, d in slow[:20]],
        }

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def scrape(url: str) -> dict[str, float]:
    """Pounce's /metrics (Prometheus text): the series we report, {} if unavailable."""
    import httpx

    out: dict[str, float] = {}
    try:
        text = httpx.get(url.rstrip("/") + "/metrics", timeout=2).text
    except Exception:
        return out
    for line in text.splitlines():
        if line.startswith(("pounce_commit_batch_messages", "pounce_delivery_latency_seconds")):
            name, _, value = line.rpartition(" ")
            with contextlib.suppress(ValueError):
                out[name] = float(value)
    return out


def metrics_delta(a: dict[str, float], b: dict[str, float]) -> dict[str, Any]:
    """Mean commit batch size and the server-side delivery latency histogram, for a step."""
    d = {k: b[k] - a.get(k, 0.0) for k in b}
    res: dict[str, Any] = {}
    n = d.get("pounce_commit_batch_messages_count", 0)
    if n:
        res["commit_batches"] = int(n)
        res["mean_batch_messages"] = round(d.get("pounce_commit_batch_messages_sum", 0) / n, 2)
    n = d.get("pounce_delivery_latency_seconds_count", 0)
    if n:
        res["server_deliveries"] = int(n)
        res["server_delivery_mean_ms"] = round(
            1000 * d.get("pounce_delivery_latency_seconds_sum", 0) / n, 3
        )
        buckets = sorted(
            (float(k.split('le="')[1].split('"')[0]), v)
            for k, v in d.items()
            if k.startswith("pounce_delivery_latency_seconds_bucket") and "+Inf" not in k
        )
        for q in (0.5, 0.99):
            le = next((le for le, c in buckets if c >= q * n), None)
            res[f"server_delivery_p{int(q * 100)}_le_ms"] = (
                None if le is None else round(le * 1000, 3)
            )
    return res


# ---------------------------------------------------------------------------------------
# The raw TCP floor client
# ---------------------------------------------------------------------------------------


class LineClient(asyncio.Protocol):
    def __init__(self, on_line: Callable[[bytes, int], None]) -> None:
        self.on_line = on_line
        self.buf = b""
        self.transport: asyncio.Transport | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        t = time.monotonic_ns()
        *lines, self.buf = (self.buf + data).split(b"\n")
        for line in lines:
            self.on_line(line, t)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(1006)

    def send(self, data: bytes) -> None:
        self.transport.write(data + b"\n")  # type: ignore[union-attr]

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def tcp_rep_line(rec: Recipient) -> Callable[[bytes, int], None]:
    def on_line(line: bytes, t: int) -> None:
        if line == b"P":
            rec.control({"type": "pong"})
            return
        conn, seq, rest = line.split(b" ", 2)
        i = rest.rfind(b"[b:")
        tag = None
        if i >= 0:
            a, b, c, d = rest[i + 3 : rest.index(b"]", i)].split(b":")
            tag = (int(a), int(b), int(c), int(d))
        rec.delivery(int(conn), int(seq), tag, t)

    return on_line


def tcp_visitor_line(snd: Sender) -> Callable[[bytes, int], None]:
    def on_line(line: bytes, t: int) -> None:
        if line == b"P":
            for _pred, fut in snd.waiters:
                if not fut.done():
                    fut.set_result({"type": "pong"})
            snd.waiters.clear()
            return
        if line[:2] == b"A ":
            sched, step = snd.pending.popleft()
            snd.run.acks[step] += 1
            if step >= 0:
                snd.run.ack_lat[step].append(t - sched)

    return on_line


# ---------------------------------------------------------------------------------------
# Set-up
# ---------------------------------------------------------------------------------------


def url_list(text: str | None) -> list[str]:
    """`--visitor-url` / `--rep-url`: one server URL or a comma-separated list."""
    return [u.strip() for u in (text or "").split(",") if u.strip()]


def ws_base(url: str) -> str:
    return url.replace("http://", "ws://")


async def login(http_url: str, email: str) -> str:
    import httpx

    async with httpx.AsyncClient(base_url=http_url, timeout=30) as http:
        res = await http.post("/api/v1/session", json={"email": email, "password": PASSWORD})
        res.raise_for_status()
        return str(res.cookies["pounce_session"])


async def seed(db_url: str, origins: list[str], reps: int) -> Any:
    from tests.support.seed import seed_org

    from pounce.domain.model import RouteMode

    return await seed_org(db_url, origins=origins, reps=reps, mode=RouteMode.EVERYONE)


class Harness:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.run = Run()
        self.recipients: list[Recipient] = []
        self.senders: list[Sender] = []
        self.rep_socks: list[Any] = []
        self.vis_socks: list[Any] = []
        self.site_key = "bench"
        self.rep_emails: list[str] = []
        # visitor i -> vis_urls[i % n], rep i -> rep_urls[i % m] (round-robin, as a
        # load balancer would); every distinct server, in order, for /metrics
        self.vis_urls = url_list(args.visitor_url)
        self.rep_urls = url_list(args.rep_url) or self.vis_urls
        if not self.vis_urls:
            raise SystemExit("--visitor-url: no URL given")
        self.server_urls = list(dict.fromkeys(self.vis_urls + self.rep_urls))
        self.disk = DiskWatch(args.disk_watch) if args.disk_watch else None

    async def setup(self) -> None:
        a = self.args
        if a.target == "pounce":
            org = await seed(a.db_url, sorted(set(self.server_urls)), a.reps)
            self.site_key = org.site_key
            self.rep_emails = [p.email for p in org.reps]
        else:
            self.rep_emails = [f"rep{i}@bench" for i in range(a.reps)]
        for i in range(a.reps):
            await self.open_rep(i, self.rep_urls[i % len(self.rep_urls)])
        sem = asyncio.Semaphore(64)

        async def one(i: int) -> None:
            async with sem:
                await self.open_visitor(i, self.vis_urls[i % len(self.vis_urls)])

        self.senders = [Sender(self.run, i) for i in range(a.visitors)]
        self.vis_socks = [None] * a.visitors
        await asyncio.gather(*(one(i) for i in range(a.visitors)))

    async def open_rep(self, i: int, url: str) -> None:
        rec = Recipient(self.run, f"rep{i}")
        self.recipients.append(rec)
        if self.args.target == "tcp":
            loop = asyncio.get_running_loop()
            host, port = url.split("//")[1].split(":")
            _, proto = await loop.create_connection(
                lambda: LineClient(tcp_rep_line(rec)), host, int(port)
            )
            proto.send(b"R")
            proto.send(b"P")
            await rec.wait_for(lambda d: d["type"] == "pong")
            self.rep_socks.append(proto)
            return
        cookie = await login(url, self.rep_emails[i])
        ws = await wsclient.connect(
            ws_base(url) + "/ws/console",
            origin=url,
            cookie=f"pounce_session={cookie}",
            on_frame=rec.on_ws_frame,
        )
        self.rep_socks.append(ws)
        welcome = rec.wait_for(lambda d: d["type"] == "welcome")
        ws.send(b'{"type":"hello","v":1}')
        await welcome
        ack = rec.wait_for(lambda d: d.get("id") == "avail")
        ws.send(b'{"type":"availability","id":"avail","status":"available"}')
        reply = await ack
        if reply["type"] != "ack":
            raise RuntimeError(f"availability refused: {reply}")

    async def open_visitor(self, i: int, url: str) -> None:
        snd = self.senders[i]
        if self.args.target == "tcp":
            loop = asyncio.get_running_loop()
            host, port = url.split("//")[1].split(":")
            _, proto = await loop.create_connection(
                lambda: LineClient(tcp_visitor_line(snd)), host, int(port)
            )
            proto.send(b"V")
            fut = snd.wait_for(lambda d: True)
            proto.send(b"P")
            await fut
            self.vis_socks[i] = proto
            return
        ws = await wsclient.connect(
            ws_base(url) + f"/ws/messenger?site_key={self.site_key}",
            origin=url,
            on_frame=snd.on_ws_frame,
        )
        welcome = snd.wait_for(lambda d: d["type"] == "welcome")
        ws.send(
            orjson.dumps(
                {
                    "type": "hello",
                    "v": 1,
                    "visitor_token": None,
                    "page": {"url": f"{url}/pricing", "title": "Pricing"},
                }
            )
        )
        await welcome
        self.vis_socks[i] = ws

    def frame(self, sched: int, v: int, n: int, step: int) -> bytes:
        if self.args.target == "tcp":
            self.senders[v].pending.append((sched, step))
        return b'{"type":"message","id":"m%d-%d","body":"%s [b:%d:%d:%d:%d]"}' % (
            v,
            n if n >= 0 else 10**9 - n,
            BODY.encode(),
            sched,
            v,
            n,
            step,
        )

    async def warm_up(self) -> None:
        """Each visitor's first message: opens its conversation, alerts every rep."""
        V = len(self.vis_socks)
        rate = self.args.warm_rate
        t0 = time.monotonic_ns()
        for v in range(V):
            target = t0 + int(v * 1e9 / rate)
            delay = (target - time.monotonic_ns()) / 1e9
            if delay > 0:
                await asyncio.sleep(delay)
            self.vis_socks[v].send(self.frame(time.monotonic_ns(), v, -(v + 1), -1))
        deadline = time.monotonic() + self.args.warm_timeout
        while any(r.warm < V for r in self.recipients):
            if time.monotonic() > deadline:
                got = [r.warm for r in self.recipients]
                raise RuntimeError(f"warm-up: reps saw {got} of {V} first messages")
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)

    def closed_sockets(self) -> list[str]:
        out = []
        for i, s in enumerate(self.rep_socks):
            if s.closed.done():
                out.append(f"rep{i}:{s.closed.result()}")
        for i, s in enumerate(self.vis_socks):
            if s.closed.done():
                out.append(f"visitor{i}:{s.closed.result()}")
        return out

    async def step(
        self, step: int, rate: float, duration: float, next_n: int
    ) -> tuple[dict[str, Any], int]:
        run = self.run
        socks = self.vis_socks
        V = len(socks)
        interval = 1e9 / rate
        total = int(rate * duration)
        lag: list[int] = []
        pids = self.args.server_pid or []
        srv0 = {p: cpu_ticks(p) for p in pids}
        murls = self.server_urls if self.args.target == "pounce" else []
        m0 = [scrape(u) for u in murls]
        me0 = cpu_ticks()
        cores0 = core_ticks()
        watch = set(filter(None, self.args.watch_comm.split(",")))
        comm0 = comm_ticks(watch)
        gc.collect()
        gc.disable()
        wall0 = time.monotonic()
        t0 = time.monotonic_ns() + 50_000_000
        run.step = step
        run.window_end = t0 + int(duration * 1e9)
        k = 0
        spin = self.args.spin
        mono = time.monotonic_ns
        frame = self.frame
        while k < total:
            now = mono()
            while k < total:
                sched = t0 + int(k * interval)
                if sched > now:
                    break
                v = k % V
                socks[v].send(frame(sched, v, next_n + k, step))
                lag.append(mono() - sched)
                k += 1
            if k >= total:
                break
            remaining = t0 + int(k * interval) - mono()
            if remaining > 1_500_000 or not spin:
                await asyncio.sleep(max(0.0, (remaining - (1_200_000 if spin else 0)) / 1e9))
            else:
                await asyncio.sleep(0)
        sent = k
        send_end = mono()
        # drain: wait until every recipient has every message, or time out
        expected = sent
        deadline = time.monotonic() + self.args.drain
        while time.monotonic() < deadline:
            if all(len(r.lat[step]) + r.dups[step] >= expected for r in self.recipients) and (
                run.acks[step] >= sent
            ):
                break
            await asyncio.sleep(0.01)
        gc.enable()
        wall = time.monotonic() - wall0
        me1 = cpu_ticks()
        cores1 = core_ticks()
        comm1 = comm_ticks(watch)
        srv1 = {p: cpu_ticks(p) for p in pids}
        lats: list[int] = []
        per_rep = []
        for r in self.recipients:
            lats += r.lat[step]
            per_rep.append(
                {
                    "rep": r.name,
                    "delivered": len(r.lat[step]),
                    "in_window": r.in_window[step],
                    "duplicated": r.dups[step],
                }
            )
        delivered = len(lats)
        n_rec = len(self.recipients)
        lost = sent * n_rec - delivered
        dups = sum(r.dups[step] for r in self.recipients)
        in_window = sum(r.in_window[step] for r in self.recipients)
        achieved = in_window / n_rec / duration if n_rec else 0.0
        lat = summary_ms(lats)
        closed = self.closed_sockets()
        gaps = sum(r.gaps for r in self.recipients)
        reorders = sum(r.reorders for r in self.recipients)
        result = {
            "step": step,
            "offered_rate": rate,
            "duration_s": duration,
            "visitors": V,
            "recipients": n_rec,
            "sent": sent,
            "send_window_s": round((send_end - t0) / 1e9, 3),
            "expected_deliveries": sent * n_rec,
            "delivered": delivered,
            "lost": lost,
            "duplicated": dups,
            "seq_gaps_total": gaps,
            "seq_reorders_total": reorders,
            "achieved_rate": round(achieved, 1),
            "latency_ms": lat,
            "stalls": stalls(self.recipients, step, t0),
            "disk_stalls": (
                self.disk.between(t0 / 1e9, time.monotonic()) if self.disk is not None else None
            ),
            "ack_latency_ms": summary_ms(run.ack_lat[step]),
            "acks": run.acks[step],
            "send_lag_ms": summary_ms(lag),
            "errors": dict(run.errors),
            "closed_sockets": closed[:20],
            "closed_count": len(closed),
            "loadgen_cpu_pct": round(100 * (me1 - me0) / TICK / wall, 1),
            "server_cpu_pct": {
                str(p): round(100 * (srv1[p] - srv0[p]) / TICK / wall, 1) for p in pids
            },
            "host_core_busy_pct": core_busy_pct(cores0, cores1),
            "server_metrics": [
                {"url": u, **metrics_delta(a, scrape(u))} for a, u in zip(m0, murls, strict=True)
            ],
            "watched_cpu_pct": round(
                100 * sum(v - comm0.get(p, v) for p, v in comm1.items()) / TICK / wall, 1
            ),
            "per_rep": per_rep,
        }
        ok_p99 = lat.get("p99") is not None and lat["p99"] <= self.args.max_p99_ms
        result["follows"] = bool(
            lost == 0
            and dups == 0
            and not closed
            and achieved >= 0.95 * rate
            and not any(k.startswith("visitor:") for k in run.errors)
        )
        result["passed"] = bool(result["follows"] and ok_p99)
        result["loadgen_limited"] = bool(
            (result["send_lag_ms"].get("p99") or 0) > 5.0
            and (result["send_lag_ms"].get("p99") or 0) > 0.5 * (lat.get("p99") or 0)
        )
        run.errors.clear()
        return result, next_n + total

    async def settle(self, quiet: float = 1.0, limit: float = 20.0) -> None:
        """Wait until no deliveries arrive for `quiet` seconds (a backlog has drained)."""
        end = time.monotonic() + limit
        last = -1
        stable_since = time.monotonic()
        while time.monotonic() < end:
            total = sum(len(r.seen) for r in self.recipients)
            if total != last:
                last, stable_since = total, time.monotonic()
            elif time.monotonic() - stable_since >= quiet:
                return
            await asyncio.sleep(0.05)

    def close(self) -> None:
        if self.disk is not None:
            self.disk.stop()
        for s in self.rep_socks + self.vis_socks:
            if s is not None:
                with contextlib.suppress(Exception):
                    s.close()


def log(msg: str) -> None:
    print(f"[loadgen {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


async def relay_main(args: argparse.Namespace) -> dict[str, Any]:
    raise_nofile()
    h = Harness(args)
    t = time.monotonic()
    await h.setup()
    log(
        f"{args.target}: {len(h.recipients)} reps + {len(h.vis_socks)} visitors connected "
        f"in {time.monotonic() - t:.1f}s"
    )
    await h.warm_up()
    log("warm-up done")
    plan = [
        (float(r.split(":")[0]), float(r.split(":")[1]) if ":" in r else args.duration)
        for r in args.rates.split(",")
    ]
    rates = [r for r, _ in plan]
    durations = dict(plan)
    steps: list[dict[str, Any]] = []
    n = 0
    # Phase 1 climbs while the target FOLLOWS the offered rate (nothing lost or duplicated,
    # no socket closed, achieved >= 95 %), then tries the midpoint of the last bracket once.
    # Phase 2, if no step also met the latency bound, halves down from the lowest rate
    # tried until one PASSES (all criteria), then tries one midpoint.
    best: float | None = None  # highest rate that passed every criterion
    follow: float | None = None  # highest rate the target followed (latency aside)
    queue = list(rates)
    phase, refined = 1, False
    while queue:
        rate = queue.pop(0)
        res, n = await h.step(len(steps), rate, durations.get(rate, args.duration), n)
        steps.append(res)
        lat = res["latency_ms"]
        log(
            f"{args.target} rate {rate:.0f}: sent {res['sent']} delivered {res['delivered']} "
            f"lost {res['lost']} dup {res['duplicated']} achieved {res['achieved_rate']:.0f}/s "
            f"p50 {lat.get('p50')} p99 {lat.get('p99')} max {lat.get('max')} ms "
            f"lag99 {res['send_lag_ms'].get('p99')} srv {res['server_cpu_pct']} "
            f"lg {res['loadgen_cpu_pct']}% cores {res['host_core_busy_pct']} "
            f"{'PASS' if res['passed'] else ('follows' if res['follows'] else 'FAIL')}"
        )
        if res["passed"]:
            best = max(best or 0, rate)
        if res["follows"]:
            follow = max(follow or 0, rate)
        if not args.ladder:
            await h.settle(quiet=0.3, limit=10)
            continue
        if res["closed_count"]:
            break  # sockets were dropped (e.g. 4429): later steps would not be comparable
        if phase == 1:
            if res["follows"] and queue:
                await h.settle(quiet=0.3, limit=10)
                continue
            await h.settle()
            if not res["follows"] and not refined and follow and rate / follow > 1.2:
                refined = True
                queue = [round((follow + rate) / 2)]
                continue
            # the climb is over: drop the rest of --rates (a ladder finer than 1.2x per
            # step gets no midpoint, and used to run on through every higher rate)
            phase, refined, queue = 2, False, []
        else:
            await h.settle()
        # phase 2: halve down towards a passing rate, then one midpoint
        if best is None:
            lowest = min(s["offered_rate"] for s in steps)
            if lowest / 2 >= args.min_rate:
                queue = [round(lowest / 2)]
            continue
        above = [s["offered_rate"] for s in steps if s["offered_rate"] > best and not s["passed"]]
        if not refined and above and min(above) / best > 1.2:
            refined = True
            queue = [round((best + min(above)) / 2)]
    h.close()
    return {
        "target": args.target,
        "visitor_url": args.visitor_url,
        "rep_url": args.rep_url or args.visitor_url,
        "server_urls": h.server_urls,
        "visitors_per_url": dict(
            collections.Counter(h.vis_urls[i % len(h.vis_urls)] for i in range(args.visitors))
        ),
        "reps_per_url": dict(
            collections.Counter(h.rep_urls[i % len(h.rep_urls)] for i in range(args.reps))
        ),
        "reps": args.reps,
        "visitors": args.visitors,
        "max_passing_rate": best,
        "max_following_rate": follow,
        "steps": steps,
    }


# ---------------------------------------------------------------------------------------
# idle: hold many messenger sockets
# ---------------------------------------------------------------------------------------


async def idle_main(args: argparse.Namespace) -> None:
    limit = raise_nofile()
    socks: list[wsclient.WSClient] = []
    failed = 0
    errors: collections.Counter[str] = collections.Counter()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    hello = orjson.dumps(
        {
            "type": "hello",
            "v": 1,
            "visitor_token": None,
            "page": {"url": f"{args.url}/pricing", "title": "Pricing"},
        }
    )
    url = ws_base(args.url) + f"/ws/messenger?site_key={args.site_key}"

    async def one() -> None:
        nonlocal failed
        welcomed: asyncio.Future[None] = loop.create_future()

        def on_frame(payload: bytes, _t: int) -> None:
            if not welcomed.done() and b'"welcome"' in payload:
                welcomed.set_result(None)

        try:
            ws = await wsclient.connect(url, origin=args.url, on_frame=on_frame, timeout=60)
            ws.send(hello)
            await asyncio.wait_for(welcomed, 60)
            socks.append(ws)
        except Exception as exc:
            failed += 1
            errors[type(exc).__name__] += 1

    def out(obj: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    out({"ready": True, "nofile": limit})
    sem = asyncio.Semaphore(args.concurrency)

    async def guarded() -> None:
        async with sem:
            await one()

    while True:
        line = (await reader.readline()).decode().strip()
        if not line or line == "quit":
            break
        cmd, *rest = line.split()
        if cmd == "connect":
            t = time.monotonic()
            await asyncio.gather(*(guarded() for _ in range(int(rest[0]))))
            closed = sum(1 for s in socks if s.closed.done())
            out(
                {
                    "open": len(socks) - closed,
                    "closed": closed,
                    "failed": failed,
                    "errors": dict(errors),
                    "secs": round(time.monotonic() - t, 2),
                }
            )
        elif cmd == "status":
            closed = sum(1 for s in socks if s.closed.done())
            codes = collections.Counter(s.closed.result() for s in socks if s.closed.done())
            out({"open": len(socks) - closed, "closed": closed, "close_codes": dict(codes)})
    for s in socks:
        s.abort()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("relay", help="open-loop visitor -> rep relay (a rate ladder)")
    r.add_argument("--target", choices=["pounce", "node", "tcp"], required=True)
    r.add_argument(
        "--visitor-url",
        required=True,
        help="http://127.0.0.1:PORT, or a comma-separated list: visitor i uses URL i mod n",
    )
    r.add_argument(
        "--rep-url",
        help="reps' server(s), comma separated, rep i uses URL i mod n "
        "(default: the visitors' list)",
    )
    r.add_argument("--db-url", help="pounce: the server's database URL, for seed_org")
    r.add_argument("--reps", type=int, default=1)
    r.add_argument("--visitors", type=int, default=100)
    r.add_argument(
        "--rates",
        required=True,
        help="offered msg/s, comma separated; RATE:SECONDS overrides --duration",
    )
    r.add_argument("--duration", type=float, default=10.0, help="seconds per rate")
    r.add_argument("--drain", type=float, default=5.0, help="max seconds to wait after sending")
    r.add_argument("--ladder", action="store_true", help="stop at the first failing rate")
    r.add_argument("--max-p99-ms", type=float, default=100.0)
    r.add_argument("--min-rate", type=float, default=20.0, help="ladder: lowest rate to halve to")
    r.add_argument(
        "--watch-comm",
        default="",
        help="also report the CPU of processes with these names (comma separated)",
    )
    r.add_argument("--warm-rate", type=float, default=300.0)
    r.add_argument("--warm-timeout", type=float, default=120.0)
    r.add_argument(
        "--no-spin",
        dest="spin",
        action="store_false",
        help="sleep instead of spinning the last ~1 ms before a send",
    )
    r.add_argument("--server-pid", type=int, action="append", help="report this PID's CPU")
    r.add_argument(
        "--disk-watch",
        metavar="DIR",
        help="fdatasync 4 KiB in DIR every 50 ms and report the slow ones per step",
    )
    r.add_argument("--out", help="write the JSON result here (default: stdout)")
    i = sub.add_parser("idle", help="hold idle messenger sockets; commands on stdin")
    i.add_argument("--url", required=True)
    i.add_argument("--site-key", default="bench")
    i.add_argument("--concurrency", type=int, default=200)
    args = parser.parse_args()

    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    if args.cmd == "idle":
        runner(idle_main(args))
        return
    result = runner(relay_main(args))
    text = json.dumps(result, indent=1)
    if args.out:
        Path(args.out).write_text(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
