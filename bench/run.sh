#!/usr/bin/env bash
# Run every benchmark scenario in order; raw JSON lands in bench/results/<stamp>/
# (bench/results/latest points at it) and a Markdown summary in summary.md there.
#
#   bench/run.sh            # full: 3 runs per scenario, ~38 min on the shared 2-core box
#   bench/run.sh --s1-runs 1   # one run of scenario 1 (19.5k visitor hellos): ~32 min
#   bench/run.sh --quick    # small counts, 1 run, ~5 min: checks the harness
#   bench/run.sh --scenarios 2,3 [--runs 5]   # any suite.py options pass through
#
# Needs: the venv at .venv (pounce installed), node + npm, PostgreSQL and Redis for
# scenario 4 (BENCH_PG / BENCH_REDIS override the URLs), taskset. Servers are pinned
# to core BENCH_SERVER_CORE (0), load generators to BENCH_LOADGEN_CORE (1).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
py="${BENCH_PYTHON:-$root/.venv/bin/python}"

if [[ ! -x "$py" ]]; then
  echo "bench: no Python at $py (create the venv: python -m venv .venv && .venv/bin/pip install -e '.[test]')" >&2
  exit 2
fi
"$py" -c 'import pounce, uvloop, orjson, httpx' || {
  echo "bench: the venv lacks pounce (pip install -e .)" >&2
  exit 2
}
command -v node >/dev/null || { echo "bench: node is required for bench/peer/relay.js" >&2; exit 2; }
command -v taskset >/dev/null || { echo "bench: taskset (util-linux) is required" >&2; exit 2; }

# the Node peer's dependency (ws), exactly as locked
if [[ ! -d "$here/peer/node_modules/ws" ]]; then
  (cd "$here/peer" && npm ci --no-audit --no-fund --loglevel=error)
fi

# the load generators need many sockets: raise the soft fd limit to the hard one
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

mkdir -p "$here/results"
out="$("$py" "$here/suite.py" "$@")"
"$py" "$here/report.py" "$out" > "$out/summary.md"
echo "bench: results in $out (summary: $out/summary.md)"
