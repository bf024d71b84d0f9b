"""Composition root: builds the ASGI app and its runtime for one configuration."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from pounce import __version__, metrics
from pounce.api import (
    blocks,
    copilot,
    errors,
    leads,
    openapi,
    outbox,
    proactive,
    rest,
    setup,
    sockets,
    web,
)
from pounce.config import ConfigError, Settings
from pounce.integrations.enrichment import EmailDomain
from pounce.integrations.geoip import GeoIP, GeoIPError
from pounce.integrations.http_enrichment import HttpEnrichment, check_url
from pounce.integrations.mail import SmtpMailer
from pounce.ports import Enrichment, Mailer
from pounce.realtime.bus import Bus, LocalBus
from pounce.realtime.clientaddr import ForwardedMiddleware, ProxyRule, parse_entries
from pounce.realtime.presence import LocalPresence, Presence
from pounce.realtime.websocket import STATE_KEY, Options, Router
from pounce.services import outbox as outbox_service
from pounce.services.runtime import Runtime
from pounce.services.timers import Worker
from pounce.store.db import Database, StoreUnavailable
from pounce.store.migrate import upgrade_async

log = logging.getLogger(__name__)


def build_realtime(settings: Settings) -> tuple[Bus, Presence]:
    """The in-process bus and presence, or Redis ones when POUNCE_REDIS_URL is set."""
    if settings.redis_url:
        # Imported only for scale-out: the Redis client costs 0.13 s at every start.
        from pounce.realtime.redis import RedisBus, RedisPresence

        return RedisBus(settings.redis_url), RedisPresence(settings.redis_url)
    return LocalBus(), LocalPresence()


def enrichment_url(settings: Settings) -> str | None:
    """POUNCE_ENRICHMENT_URL when POUNCE_ENRICHMENT=http (required, https or local)."""
    if settings.enrichment != "http":
        return None
    try:
        if not settings.enrichment_url:
            raise ValueError("is required with POUNCE_ENRICHMENT=http")
        return check_url(settings.enrichment_url)
    except ValueError as exc:
        raise ConfigError(f"POUNCE_ENRICHMENT_URL {exc}") from None


def build_enrichment(settings: Settings) -> Enrichment | None:
    """The provider POUNCE_ENRICHMENT names."""
    if settings.enrichment == "builtin":
        return EmailDomain()
    url = enrichment_url(settings)
    if url is None:
        return None
    key = settings.enrichment_key.get_secret_value() if settings.enrichment_key else None
    return HttpEnrichment(url, key, timeout=settings.enrichment_timeout_seconds)


def build_locator(settings: Settings) -> GeoIP | None:
    """The GeoIP database when POUNCE_GEOIP_DB is set; a missing or invalid file stops
    the start with a ConfigError that says so."""
    if settings.geoip_db is None:
        return None
    try:
        return GeoIP(settings.geoip_db)
    except GeoIPError as exc:
        raise ConfigError(
            f"POUNCE_GEOIP_DB is not a readable MaxMind-format database: {exc}"
        ) from exc


def build_mailer(settings: Settings) -> Mailer | None:
    """SMTP when POUNCE_SMTP_URL is set; otherwise None: email is off."""
    if settings.smtp_url is None:
        return None
    return SmtpMailer(settings.smtp_url.get_secret_value(), timeout=settings.smtp_timeout_seconds)


# What a process whose store failed an fsync exits with (`store_failed`).
FATAL_EXIT_CODE = 1


def store_failed(app: FastAPI, exc: StoreUnavailable) -> None:
    """The store can no longer promise that what it acknowledges is durable (a failed
    fsync: `store/appender.py`). Writes are already stopped and `/readyz` fails; stop
    the process so that it exits with FATAL_EXIT_CODE and its supervisor restarts it
    (SQLite then recovers from the WAL). Under `pounce serve` the server is asked to
    stop (`app.state.stop_server`, set by the CLI); elsewhere a SIGTERM does it."""
    log.critical("%s: stopping; restart the process to recover from the WAL", exc)
    app.state.exit_code = FATAL_EXIT_CODE
    stop = getattr(app.state, "stop_server", None)
    if stop is not None:
        stop()
    else:
        os.kill(os.getpid(), signal.SIGTERM)


def create_app(settings: Settings, *, run_worker: bool = True) -> FastAPI:
    secret = settings.resolved_secret_key()
    proxies = parse_entries(settings.forwarded_allow_ips)
    settings.var_dir.mkdir(parents=True, exist_ok=True)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        if settings.insecure_fast_password_hashing:
            log.warning(
                "POUNCE_INSECURE_FAST_PASSWORD_HASHING is on: passwords are hashed with "
                "argon2's cheapest parameters; never use this outside tests"
            )
        url = settings.resolved_database_url()
        if settings.is_sqlite and settings.run_migrations_on_start:
            await upgrade_async(url)
        db = Database(
            url,
            sqlite_synchronous=settings.sqlite_synchronous,
            on_fatal=partial(store_failed, app),
        )
        bus, presence = build_realtime(settings)
        await bus.start()
        await presence.start()
        rt = Runtime(
            settings=settings,
            db=db,
            bus=bus,
            presence=presence,
            secret_key=secret,
            node_id=f"{socket.gethostname()}:{os.getpid()}",
            mailer=build_mailer(settings),
            enrichment=build_enrichment(settings),
            locator=build_locator(settings),
        )
        app.state.runtime = rt
        if settings.redis_url:
            from pounce.realtime.redis import RedisBus

            assert isinstance(bus, RedisBus)

            async def resync_clients() -> None:
                """Frames published while the bus was down are lost to the bus, not to
                the store: every client of this node catches up from there."""
                count = await sockets.resync(rt)
                log.info("bus reconnected: asked %d clients to resync", count)

            bus.on_reconnect.append(resync_clients)
        worker = Worker(rt)
        deliveries = outbox_service.Worker(rt)
        if run_worker:
            worker.start()
            deliveries.start()
        # Everything built at start-up lives for the whole process: keep it out of the
        # collector's full passes, which otherwise stall the loop for ~150 ms under load.
        gc.collect()
        gc.freeze()
        # The WebSocket endpoints are served by `realtime.websocket.WebSocketProtocol`,
        # which uvicorn hands upgraded sockets to; it finds them in the lifespan state.
        router = Router(
            sockets.endpoints(rt),
            Options(
                compression=settings.messenger_compression,
                ping_interval=settings.ws_ping_interval,
                ping_timeout=settings.ws_ping_timeout,
                send_buffer_limit=settings.ws_send_buffer_bytes,
                max_sockets_per_address=settings.ws_max_sockets_per_address,
                header_timeout=settings.header_timeout_seconds,
                trusted_proxies=proxies,
                forwarded_header=settings.forwarded_header,
                public_origin=settings.public_origin(),
            ),
        )
        app.state.websockets = router
        try:
            yield {STATE_KEY: router}
        finally:
            await deliveries.stop()
            if isinstance(rt.enrichment, HttpEnrichment):
                await rt.enrichment.close()
            await worker.stop()
            await presence.close()
            await bus.close()
            await db.dispose()

    app = FastAPI(
        title="Pounce",
        version=__version__,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.exit_code = 0  # FATAL_EXIT_CODE after `store_failed`
    # request.client and the scheme through trusted proxies only; the sockets apply the
    # same rule (Router.proxies).
    app.add_middleware(ForwardedMiddleware, rule=ProxyRule(proxies, settings.forwarded_header))
    app.include_router(rest.router)
    app.include_router(copilot.router)
    app.include_router(proactive.router)
    app.include_router(blocks.router)
    app.include_router(outbox.router)
    app.include_router(leads.router)
    app.include_router(setup.router)
    app.include_router(web.router)

    errors.install(app)
    openapi.install(app)

    @app.get("/metrics", include_in_schema=False)
    async def metrics_endpoint(request: Request) -> Response:
        with contextlib.suppress(StoreUnavailable):
            await outbox_service.refresh_metrics(request.app.state.runtime)
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        rt: Runtime = request.app.state.runtime
        checks: dict[str, Any] = {"database": await rt.db.ping(), "writes": rt.db.stopped is None}
        if settings.redis_url:
            checks["redis"] = await rt.presence.check() and rt.bus.healthy
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", "checks": checks},
            status_code=200 if ready else 503,
        )

    return app
