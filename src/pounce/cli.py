"""The `pounce` command: serve, migrate, demo, org, user add, schemas, openapi."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
import threading
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from pounce.config import ConfigError, Settings
from pounce.logs import configure_logging

if TYPE_CHECKING:
    from pounce.services.runtime import Runtime


def _settings() -> Settings:
    try:
        settings = Settings()
        settings.resolved_secret_key()
        if settings.geoip_db is not None or settings.enrichment == "http":
            from pounce.app import build_locator, enrichment_url

            locator = build_locator(settings)
            if locator is not None:
                locator.close()
            enrichment_url(settings)
    except (ValidationError, ConfigError) as exc:
        print(f"pounce: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(json_logs=settings.json_logs)
    return settings


# What `uvicorn.run` exits with when the server did not start.
STARTUP_FAILURE = 3
# After a failed fsync (`app.store_failed`) the server stops gracefully, or the process
# exits at once if that takes longer than this many seconds.
FATAL_STOP_SECONDS = 30.0


def _stop_for_good(server: Any) -> None:
    """Stop `server` (a `uvicorn.Server`) for `app.store_failed`, within FATAL_STOP_SECONDS."""
    from pounce.app import FATAL_EXIT_CODE

    server.should_exit = True
    deadline = threading.Timer(FATAL_STOP_SECONDS, os._exit, (FATAL_EXIT_CODE,))
    deadline.daemon = True
    deadline.start()


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from pounce.app import create_app

    settings = _settings()
    if args.host:
        settings.host = args.host
    if args.port:
        settings.port = args.port
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(**server_options(app, settings)))
    # a failed fsync stops the server, and the process exits non-zero (app.store_failed)
    app.state.stop_server = partial(_stop_for_good, server)
    server.run()
    if not server.started:
        return STARTUP_FAILURE
    return int(app.state.exit_code)


def server_options(app: Any, settings: Settings) -> dict[str, Any]:
    """uvicorn's settings for `pounce serve` (benchmarks run the app with the same)."""
    from pounce.realtime.httpserver import HttpProtocol
    from pounce.realtime.websocket import WebSocketProtocol

    return {
        "app": app,
        "host": settings.host,
        "port": settings.port,
        # uvicorn's httptools protocol plus limits on request heads and a header timeout
        # (realtime/httpserver.py); it hands upgraded sockets to Pounce's own WebSocket
        # protocol (no ASGI per socket), whose options come from app.py.
        "http": HttpProtocol,
        "ws": WebSocketProtocol,
        "log_level": "info",
        "log_config": None,
        # Forwarding headers are read by Pounce's own rule (realtime/clientaddr.py),
        # for REST and sockets alike, not by uvicorn's.
        "proxy_headers": False,
        "lifespan": "on",
    }


def cmd_migrate(_args: argparse.Namespace) -> int:
    from pounce.store.migrate import upgrade

    settings = _settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url())
    print("pounce: database is up to date")
    return 0


async def _with_runtime(settings: Settings, action: str, args: argparse.Namespace) -> int:
    from pounce.app import build_realtime
    from pounce.domain.model import Role
    from pounce.services import admin, demo
    from pounce.services.runtime import Runtime
    from pounce.store.db import Database
    from pounce.store.migrate import upgrade_async

    url = settings.resolved_database_url()
    if settings.is_sqlite:
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        await upgrade_async(url)
    db = Database(url, sqlite_synchronous=settings.sqlite_synchronous)
    bus, presence = build_realtime(settings)
    rt = Runtime(
        settings=settings,
        db=db,
        bus=bus,
        presence=presence,
        secret_key=settings.resolved_secret_key(),
    )
    try:
        if action == "demo":
            info = await demo.seed_demo(rt, public_url=settings.resolved_public_url())
            base = settings.resolved_public_url()
            print("pounce: demo org ready" + (" (created)" if info.created else " (already there)"))
            print(f"  Demo website (visitor side): {base}/demo/")
            print(f"  Rep console:                 {base}/app/")
            print("  Logins (email / password / role):")
            for email, password, role in info.logins:
                print(f"    {email:<22} {password:<14} {role}")
            return 0
        if action in ("org-add", "org-link", "org-list"):
            return await _org(rt, action, args)
        if action == "user-add":
            from pounce.services.errors import ServiceError

            password = args.password or getpass.getpass("Password: ")
            try:
                user = await admin.add_user(
                    rt,
                    org_id=args.org,
                    email=args.email,
                    name=args.name or args.email.split("@")[0],
                    password=password,
                    role=Role(args.role),
                )
            except ServiceError as exc:
                print(f"pounce: {exc.message}", file=sys.stderr)
                return 1
            print(f"pounce: created {user.role.value} {user.email} ({user.id})")
            return 0
    finally:
        await db.dispose()
    return 1


