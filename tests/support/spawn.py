"""`pounce` processes forked from a server that has already imported Pounce.

A `pounce serve` or `pounce migrate` started with `python -m pounce.cli` spends about
1.3 s of CPU importing before it does anything, and the suite starts a few hundred of
them on two cores. Here each pytest worker starts one multiprocessing fork server with
the modules `pounce` needs imported, and every `pounce` process a test runs is forked
from it: a process of its own (its pid, its signals, kill -9, its exit status), running
`pounce.cli.main(argv)` with the environment, working directory and output files the
test gives it, as the console script would.

`Child` is the part of `subprocess.Popen` the tests use; `run` is `subprocess.run` for
the CLI, with the same errors.
"""

from __future__ import annotations

import importlib
import multiprocessing
import multiprocessing.context
import os
import subprocess
import sys
import tempfile
from pathlib import Path

# What `pounce` imports to serve, migrate and seed; imported once, in the fork server.
PRELOAD = [
    "pounce.cli",
    "pounce.app",
    "pounce.realtime.httpserver",
    "pounce.realtime.websocket",
    "pounce.store.migrate",
    "pounce.services.demo",
    "pounce.services.admin",
    "pounce.services.orgs",
    "redis.asyncio",
    "aiosqlite",
    "asyncpg",
    "sqlalchemy.dialects.sqlite.aiosqlite",
    "sqlalchemy.dialects.postgresql.asyncpg",
    "uvicorn",
    "uvicorn.loops.uvloop",
    "tests.support.faulty_fsync",
    "tests.support.preloaded",  # last
]

_context: multiprocessing.context.ForkServerContext | None = None


def _fork_server() -> multiprocessing.context.ForkServerContext:
    global _context
    if _context is None:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        _context = ctx
    return _context


def _main(module: str, argv: list[str], env: dict[str, str], cwd: str, out: str, err: str) -> None:
    """The forked child: become `python -m <module> <argv>` with this environment."""
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    for fd, path in ((1, out), (2, err)):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(target, fd)
        os.close(target)
    # unbuffered, as PYTHONUNBUFFERED=1 made it: a killed server's last lines are kept
    sys.stdout = sys.__stdout__ = open(1, "w", buffering=1, closefd=False)
    sys.stderr = sys.__stderr__ = open(2, "w", buffering=1, closefd=False)
    sys.stdout.reconfigure(write_through=True)
    sys.stderr.reconfigure(write_through=True)
    sys.argv = [module, *argv]
    raise SystemExit(importlib.import_module(module).main(argv))


class Child:
    """A forked `pounce` process, as much of `subprocess.Popen` as the tests use."""

    def __init__(self, process: multiprocessing.process.BaseProcess, args: list[str]) -> None:
        self._process = process
        self.args = args

    @property
    def pid(self) -> int:
        pid = self._process.pid
        assert pid is not None
        return pid

    def poll(self) -> int | None:
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        code = self._process.exitcode
        if code is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return code

    def send_signal(self, sig: int) -> None:
        if self._process.exitcode is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self._process.kill()


def start(
    module: str,
    argv: list[str],
    *,
    env: dict[str, str],
    cwd: Path,
    out: Path,
    err: Path | None = None,
) -> Child:
    """Fork `python -m module argv` with stdout to `out` and stderr to `err` (or `out`)."""
    process = _fork_server().Process(
        target=_main,
        args=(module, argv, env, str(cwd), str(out), str(err or out)),
        daemon=True,
    )
    process.start()
    return Child(process, [module, *argv])


def run(
    module: str, argv: list[str], *, env: dict[str, str], cwd: Path, timeout: float, check: bool
) -> subprocess.CompletedProcess[str]:
    """`subprocess.run([python, -m, module, *argv], capture_output=True, text=True)`."""
    with tempfile.TemporaryDirectory(prefix="pounce-cli-") as tmp:
        out, err = Path(tmp) / "stdout", Path(tmp) / "stderr"
        out.touch()
        err.touch()
        child = start(module, argv, env=env, cwd=cwd, out=out, err=err)
        try:
            code = child.wait(timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            raise
        done = subprocess.CompletedProcess(child.args, code, out.read_text(), err.read_text())
    if check:
        done.check_returncode()
    return done
