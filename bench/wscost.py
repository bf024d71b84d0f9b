"""CPU of the WebSocket layer alone per chat message, in this process, two versions side
by side (not part of run.sh).

    python bench/wscost.py --base 48291e9 [--messages 40000] [--fanout 5] [--runs 5]

Checks `--base` out as bench/ab.py does and runs this script's measurement against
its `src/` and the working tree's alternately, each in a fresh interpreter pinned to
the server core. The measurement: one open `WebSocketProtocol` on a real socket
(a Unix socket pair; the far end is read and dropped), fed one masked client text
frame per message through `data_received`, as uvicorn's transport does, whose
session answers with `--fanout` server frames (in scenario 3 a message leaves the
server about five times: the ack, the visitor's echo, three reps); a turn of the loop
carries 10 messages, so each socket's frames leave in one `writev` per turn. Prints
the process CPU per message for each version (median of `--runs`). A handshake per
run is timed the same way (`--handshakes`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

IN = json.dumps({"type": "message", "id": "m-000001", "body": "Hi, do you ship to Norway?"})
OUT = json.dumps(
    {
        "type": "message",
        "conversation_id": "c_0123456789abcdef",
        "seq": 17,
        "message": {
            "conversation_id": "c_0123456789abcdef",
            "seq": 17,
            "client_id": "m-000001",
            "author": {"kind": "visitor", "id": "v_0123456789", "name": None, "avatar_url": None},
            "body": "Hi, do you ship to Norway?",
            "html": "<p>Hi, do you ship to Norway?</p>",
            "created_at": "2026-12-06T12:00:00.000Z",
        },
    }
).encode()
HEAD = (
    b"GET /b HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    b"Origin: http://127.0.0.1:8000\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n\r\n"
)


def masked(payload: bytes) -> bytes:
    key = b"\x11\x22\x33\x44"
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    n = len(payload)
    head = bytes((0x81, 0x80 | n)) if n < 126 else bytes((0x81, 0xFE)) + n.to_bytes(2, "big")
    return head + key + body


class Session:
    def __init__(self, fanout: int) -> None:
        self.fanout = fanout
        self.socket: Any = None
        self.count = 0

    def opened(self, socket: Any) -> None:
        self.socket = socket

    def received(self, message: bytes, text: bool) -> None:
        self.count += 1
        for _ in range(self.fanout):
            self.socket.send(OUT)

    def closed(self) -> None:
        pass


class Endpoint:
    def __init__(self, fanout: int) -> None:
        self.fanout = fanout
        self.session: Session | None = None

    async def admit(self, request: Any) -> Session:
        self.session = Session(self.fanout)
        return self.session


async def measure(args: argparse.Namespace) -> dict[str, float]:
    from pounce.realtime.websocket import Options, Router, WebSocketProtocol

    loop = asyncio.get_running_loop()
    endpoint = Endpoint(args.fanout)
    router = Router({"/b": endpoint}, Options())
    far_ends: list[socket.socket] = []

    def drop(sock: socket.socket) -> None:
        try:
            while sock.recv(1 << 20):
                pass
        except BlockingIOError:
            pass

    async def open_one() -> Any:
        near, far = socket.socketpair()
        far.setblocking(False)
        loop.add_reader(far.fileno(), drop, far)
        far_ends.append(far)
        _, proto = await loop.connect_accepted_socket(
            lambda: WebSocketProtocol(router=router), near
        )
        proto.data_received(HEAD)
        while endpoint.session is None or endpoint.session.socket is None:
            await asyncio.sleep(0)
        return proto

    started = time.process_time()
    for _ in range(args.handshakes):
        endpoint.session = None
        proto = await open_one()
    handshake = (time.process_time() - started) / args.handshakes
    frame = masked(IN.encode())
    session = endpoint.session
    assert session is not None
    started = time.process_time()
    for i in range(args.messages):
        proto.data_received(frame)
        if i % 10 == 9:
            await asyncio.sleep(0)
    await asyncio.sleep(0)
    per_message = (time.process_time() - started) / args.messages
    assert session.count == args.messages
    for far in far_ends:
        loop.remove_reader(far.fileno())
        far.close()
    return {"per_message_us": per_message * 1e6, "handshake_us": handshake * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", help="git revision to compare against")
    parser.add_argument("--messages", type=int, default=40_000)
    parser.add_argument("--fanout", type=int, default=5)
    parser.add_argument("--handshakes", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        import uvloop

        print(json.dumps(uvloop.run(measure(args))))
        return
    if not args.base:
        parser.error("--base is required")
    import ab
    import servers

    base = ab.checkout(args.base)
    results: dict[str, list[dict[str, float]]] = {"base": [], "current": []}
    try:
        for _ in range(args.runs):
            for name, src in (("base", base), ("current", None)):
                env = dict(os.environ)
                env.pop("PYTHONPATH", None)
                if src is not None:
                    env["PYTHONPATH"] = str(src / "src")
                argv = [sys.executable, __file__, "--one", "--messages", str(args.messages)]
                argv += ["--fanout", str(args.fanout), "--handshakes", str(args.handshakes)]
                out = subprocess.run(
                    servers.pinned(servers.SERVER_CORE, argv),
                    env=env,
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                results[name].append(json.loads(out.strip().splitlines()[-1]))
                print(name, results[name][-1], flush=True)
    finally:
        ab.drop_checkout(base)
    for key in ("per_message_us", "handshake_us"):
        med = {n: statistics.median(r[key] for r in rs) for n, rs in results.items()}
        print(
            f"{key}: base {med['base']:.1f}, current {med['current']:.1f}"
            f" ({med['current'] - med['base']:+.1f})"
        )


if __name__ == "__main__":
    main()
