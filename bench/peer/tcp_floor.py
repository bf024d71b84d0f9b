"""The floor: a raw asyncio TCP relay, newline-delimited, no WebSocket, no JSON, no storage.

Protocol (one line per frame, `\\n`-terminated):
    client -> floor, first line: `V` (a visitor) or `R` (a rep)
    visitor -> floor: any line (bench/loadgen.py sends the same JSON `message` frame it
                      sends Pounce); the floor answers the sender `A <seq>` and forwards
                      `<conn> <seq> <line>` to every rep (seq counts per visitor socket)
    anyone  -> floor: `P` -> `P` (ping/pong, used as a readiness probe)

It runs on uvloop when available, like `pounce serve`, so it is the cost of "Python
moving bytes between sockets" that any Python chat server pays at least.

Usage: python tcp_floor.py --port 9200 [--host 127.0.0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools


class Floor:
    def __init__(self) -> None:
        self.reps: set[asyncio.Transport] = set()
        self.ids = itertools.count(1)


class Relay(asyncio.Protocol):
    def __init__(self, floor: Floor) -> None:
        self.floor = floor
        self.role: bytes | None = None
        self.buf = b""
        self.seq = 0
        self.conn = next(floor.ids)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data
        *lines, self.buf = buf.split(b"\n")
        out = []
        fanout = []
        for line in lines:
            if self.role is None:
                self.role = line[:1]
                if self.role == b"R":
                    self.floor.reps.add(self.transport)  # type: ignore[arg-type]
                continue
            if line == b"P":
                out.append(b"P\n")
                continue
            self.seq += 1
            out.append(b"A %d\n" % self.seq)
            fanout.append(b"%d %d %s\n" % (self.conn, self.seq, line))
        if out:
            self.transport.write(b"".join(out))  # type: ignore[union-attr]
        if fanout:
            chunk = b"".join(fanout)
            for rep in self.floor.reps:
                rep.write(chunk)

    def connection_lost(self, exc: Exception | None) -> None:
        self.floor.reps.discard(self.transport)  # type: ignore[arg-type]


async def main(host: str, port: int) -> None:
    floor = Floor()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Relay(floor), host, port, backlog=4096)
    print(f"tcp floor listening on {host}:{port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9200)
    args = parser.parse_args()
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    with contextlib.suppress(KeyboardInterrupt):
        runner(main(args.host, args.port))
