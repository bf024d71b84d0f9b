"""The `pounce` command: serve, migrate, demo, user add, schemas."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pounce.config import ConfigError, Settings


def _settings() -> Settings:
    try:
        settings = Settings()
        settings.resolved_secret_key()
        return settings
    except (ValidationError, ConfigError) as exc:
        print(f"pounce: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers (POUNCE_JSON_LOGS=true)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(*, json_logs: bool) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter()
        if json_logs
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from pounce.app import create_app

    settings = _settings()
    if args.host:
        settings.host = args.host
    if args.port:
        settings.port = args.port
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    uvicorn.run(**server_options(create_app(settings), settings))
    return 0


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


def cmd_demo(args: argparse.Namespace) -> int:
    return asyncio.run(_with_runtime(_settings(), "demo", args))


def cmd_user_add(args: argparse.Namespace) -> int:
    if len(args.password or "x" * 8) < 8:
        print("pounce: the password needs at least 8 characters", file=sys.stderr)
        return 2
    return asyncio.run(_with_runtime(_settings(), "user-add", args))


def cmd_schemas(args: argparse.Namespace) -> int:
    from pounce.realtime.frames import json_schemas

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, schema in sorted(json_schemas().items()):
        (out / f"{name}.json").write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
    print(f"pounce: wrote {len(json_schemas())} schemas to {out}")
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
