"""Start and stop the processes under test, pinned with taskset (and, for `pounce serve`,
optionally capped to a CPU budget with a cgroup v1 `cpu` child); read their /proc figures."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV_BIN = Path(sys.executable).parent
POUNCE = str(VENV_BIN / "pounce") if (VENV_BIN / "pounce").exists() else "pounce"
PG_ADMIN_URL = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/0")
SERVER_CORE = os.environ.get("BENCH_SERVER_CORE", "0")
LOADGEN_CORE = os.environ.get("BENCH_LOADGEN_CORE", "1")
PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


NICE = os.environ.get("BENCH_NICE", "0")  # e.g. -5 to out-rank other tenants (needs root)


def pinned(core: str | None, argv: list[str]) -> list[str]:
    """`taskset -c CORE [nice -n BENCH_NICE] argv`."""
    if NICE not in ("", "0"):
        argv = ["nice", "-n", NICE, *argv]
    return ["taskset", "-c", core, *argv] if core is not None else argv


def host_busy(seconds: float = 1.0) -> float:
    """Busy share of all cores over `seconds`, in % of one core summed (0..200 on 2 cores)."""

    def read() -> tuple[int, int]:
        with open("/proc/stat") as fh:
            vals = [int(x) for x in fh.readline().split()[1:9]]
        return sum(vals) - vals[3] - vals[4], sum(vals)

    b0, t0 = read()
    time.sleep(seconds)
    b1, t1 = read()
    return round(100 * (os.cpu_count() or 1) * (b1 - b0) / max(1, t1 - t0), 1)


def wait_quiet(limit_pct: float = 30.0, max_wait: float = 20.0) -> dict[str, Any]:
    """Wait (up to max_wait s) until other tenants use < limit_pct of a core; report it."""
    start = time.monotonic()
    busy = host_busy()
    while busy > limit_pct and time.monotonic() - start < max_wait:
        busy = host_busy()
    return {
        "host_busy_pct": busy,
        "waited_s": round(time.monotonic() - start, 1),
        "quiet": busy <= limit_pct,
    }


# -- CPU caps: cgroup v1 `cpu` controller ------------------------------------------------

CGROUP_CPU = Path(os.environ.get("BENCH_CGROUP_CPU", "/sys/fs/cgroup/cpu"))
CFS_PERIOD_US = 10_000  # 10 ms: short periods keep a capped process's stalls short


class CpuCap:
    """A child of the cgroup v1 `cpu` controller limiting its tasks to `fraction` of one
    core (CFS bandwidth: cfs_quota_us of CPU time per cfs_period_us), as if the process had
    a small machine of its own. Raises RuntimeError if the cgroup cannot be set up."""

    def __init__(self, name: str, fraction: float) -> None:
        quota_us = round(fraction * CFS_PERIOD_US)
        if quota_us < 1000:  # the kernel's minimum cfs_quota_us
            raise ValueError(f"cpu_quota {fraction} is below 1 ms per {CFS_PERIOD_US} us period")
        self.fraction = fraction
        self.period_us = CFS_PERIOD_US
        self.quota_us = quota_us
        self.path = CGROUP_CPU / f"pounce-bench-{os.getpid()}-{name}-{secrets.token_hex(3)}"
        try:
            self.path.mkdir()
            (self.path / "cpu.cfs_period_us").write_text(str(self.period_us))
            (self.path / "cpu.cfs_quota_us").write_text(str(self.quota_us))
        except OSError as exc:
            with contextlib.suppress(OSError):
                self.path.rmdir()
            raise RuntimeError(
                f"cannot create the CPU cap cgroup {self.path} ({exc}); cpu_quota needs the "
                f"cgroup v1 cpu controller mounted at {CGROUP_CPU} (BENCH_CGROUP_CPU) and "
                "writable (root)"
            ) from exc

    def add(self, pid: int) -> None:
        try:
            (self.path / "cgroup.procs").write_text(str(pid))
        except OSError as exc:
            raise RuntimeError(f"cannot move PID {pid} into {self.path}: {exc}") from exc

    def pids(self) -> list[int]:
        with contextlib.suppress(OSError):
            return [int(x) for x in (self.path / "cgroup.procs").read_text().split()]
        return []

    def stat(self) -> dict[str, int]:
        """cpu.stat: nr_periods, nr_throttled, throttled_time (ns); {} once removed."""
        out: dict[str, int] = {}
        with contextlib.suppress(OSError):
            for line in (self.path / "cpu.stat").read_text().splitlines():
                key, _, value = line.partition(" ")
                with contextlib.suppress(ValueError):
                    out[key] = int(value)
        return out

    def info(self) -> dict[str, Any]:
        return {
            "cpu_quota": self.fraction,
            "cfs_period_us": self.period_us,
            "cfs_quota_us": self.quota_us,
            "cgroup": str(self.path),
        }

    def remove(self, timeout: float = 10) -> None:
        """rmdir the cgroup (its tasks must have exited; nothing is moved back)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError as exc:
                if time.monotonic() > deadline:
                    print(
                        f"[servers] could not remove cgroup {self.path} ({exc}); "
                        f"tasks left: {self.pids()}",
                        file=sys.stderr,
                        flush=True,
                    )
                    return
                time.sleep(0.05)


