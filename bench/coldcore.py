"""How much slower the same work runs after the thread has been idle (not in run.sh).

    taskset -c 0 .venv/bin/python bench/coldcore.py [--rounds 2000]

Times one visitor message's parse, validation and rendering (a few microseconds of
pure Python) back to back, and after sleeping 0.1, 1 and 10 ms before each. On a
machine whose idle CPU is taken by other work (a shared VM host), caches and branch
predictors are cold after a sleep, and a server handling one message per millisecond
pays that on every message. Prints one JSON line per gap.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from pounce.realtime import frames as f
from pounce.realtime.frames.client import VisitorSend
from pounce.services.formatting import render_markdown

RAW = b'{"type":"message","id":"m-123","body":"hello there [b:1234567:4:5:6]"}'


def once() -> int:
    t0 = time.perf_counter_ns()
    frame = f.parse(RAW, f.MESSENGER)
    assert isinstance(frame, VisitorSend)
    render_markdown(frame.body)
    return time.perf_counter_ns() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    for _ in range(1000):
        once()
    for gap_ms in (0.0, 0.1, 1.0, 10.0):
        took = []
        for _ in range(args.rounds if gap_ms else args.rounds * 10):
            if gap_ms:
                time.sleep(gap_ms / 1000)
            took.append(once())
        took.sort()
        print(
            json.dumps(
                {
                    "gap_ms": gap_ms,
                    "p50_us": round(statistics.median(took) / 1000, 2),
                    "p90_us": round(took[int(len(took) * 0.9)] / 1000, 2),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