async def _org(rt: Runtime, action: str, args: argparse.Namespace) -> int:
    from pounce.services import orgs
    from pounce.services.errors import ServiceError

    if action == "org-list":
        found = await orgs.list_orgs(rt)
        for org_id, name, users in found:
            print(f"{org_id}  {name}  ({users} user{'' if users == 1 else 's'})")
        if not found:
            print("pounce: no organisation yet (pounce org add, or the console's set-up screen)")
        return 0
    try:
        if action == "org-link":
            link = await orgs.link_for_email(rt, args.email)
            print(f"pounce: a new set-password link for {args.email.strip().lower()}")
        else:
            made = await orgs.add_org(
                rt,
                name=args.name,
                admin_email=args.admin_email,
                admin_name=args.admin_name or args.admin_email.split("@")[0],
                website=args.website,
            )
            link = made.link
            print(
                f"pounce: created org {made.name!r} ({made.org_id}) with admin {made.admin.email}"
            )
            origins = ", ".join(made.site.allowed_origins) or "none yet (add them under Sites)"
            print(
                f"  Site {made.site.name!r}, key {made.site.site_key}; allowed origins: {origins}"
            )
    except ServiceError as exc:
        print(f"pounce: {exc.message}", file=sys.stderr)
        return 1
    print(f"  Open this link to choose the password (works once, for {orgs.LINK_HOURS} hours):")
    print(f"    {link}")
    return 0


def cmd_org_add(args: argparse.Namespace) -> int:
    return asyncio.run(_with_runtime(_settings(), "org-add", args))


def cmd_org_list(args: argparse.Namespace) -> int:
    return asyncio.run(_with_runtime(_settings(), "org-list", args))


def cmd_org_link(args: argparse.Namespace) -> int:
    return asyncio.run(_with_runtime(_settings(), "org-link", args))


def cmd_demo(args: argparse.Namespace) -> int:
    return asyncio.run(_with_runtime(_settings(), "demo", args))


def cmd_user_add(args: argparse.Namespace) -> int:
    if len(args.password or "x" * 8) < 8:
        print("pounce: the password needs at least 8 characters", file=sys.stderr)
        return 2
    return asyncio.run(_with_runtime(_settings(), "user-add", args))


def cmd_schemas(args: argparse.Namespace) -> int:
    from pounce.realtime.frames import bundle, json_schemas
    from pounce.realtime.frames.protocol import reference_markdown

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written = {f"{name}.json": schema for name, schema in json_schemas().items()}
    written["protocol.json"] = bundle()
    for stale in out.glob("*.json"):
        if stale.name not in written:
            stale.unlink()
    for name, schema in sorted(written.items()):
        (out / name).write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
    reference = out.parent / "frames.md"
    reference.write_text(reference_markdown())
    print(f"pounce: wrote {len(written)} schemas to {out} and the reference {reference}")
    return 0


def openapi_document() -> dict[str, Any]:
    """The REST API's OpenAPI document, independent of any configuration."""
    from pounce.app import create_app

    settings = Settings(secret_key="openapi-" * 4, _env_file=None)
    return create_app(settings, run_worker=False).openapi()


def cmd_openapi(args: argparse.Namespace) -> int:
    from pounce.api.openapi import dumps

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = openapi_document()
    out.write_text(dumps(doc), encoding="utf-8")
    print(f"pounce: wrote the OpenAPI document ({len(doc['paths'])} paths) to {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pounce", description="Pounce live chat server")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("migrate", help="bring the database schema up to date").set_defaults(
        func=cmd_migrate
    )
    sub.add_parser("demo", help="create the demo org and print its logins").set_defaults(
        func=cmd_demo
    )
    org = sub.add_parser("org", help="set up organisations")
    org_sub = org.add_subparsers(dest="org_command", required=True)
    org_add = org_sub.add_parser(
        "add", help="create an org, its first admin and site; print the admin's password link"
    )
    org_add.add_argument("--name", required=True, help="the organisation's name")
    org_add.add_argument("--admin-email", required=True)
    org_add.add_argument("--admin-name", default=None, help="defaults to the email's local part")
    org_add.add_argument(
        "--website", default=None, help="an allowed origin, https://www.example.com"
    )
    org_add.set_defaults(func=cmd_org_add)
    org_sub.add_parser("list", help="list the orgs: id, name, users").set_defaults(
        func=cmd_org_list
    )
    org_link = org_sub.add_parser(
        "password-link", help="print a new set-password link for a user (e.g. when one expired)"
    )
    org_link.add_argument("--email", required=True)
    org_link.set_defaults(func=cmd_org_link)
    user = sub.add_parser("user", help="manage users")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", help="add a rep or admin to an org")
    add.add_argument("--org", required=True, help="org id")
    add.add_argument("--email", required=True)
    add.add_argument("--role", choices=["admin", "rep"], default="rep")
    add.add_argument("--name", default=None)
    add.add_argument("--password", default=None, help="prompted for when omitted")
    add.set_defaults(func=cmd_user_add)
    schemas = sub.add_parser("schemas", help="write the JSON Schemas of the protocol's frames")
    schemas.add_argument("--out", default="docs/schemas")
    schemas.set_defaults(func=cmd_schemas)
    openapi = sub.add_parser("openapi", help="write the REST API's OpenAPI document")
    openapi.add_argument("--out", default="docs/openapi.json")
    openapi.set_defaults(func=cmd_openapi)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