@dataclass
class Proc:
    name: str
    url: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    extra: dict[str, Any] = field(default_factory=dict)
    cpu_cap: CpuCap | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        if self.cpu_cap is not None:
            self.cpu_cap.remove()
            self.cpu_cap = None

    def throttle_stat(self) -> dict[str, int]:
        """The CPU cap's cpu.stat counters ({} when uncapped or stopped)."""
        return self.cpu_cap.stat() if self.cpu_cap is not None else {}

    def log_tail(self, n: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-n:] if self.log_path.exists() else ""


def wait_ready(proc: Proc, path: str = "/readyz", timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited: {proc.log_tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(proc.url + path, timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} not ready: {proc.log_tail()}")


def pounce_env(var_dir: Path, database_url: str, port: int, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("POUNCE_REDIS_URL", None)
    env.update(
        POUNCE_VAR_DIR=str(var_dir),
        POUNCE_SECRET_KEY="bench-secret-" + "k" * 40,
        POUNCE_DATABASE_URL=database_url,
        POUNCE_PUBLIC_URL=f"http://127.0.0.1:{port}",
        POUNCE_UNANSWERED_SECONDS="36000",  # no away messages during a run
        # every benchmark socket comes from 127.0.0.1 (older versions ignore this)
        POUNCE_WS_MAX_SOCKETS_PER_ADDRESS="1000000",
        POUNCE_NEW_VISITORS_PER_ADDRESS_PER_MINUTE="1000000",
        POUNCE_ABUSE_MESSAGES_PER_MINUTE="0",
        POUNCE_ABUSE_CONVERSATIONS_PER_HOUR="0",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def start_pounce(
    var_dir: Path,
    database_url: str,
    *,
    core: str | None = SERVER_CORE,
    port: int | None = None,
    name: str = "pounce",
    cpu_quota: float | None = None,
    **env_extra: str,
) -> Proc:
    """Start `pounce serve` and wait for /readyz; retried twice, since src/ may be mid-edit.

    `cpu_quota` (a fraction of one core, e.g. 0.25) puts the process into a cgroup of its
    own with that CFS bandwidth (period CFS_PERIOD_US) right after it is spawned; the
    cgroup is removed when the Proc stops."""
    port = port or free_port()
    var_dir.mkdir(parents=True, exist_ok=True)
    log_path = var_dir / f"{name}-{port}.log"
    for attempt in range(3):
        cap = CpuCap(f"{name}-{port}", cpu_quota) if cpu_quota is not None else None
        log = open(log_path, "ab")
        try:
            popen = subprocess.Popen(
                pinned(core, [POUNCE, "serve", "--host", "127.0.0.1", "--port", str(port)]),
                env=pounce_env(var_dir, database_url, port, **env_extra),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=var_dir,
            )
        except BaseException:
            if cap is not None:
                cap.remove()
            raise
        url = f"http://127.0.0.1:{port}"
        extra: dict[str, Any] = {"database_url": database_url, "cpu_quota": cpu_quota}
        proc = Proc(name, url, popen, log_path, extra, cap)
        if cap is not None:
            try:
                cap.add(popen.pid)  # taskset (and nice) exec, so this PID is the server's
            except BaseException:
                proc.stop(signal.SIGKILL)
                raise
            extra.update(cap.info())
        try:
            wait_ready(proc)
            return proc
        except BaseException as exc:
            proc.stop()  # also removes its cgroup
            if attempt == 2 or not isinstance(exc, RuntimeError):
                raise
            print(
                f"[servers] {name} did not start, retrying in 15 s: {str(exc)[-300:]}",
                file=sys.stderr,
                flush=True,
            )
            time.sleep(15)
    raise AssertionError("unreachable")


def pounce_migrate(var_dir: Path, database_url: str, **env_extra: str) -> None:
    for attempt in range(3):
        res = subprocess.run(
            [POUNCE, "migrate"],
            env=pounce_env(var_dir, database_url, 1, **env_extra),
            capture_output=True,
            text=True,
            cwd=var_dir,
            timeout=120,
        )
        if res.returncode == 0:
            return
        if attempt == 2:
            raise RuntimeError(f"pounce migrate failed: {res.stderr[-2000:]}")
        print("[servers] pounce migrate failed, retrying in 15 s", file=sys.stderr, flush=True)
        time.sleep(15)


def sqlite_url(var_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{var_dir / 'pounce.db'}"


def start_node(var_dir: Path, *, core: str | None = SERVER_CORE, port: int | None = None) -> Proc:
    port = port or free_port()
    var_dir.mkdir(parents=True, exist_ok=True)
    log_path = var_dir / f"node-{port}.log"
    log = open(log_path, "ab")
    popen = subprocess.Popen(
        pinned(core, ["node", str(BENCH / "peer" / "relay.js"), "--port", str(port)]),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    proc = Proc("node", f"http://127.0.0.1:{port}", popen, log_path)
    wait_ready(proc)
    return proc


def start_tcp_floor(
    var_dir: Path, *, core: str | None = SERVER_CORE, port: int | None = None
) -> Proc:
    port = port or free_port()
    var_dir.mkdir(parents=True, exist_ok=True)
    log_path = var_dir / f"tcp-{port}.log"
    log = open(log_path, "ab")
    popen = subprocess.Popen(
        pinned(
            core,
            [sys.executable, str(BENCH / "peer" / "tcp_floor.py"), "--port", str(port)],
        ),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    proc = Proc("tcp", f"tcp://127.0.0.1:{port}", popen, log_path)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return proc
        time.sleep(0.05)
    raise RuntimeError(f"tcp floor not ready: {proc.log_tail()}")


# -- PostgreSQL databases ----------------------------------------------------------------


async def _pg(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_pg_database() -> str:
    name = f"pounce_bench_{secrets.token_hex(5)}"
    asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
    return name


def drop_pg_database(name: str) -> None:
    with contextlib.suppress(Exception):
        asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def pg_url(name: str) -> str:
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


# -- /proc figures -----------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def open_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def sockstat() -> dict[str, int]:
    """TCP line of /proc/net/sockstat: inuse, orphan, tw, alloc, mem (pages)."""
    out: dict[str, int] = {}
    with open("/proc/net/sockstat") as fh:
        for line in fh:
            if line.startswith("TCP:"):
                parts = line.split()[1:]
                out = {parts[i]: int(parts[i + 1]) for i in range(0, len(parts), 2)}
    return out


def slab_kib() -> int:
    """Kernel slab memory (Slab: in /proc/meminfo), KiB: socket structs live there."""
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("Slab:"):
                return int(line.split()[1])
    return 0


def fsync_probe(directory: Path, n: int = 200) -> dict[str, float]:
    """Latency of write(4 KiB)+fsync on the filesystem the SQLite databases use, ms."""
    path = directory / f".fsync-probe-{os.getpid()}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    times = []
    try:
        for _ in range(n):
            os.write(fd, b"x" * 4096)
            t = time.perf_counter()
            os.fsync(fd)
            times.append((time.perf_counter() - t) * 1000)
    finally:
        os.close(fd)
        path.unlink()
    times.sort()
    return {
        "p50": round(times[n // 2], 3),
        "p99": round(times[int(n * 0.99)], 3),
        "max": round(times[-1], 3),
    }


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"nproc": os.cpu_count()}
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["mem_gib"] = round(int(line.split()[1]) / 2**20, 1)
    info["kernel"] = os.uname().release
    info["python"] = sys.version.split()[0]
    with contextlib.suppress(Exception):
        info["node"] = subprocess.run(
            ["node", "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
    return info
