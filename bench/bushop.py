"""What one hop through Redis costs: Pounce's RedisBus next to a bare RESP client.

    taskset -c 0 python bench/bushop.py [--url redis://127.0.0.1:6379/0] [--n 400]

Publishes a 300-byte frame on one bus and times its arrival at a handler subscribed on
a second bus (another connection, as on another process), back to back and with 5 ms
between frames (how a node at 100 msg/s sees it). The floor is the same hop over two
raw asyncio connections speaking RESP by hand: PUBLISH written straight to the socket,
the subscriber's push parsed in `data_received`. Prints p50/p90 per gap in µs.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from urllib.parse import urlparse

from pounce.realtime.redis import RedisBus, resp

FRAME = b'{"type":"message","body":"' + b"x" * 270 + b'"}'


class RawSubscriber(asyncio.Protocol):
    """Just enough RESP for one channel's pushes: the payload is the last bulk string."""

    def __init__(self, on_message: asyncio.Queue[float]) -> None:
        self.buf = b""
        self.on_message = on_message
        self.subscribed = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while b"\r\n" in self.buf:
            if self.buf.startswith(b"*3\r\n$7\r\nmessage"):
                # *3 $7 message $<n> channel $<m> payload
                parts = self.buf.split(b"\r\n", 7)
                if len(parts) < 8:
                    return
                size = int(parts[5][1:])
                rest = parts[7] if len(parts) > 7 else b""
                payload, self.buf = parts[6], rest
                assert len(payload) == size
                self.on_message.put_nowait(time.perf_counter())
            elif self.buf.startswith(b"*3\r\n$9\r\nsubscribe"):
                end = self.buf.find(b":1\r\n")
                if end < 0:
                    return
                self.buf = self.buf[end + 4 :]
                if not self.subscribed.done():
                    self.subscribed.set_result(None)
            else:
                return


class RawPublisher(asyncio.Protocol):
    def data_received(self, data: bytes) -> None:  # integer replies; not needed here
        pass


async def hop(publish: object, arrived: asyncio.Queue[float], n: int, gap: float) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await publish()  # type: ignore[operator]
        got = await arrived.get()
        out.append((got - t) * 1e6)
        if gap:
            await asyncio.sleep(gap)
    return sorted(out)


async def each_gap(
    publish: object, arrived: asyncio.Queue[float], n: int
) -> dict[float, list[float]]:
    return {gap: await hop(publish, arrived, n, gap) for gap in (0.0, 0.005)}


async def main(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    u = urlparse(args.url)
    host, port = u.hostname or "127.0.0.1", u.port or 6379
    results: dict[str, dict[float, list[float]]] = {}

    # Pounce's bus: publisher and subscriber on separate connections, as across nodes.
    pub, sub = RedisBus(args.url), RedisBus(args.url)
    await pub.start()
    await sub.start()
    arrived: asyncio.Queue[float] = asyncio.Queue()
    await asyncio.sleep(0.3)  # both connected
    await sub.subscribe(["bench-hop"], lambda _t, _d: arrived.put_nowait(time.perf_counter()))
    await asyncio.sleep(0.3)

    async def bus_publish() -> None:
        pub.post_many(("bench-hop",), FRAME)

    results["RedisBus"] = await each_gap(bus_publish, arrived, args.n)
    await pub.close()

    # Which side costs what: a bare PUBLISH into the same RedisBus subscriber.
    bare, _ = await loop.create_connection(RawPublisher, host, port)
    to_bus = resp(b"PUBLISH", b"pounce:bench-hop", FRAME)

    async def bare_publish() -> None:
        bare.write(to_bus)

    results["raw pub → RedisBus sub"] = await each_gap(bare_publish, arrived, args.n)
    bare.close()
    await sub.close()

    # The floor: bare RESP over two connections.
    raw_arrived: asyncio.Queue[float] = asyncio.Queue()
    st, sp = await loop.create_connection(lambda: RawSubscriber(raw_arrived), host, port)
    st.write(resp(b"SUBSCRIBE", b"pounce:bench-hop-raw"))
    await sp.subscribed
    pt, _ = await loop.create_connection(RawPublisher, host, port)
    message = resp(b"PUBLISH", b"pounce:bench-hop-raw", FRAME)

    async def raw_publish() -> None:
        pt.write(message)

    results["raw RESP"] = await each_gap(raw_publish, raw_arrived, args.n)
    st.close()
    pt.close()

    for name, by_gap in results.items():
        for gap, us in by_gap.items():
            p50, p90 = us[len(us) // 2], us[int(len(us) * 0.9)]
            print(f"{name:22s} gap {gap * 1000:.0f} ms: p50 {p50:7.1f} µs  p90 {p90:7.1f} µs")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--n", type=int, default=400)
    import uvloop

    uvloop.run(main(parser.parse_args()))
