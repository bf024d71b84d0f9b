"""The database handle: one engine, read and write units of work, SQLite pragmas."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, make_url, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from pounce.store.appender import (
    Appended,
    Appender,
    Committed,
    Draft,
    NextBatch,
    PostgresAppender,
    SqliteAppender,
    WriteLock,
    set_up_sqlite,
)
from pounce.store.errors import StoreUnavailable

__all__ = ["Database", "StoreUnavailable"]


class Database:
    """Async engine plus the write discipline for its dialect.

    SQLite allows one writer at a time: in one process we queue writers on a lock
    of our own (`WriteLock`, so they never meet `database is locked`), and each write
    transaction starts with `BEGIN IMMEDIATE` so another process (the CLI) waits on
    the busy timeout instead of failing on a lock upgrade.

    Once an fsync of the SQLite WAL has failed (`SqliteAppender._fsync_wal`) every
    write raises StoreUnavailable, `stopped` says why, and `on_fatal` has been told, on
    the loop, once.
    """

    def __init__(
        self,
        url: str,
        *,
        sqlite_synchronous: str = "FULL",
        echo: bool = False,
        on_fatal: Callable[[StoreUnavailable], None] | None = None,
    ):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": 30}
        else:
            # No pre-ping (a round trip per checkout): a connection found dead fails
            # its unit of work (callers get StoreUnavailable), and SQLAlchemy then
            # discards the pool's other connections of that generation.
            kwargs.update(pool_size=20, max_overflow=20)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        self._write_lock = WriteLock()
        parsed = make_url(url)
        self.appender: Appender
        if self.is_sqlite:
            self._install_sqlite_pragmas(sqlite_synchronous)
            self.appender = SqliteAppender(
                parsed.database or ":memory:",
                synchronous=sqlite_synchronous,
                write_lock=self._write_lock,
                on_fatal=on_fatal,
            )
        else:
            dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
            self.appender = PostgresAppender(dsn)

    def _install_sqlite_pragmas(self, synchronous: str) -> None:
        sync_engine = self.engine.sync_engine

        @event.listens_for(sync_engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let us issue BEGIN ourselves (pysqlite's implicit BEGIN is deferred).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            set_up_sqlite(cur, busy_timeout_ms=30000)
            cur.execute(f"PRAGMA synchronous={synchronous}")
            cur.close()

        @event.listens_for(sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            mode = conn.info.get("begin_mode", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads; no transaction is kept open after it."""
        try:
            async with self.engine.connect() as conn:
                yield conn
                await conn.rollback()
        except (OperationalError, DBAPIError, OSError) as exc:
            if _is_connectivity(exc):
                raise StoreUnavailable(str(exc)) from exc
            raise

    @property
    def stopped(self) -> str | None:
        """Why writes are stopped for good (a failed fsync), or None."""
        return self.appender.failed

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        if self.appender.failed is not None:
            raise StoreUnavailable(self.appender.failed)
        try:
            if self.is_sqlite:
                async with self._write_lock, self.engine.connect() as conn:
                    if self.appender.failed is not None:  # failed while we waited
                        raise StoreUnavailable(self.appender.failed)
                    conn.sync_connection.info["begin_mode"] = "IMMEDIATE"  # type: ignore[union-attr]
                    try:
                        async with conn.begin():
                            yield conn
                    finally:
                        conn.sync_connection.info["begin_mode"] = "DEFERRED"  # type: ignore[union-attr]
            else:
                async with self.engine.begin() as conn:
                    yield conn
        except (OperationalError, DBAPIError, OSError) as exc:
            if _is_connectivity(exc):
                raise StoreUnavailable(str(exc)) from exc
            raise

    async def append_messages(self, drafts: list[Draft]) -> list[Appended]:
        """Store a batch of messages in one transaction (`store/appender.py`)."""
        return await self.appender.append_many(drafts)

    def try_append_messages(
        self, drafts: list[Draft], done: Committed, follow: NextBatch | None = None
    ) -> bool:
        """The same without awaiting, when that needs no waiting (`Appender.try_append`):
        True if `done` will be told the outcomes after the commit (and `follow` when
        the next batch may start), False if nothing was done and `append_messages` is
        the way (it does not try this again)."""
        return self.appender.try_append(drafts, done, follow)

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def dispose(self) -> None:
        await self.appender.close()
        await self.engine.dispose()


def _is_connectivity(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    text_ = str(exc).lower()
    return any(
        marker in text_
        for marker in ("connection", "could not connect", "terminating", "unable to open")
    )
