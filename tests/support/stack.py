"""Start real `pounce serve` processes against SQLite or PostgreSQL + Redis."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import secrets
import shutil
import signal
import socket
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support import spawn

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN_URL = os.environ.get("POUNCE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("POUNCE_TEST_REDIS", "redis://127.0.0.1:6379/0")


def run_async(fn: Any, *args: Any) -> Any:
    """Run a coroutine function to completion from sync code, even inside a running loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(fn(*args))).result()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@dataclass
class Stack:
    """One deployment: a database (and Redis) shared by one or more server processes."""

    mode: str
    var_dir: Path
    database_url: str
    redis_url: str | None
    env_extra: dict[str, str] = field(default_factory=dict)
    procs: dict[int, spawn.Child] = field(default_factory=dict)
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    def env(self, port: int | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            POUNCE_VAR_DIR=str(self.var_dir),
            POUNCE_DATABASE_URL=self.database_url,
            POUNCE_SECRET_KEY=self.secret,
            POUNCE_SQLITE_SYNCHRONOUS="NORMAL",
            PYTHONUNBUFFERED="1",
            # Every test client comes from 127.0.0.1: the per-address limit on new
            # visitors would refuse a whole suite's worth (tests of the limit set it).
            POUNCE_NEW_VISITORS_PER_ADDRESS_PER_MINUTE="1000000",
            POUNCE_ABUSE_MESSAGES_PER_MINUTE="0",
            POUNCE_ABUSE_CONVERSATIONS_PER_HOUR="0",
            # argon2's cheapest parameters: schemathesis alone creates and checks a few
            # hundred passwords (test_passwords.py covers the standard ones)
            POUNCE_INSECURE_FAST_PASSWORD_HASHING="true",
        )
        if port is not None:
            env["POUNCE_PORT"] = str(port)
            env["POUNCE_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
        if self.redis_url:
            env["POUNCE_REDIS_URL"] = self.redis_url
            env["POUNCE_RUN_MIGRATIONS_ON_START"] = "false"
        else:
            env.pop("POUNCE_REDIS_URL", None)
        env.update(self.env_extra)
        return env

    def cli(self, *args: str) -> str:
        return spawn.run(
            "pounce.cli", list(args), env=self.env(), cwd=ROOT, timeout=120, check=True
        ).stdout

    def start(self, port: int | None = None, *, module: str = "pounce.cli") -> str:
        """A `pounce serve` process, ready; `module` runs it through a test launcher
        (e.g. `tests.support.faulty_fsync`) instead of the plain CLI."""
        port = port or free_port()
        proc = spawn.start(
            module,
            ["serve", "--host", "127.0.0.1", "--port", str(port)],
            env=self.env(port),
            cwd=ROOT,
            out=self.var_dir / f"server-{port}.log",
        )
        self.procs[port] = proc
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_tail(port)}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    return url
            time.sleep(0.1)
        raise RuntimeError(f"server did not become ready: {self.log_tail(port)}")

    def log_tail(self, port: int) -> str:
        path = self.var_dir / f"server-{port}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def kill(self, port: int, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(port)
        proc.send_signal(sig)
        proc.wait(timeout=30)

    def stop_all(self) -> None:
        for port in list(self.procs):
            self.kill(port, signal.SIGTERM)


async def _create_pg_database(name: str, template: str | None = None) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await conn.execute(
            f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
        )
    finally:
        await conn.close()


async def _drop_pg_database(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def services_available() -> str | None:
    """None if PostgreSQL and Redis answer, else what is missing."""
    import redis

    try:
        run_async(_probe_pg)
    except Exception as exc:
        return f"PostgreSQL at {PG_ADMIN_URL}: {exc}"
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        return f"Redis at {REDIS_URL}: {exc}"
    return None


async def _probe_pg() -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=3)
    await conn.close()


# Migrating a new database costs about 0.1 s of CPU in process and 0.3 s through the CLI,
# and the suite makes several hundred: each worker migrates one SQLite file and one
# PostgreSQL database with `pounce migrate`, and every store after that is a copy.
_templates: dict[str, Stack] = {}


def _pg_url(name: str) -> str:
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


def _db_name(stack: Stack) -> str:
    return stack.database_url.rsplit("/", 1)[1]


def _template(mode: str) -> Stack:
    """The migrated template store of `mode`, made on first use."""
    if mode not in _templates:
        where = Path(tempfile.mkdtemp(prefix="pounce-template-"))
        if mode == "embedded":
            template = Stack(mode, where, f"sqlite+aiosqlite:///{where / 'pounce.db'}", None)
        else:
            name = f"pounce_template_{secrets.token_hex(6)}"
            run_async(_create_pg_database, name)
            template = Stack(mode, where, _pg_url(name), REDIS_URL)
        template.cli("migrate")
        _templates[mode] = template
    return _templates[mode]


def drop_templates() -> None:
    """At the end of a session (pytest-xdist's workers end without atexit handlers)."""
    while _templates:
        _, template = _templates.popitem()
        drop_stack(template)
        shutil.rmtree(template.var_dir, ignore_errors=True)


def migrated_sqlite(path: Path) -> str:
    """A migrated SQLite database at `path` (a copy of the template); its URL."""
    template = _template("embedded").var_dir / "pounce.db"
    for suffix in ("", "-wal"):  # the migrating process checkpointed; a WAL is copied too
        if (source := template.with_name(template.name + suffix)).exists():
            shutil.copyfile(source, path.with_name(path.name + suffix))
    return f"sqlite+aiosqlite:///{path}"


def make_stack(mode: str, tmp: Path, **env_extra: str) -> Stack:
    tmp.mkdir(parents=True, exist_ok=True)
    if mode == "embedded":
        return Stack(
            mode=mode,
            var_dir=tmp,
            database_url=migrated_sqlite(tmp / "pounce.db"),
            redis_url=None,
            env_extra=dict(env_extra),
        )
    name = f"pounce_test_{secrets.token_hex(6)}"
    run_async(_create_pg_database, name, _db_name(_template(mode)))
    return Stack(
        mode=mode,
        var_dir=tmp,
        database_url=_pg_url(name),
        redis_url=REDIS_URL,
        env_extra=dict(env_extra),
    )


def drop_stack(stack: Stack) -> None:
    stack.stop_all()
    if stack.mode != "embedded":
        with contextlib.suppress(Exception):
            run_async(_drop_pg_database, _db_name(stack))
