"""Where a visitor message's time goes inside the server, at a fixed rate (not in run.sh).

    .venv/bin/python bench/pathtrace.py [--rate 1000] [--base REV] [--runs 3]

Copies `src/` (and with `--base` that revision's, from a temporary git worktree) into
a temporary directory and puts a timestamp at each point of the message path below.
Then it runs `pounce serve` from each copy (PYTHONPATH; SQLite FULL, server core)
under `loadgen.py relay` (1 rep, 100 visitors, 8 s at `--rate`), alternating the
versions, and prints for each stretch between two points the median over the messages
that went through alone (no other message between their arrival and their writev):

    A  the socket's data_received          Q  the session takes the message frame
    C  the commit thread starts the COMMIT  D  the COMMIT has returned
    c1 the commit's callback publishes     G  the turn's writev begins   H  it ends

A point whose anchor a version lacks is reported and left out. Each timestamp costs
about 0.3 us, so the copies run a little slower than the real thing.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import ab  # noqa: E402
import servers  # noqa: E402
import suite  # noqa: E402

ORDER = ["A", "Q", "C", "D", "c1", "G", "H"]

RECORDER = """\
import json, os, threading, time
EV = []
t = lambda name: EV.append((name, time.perf_counter_ns()))
def _dump():
    while True:
        time.sleep(1)
        with open(os.environ["PATHTRACE_OUT"] + ".tmp", "w") as fh:
            json.dump(EV, fh)
        os.replace(os.environ["PATHTRACE_OUT"] + ".tmp", os.environ["PATHTRACE_OUT"])
threading.Thread(target=_dump, daemon=True).start()
"""

T = "from pounce import _pathtrace as _pt; _pt.t"
# (points, file, anchor, replacement): the first anchor found in a file is used.
# an anchor: the (old, new) replacements one version has all of
POINTS: list[tuple[str, str, list[list[tuple[str, str]]]]] = [
    (
        "A",
        "realtime/websocket.py",
        [
            [
                (
                    "    def data_received(self, data: bytes) -> None:\n",
                    f'    def data_received(self, data: bytes) -> None:\n        {T}("A")\n',
                )
            ]
        ],
    ),
    (
        "G H",
        "realtime/websocket.py",
        [
            [
                (
                    "        for ws in dirty:\n            ws.flush()\n",
                    f'        {T}("G")\n        for ws in dirty:\n            ws.flush()\n'
                    f'        {T}("H")\n',
                )
            ]
        ],
    ),
    (
        "Q",
        "api/sockets.py",
        [
            [
                (
                    "        frame = f.quick_message(raw)\n",
                    f'        {T}("Q")\n        frame = f.quick_message(raw)\n',
                )
            ]
        ],
    ),
    (
        "c1",
        "services/chat.py",
        [
            [
                (
                    "        sent = Sent(message, conv, created=result.created)\n",
                    "        sent = Sent(message, conv, created=result.created)\n"
                    f'        {T}("c1")\n',
                )
            ]
        ],
    ),
    (
        "C D",
        "store/appender.py",
        [
            # since the COMMIT runs with NORMAL and the appender fsyncs the WAL after it,
            # D is after that fsync, as it was after FULL's COMMIT before
            [
                (
                    '        conn.execute("COMMIT")\n        if not self._sync_wal:\n',
                    f'        {T}("C")\n        conn.execute("COMMIT")\n'
                    f'        if not self._sync_wal:\n            {T}("D")\n',
                ),
                (
                    "            os.fdatasync(fd)\n",
                    f'            os.fdatasync(fd)\n            {T}("D")\n',
                ),
            ],
            [('conn.execute, ("COMMIT",)', "_pathtrace_commit, (conn,)")],
            [
                (
                    'self._committer.run(conn.execute, "COMMIT")',
                    "self._committer.run(_pathtrace_commit, conn)",
                )
            ],
        ],
    ),
]
COMMIT_FN = f"""

def _pathtrace_commit(conn: Any) -> None:
    {T}("C")
    conn.execute("COMMIT")
    {T}("D")
"""


def instrument(src: Path) -> list[str]:
    """Timestamps into a copy of src/; returns the points it has."""
    pkg = src / "pounce"
    (pkg / "_pathtrace.py").write_text(RECORDER)
    have: list[str] = []
    for names, rel, anchors in POINTS:
        path = pkg / rel
        text = path.read_text()
        for anchor in anchors:
            if all(old in text for old, _ in anchor):
                for old, new in anchor:
                    text = text.replace(old, new, 1)
                if "_pathtrace_commit" in text:
                    text += COMMIT_FN
                have += names.split()
                break
        path.write_text(text)
    return have


def stretches(events: list[tuple[str, int]], points: list[str]) -> dict[str, list[float]]:
    """Per stretch, the microseconds of each message that went through alone."""
    out: dict[str, list[float]] = {f"{a}->{b}": [] for a, b in itertools.pairwise(points)}
    out["total"] = []
    for j, (name, stamp) in enumerate(events):
        if name != points[-1]:
            continue
        got = {name: stamp}
        want = points[-2::-1]
        w, k = 0, j - 1
        while k >= 0 and w < len(want):
            n, ts = events[k]
            if n == want[w]:
                got[n] = ts
                w += 1
            elif n == points[-1] or n in got:
                break  # another message's writev, or a point seen twice: not alone
            k -= 1
        if w < len(want):
            continue
        for a, b in itertools.pairwise(points):
            out[f"{a}->{b}"].append((got[b] - got[a]) / 1e3)
        out["total"].append((got[points[-1]] - got[points[0]]) / 1e3)
    return out


def run_once(src: Path, points: list[str], rate: int, out: Path) -> dict[str, object]:
    var = suite.tmpdir("pathtrace")
    trace = var / "trace.json"
    proc = servers.start_pounce(
        var,
        servers.sqlite_url(var),
        POUNCE_SQLITE_SYNCHRONOUS="FULL",
        PYTHONPATH=str(src),
        PATHTRACE_OUT=str(trace),
    )
    try:
        r = suite.run_loadgen(
            out,
            *suite.loadgen_target_args("pounce", proc),
            *["--reps", "1", "--visitors", "100", "--rates", str(rate)],
            *["--duration", "8", "--drain", "3"],
        )
        time.sleep(1.5)  # the recorder writes once a second
        events = [tuple(e) for e in json.loads(trace.read_text())]
    finally:
        proc.stop()
        shutil.rmtree(var, ignore_errors=True)
    step = r["steps"][-1]
    parts = stretches(events, points)  # type: ignore[arg-type]
    return {
        "loadgen_p50_ms": step["latency_ms"]["p50"],
        "alone": len(parts["total"]),
        "p50_us": {k: round(statistics.median(v), 1) for k, v in parts.items() if v},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--base", help="a git revision to compare against")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="pathtrace-"))
    versions: dict[str, Path] = {}
    try:
        if args.base:
            tree = ab.checkout(args.base)
            try:
                shutil.copytree(tree / "src", tmp / "base")
            finally:
                ab.drop_checkout(tree)
            versions["base"] = tmp / "base"
        shutil.copytree(ROOT / "src", tmp / "current")
        versions["current"] = tmp / "current"
        points: dict[str, list[str]] = {}
        for name, src in versions.items():
            have = instrument(src)
            missing = [p for p in ORDER if p not in have]
            if missing:
                print(f"{name}: no anchor for {', '.join(missing)}; left out")
            points[name] = [p for p in ORDER if p in have]
        common = [p for p in ORDER if all(p in pts for pts in points.values())]
        runs = []
        for run in range(args.runs):
            servers.wait_quiet()
            for name, src in versions.items():
                res = run_once(src, common, args.rate, tmp / f"{name}-{run}.json")
                runs.append({"run": run, "version": name, **res})
                print(f"run {run + 1} {name}: {json.dumps(res)}", flush=True)
        out = BENCH / "results" / f"pathtrace-{time.strftime('%Y%m%d-%H%M%S')}.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps({"rate": args.rate, "base": args.base, "runs": runs}, indent=1))
        print(f"raw: {out}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
