"""Blocking visitors and client addresses, the report queue, and the abuse limits.

A block closes the visitor's sockets on every node: the change is published after the
commit on one topic every node listens on (`blocks`), and each node closes its own
sockets of that visitor (or, for an IP block, of those addresses) at once.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from pounce.domain.model import Actor, ConversationStatus, Outcome
from pounce.domain.ownership import block_refusal
from pounce.realtime.frames import stream as ev
from pounce.services import chat, proactive, stream
from pounce.services.admin import require_admin
from pounce.services.auth import read_visitor_token
from pounce.services.errors import ServiceError
from pounce.services.guard import IpBlock, matches
from pounce.services.lookups import conversation_or_404
from pounce.services.runtime import Runtime
from pounce.services.uow import UnitOfWork, unit_of_work
from pounce.store import accounts
from pounce.store import blocks as store
from pounce.store import chat as chat_store
from pounce.store.records import Conversation, User, Visitor, as_utc, now

log = logging.getLogger(__name__)

BLOCKS_TOPIC = "blocks"
LIST_LIMIT = 500
# The narrowest ranges an admin may block: a /8 of IPv4 or a /32 of IPv6 at most.
MIN_PREFIX = {4: 8, 6: 32}
SPAM_WINDOW = timedelta(days=30)

OnBlock = Callable[[str, str | None, tuple[IpBlock, ...] | None], None]


def _defaults(rt: Runtime) -> store.AbuseSettings:
    """An org's limits until its admin sets them: the server's (POUNCE_ABUSE_*)."""
    return store.AbuseSettings(
        messages_per_minute=rt.settings.abuse_messages_per_minute,
        conversations_per_hour=rt.settings.abuse_conversations_per_hour,
    )


def _at(rt: Runtime) -> datetime:
    return datetime.fromtimestamp(rt.clock(), UTC)


def _publish(
    uow: UnitOfWork, org_id: str, *, visitor_id: str | None = None, ip: bool = False
) -> None:
    """After the commit, every node hears of the block (`watch`)."""
    uow.post_many(
        [BLOCKS_TOPIC], orjson.dumps({"org_id": org_id, "visitor_id": visitor_id, "ip": ip})
    )


_tasks: set[asyncio.Task[None]] = set()


async def watch(rt: Runtime, on_block: OnBlock) -> None:
    """Listen (once per node) for blocks: `on_block(org_id, visitor_id, ip_blocks)` with
    the visitor blocked, or the org's IP blocks as they are now (read afresh)."""
    if rt.guard.watching:
        return
    rt.guard.watching = True

    def heard(_topic: str, data: bytes) -> None:
        try:
            note = orjson.loads(data)
            org_id = str(note["org_id"])
        except (ValueError, KeyError, TypeError):
            return
        if note.get("ip"):
            rt.guard.forget(org_id)

            async def reload() -> None:
                on_block(org_id, None, await ip_blocks(rt, org_id))

            task = asyncio.get_running_loop().create_task(reload())
            _tasks.add(task)
            task.add_done_callback(_tasks.discard)
        elif note.get("visitor_id"):
            on_block(org_id, str(note["visitor_id"]), None)

    await rt.bus.subscribe([BLOCKS_TOPIC], heard)


# --------------------------------------------------------------------------- checks


async def ip_blocks(rt: Runtime, org_id: str) -> tuple[IpBlock, ...]:
    """The org's IP blocks, from this node's memory (read when missing)."""
    cached = rt.guard.cached_ip_blocks(org_id)
    if cached is not None:
        return cached
    async with rt.db.read() as conn:
        rows = await store.list_ip_blocks(conn, org_id=org_id, now=_at(rt))
    found = tuple(
        IpBlock(
            network=ipaddress.ip_network(row["cidr"], strict=False),
            expires_at=as_utc(row["expires_at"]).timestamp() if row["expires_at"] else None,
        )
        for row in rows
    )
    rt.guard.keep_ip_blocks(org_id, found)
    return found


async def ip_blocked(rt: Runtime, org_id: str, address: str | None) -> bool:
    return matches(await ip_blocks(rt, org_id), address, rt.clock())


async def refused(rt: Runtime, *, org_id: str, client_ip: str | None, token: str | None) -> bool:
    """Is this browser (its visitor token) or its client address blocked for the org?
    The messenger's REST asks before it shows anything."""
    if await ip_blocked(rt, org_id, client_ip):
        return True
    visitor_id = read_visitor_token(rt, token, org_id=org_id) if token else None
    if visitor_id is None:
        return False
    async with rt.db.read() as conn:
        visitor = await chat_store.get_visitor(conn, org_id=org_id, visitor_id=visitor_id)
        if visitor is None or not visitor.blocked:
            return False
        found, expires = await store.block_expiry(conn, org_id=org_id, visitor_id=visitor_id)
    return not (found and expires is not None and expires.timestamp() <= rt.clock())


async def still_blocked(rt: Runtime, conn: AsyncConnection, visitor: Visitor) -> bool:
    """A blocked visitor's block holds (a temporary one lifts itself once it ran out)."""
    found, expires = await store.block_expiry(conn, org_id=visitor.org_id, visitor_id=visitor.id)
    if found and expires is not None and expires.timestamp() <= rt.clock():
        await store.unblock_visitor(conn, org_id=visitor.org_id, visitor_id=visitor.id)
        return False
    return True


async def settings(rt: Runtime, org_id: str) -> store.AbuseSettings:
    cached = rt.guard.cached_settings(org_id)
    if cached is not None:
        return cached
    async with rt.db.read() as conn:
        found = await store.get_settings(conn, org_id=org_id, default=_defaults(rt))
    rt.guard.keep_settings(org_id, found)
    return found


def try_message(
    rt: Runtime, *, org_id: str, visitor_id: str, client_ip: str | None, opens: bool
) -> float | None:
    """Count a visitor message against the org's limits, per visitor and per client
    address. None: the limits are not in memory (call `take_message`); 0: counted;
    more: refused, retry after that many seconds (nothing counted)."""
    limits = rt.guard.cached_settings(org_id)
    if limits is None:
        return None
    now, windows = rt.clock(), rt.guard.windows
    checks = [(f"m:{org_id}:v:{visitor_id}", limits.messages_per_minute, 60.0)]
    if client_ip:
        checks.append((f"m:{org_id}:a:{client_ip}", limits.messages_per_minute, 60.0))
    if opens:
        checks.append((f"c:{org_id}:v:{visitor_id}", limits.conversations_per_hour, 3600.0))
        if client_ip:
            checks.append((f"c:{org_id}:a:{client_ip}", limits.conversations_per_hour, 3600.0))
    wait = max(windows.wait(key, limit, span, now) for key, limit, span in checks)
    if wait > 0:
        return wait
    for key, limit, span in checks:
        if limit > 0:
            windows.hit(key, span, now)
    return 0.0


def count_opened(rt: Runtime, *, org_id: str, visitor_id: str, client_ip: str | None) -> None:
    """A conversation opened that `try_message` could not foresee (the visitor's last one
    had closed meanwhile): it counts toward the next hour's limit all the same."""
    limits = rt.guard.cached_settings(org_id)
    if limits is None or limits.conversations_per_hour <= 0:
        return
    now = rt.clock()
    rt.guard.windows.hit(f"c:{org_id}:v:{visitor_id}", 3600.0, now)
    if client_ip:
        rt.guard.windows.hit(f"c:{org_id}:a:{client_ip}", 3600.0, now)


def limited(wait: float) -> ServiceError:
    return ServiceError(
        "rate_limited",
        "Too many messages; wait a moment and send again.",
        retry_after_ms=max(1, round(wait * 1000)),
    )


async def take_message(
    rt: Runtime, *, org_id: str, visitor_id: str, client_ip: str | None, opens: bool
) -> None:
    """`try_message`, reading the limits when needed; over a limit: `rate_limited`."""
    await settings(rt, org_id)
    wait = try_message(rt, org_id=org_id, visitor_id=visitor_id, client_ip=client_ip, opens=opens)
    if wait:
        raise limited(wait)


# --------------------------------------------------------------------------- blocking


async def block_visitor(
    rt: Runtime,
    *,
    actor: Actor,
    conversation_id: str,
    report: bool = False,
    reason: str | None = None,
) -> str | None:
    """Block the conversation's visitor (and with `report`, file a report); their
    sockets close on every node and the conversation closes. Returns the report's id."""
    report_id: str | None = None
    async with unit_of_work(rt) as uow:
        conn = uow.conn
        conv = await conversation_or_404(conn, org_id=actor.org_id, conversation_id=conversation_id)
        refusal = block_refusal(actor, conv.state)
        if refusal is not None:
            raise ServiceError(
                refusal.value, "Only the conversation's rep (or an admin) can block its visitor."
            )
        visitor = await chat_store.get_visitor(conn, org_id=conv.org_id, visitor_id=conv.visitor_id)
        assert visitor is not None
        client_ip = await store.client_ip(conn, org_id=visitor.org_id, visitor_id=visitor.id)
        at = _at(rt)
        await store.block_visitor(
            conn,
            org_id=conv.org_id,
            visitor_id=visitor.id,
            blocked_by=actor.user_id,
            conversation_id=conv.id,
            client_ip=client_ip,
            at=at,
            expires_at=None,
        )
        if report:
            report_id = await store.add_report(
                conn,
                org_id=conv.org_id,
                visitor_id=visitor.id,
                conversation_id=conv.id,
                reported_by=actor.user_id,
                reason=(reason or "").strip() or "(no reason given)",
                client_ip=client_ip,
                at=at,
            )
        rep = await accounts.get_user(conn, org_id=actor.org_id, user_id=actor.user_id)
        await stream.append_event(uow, conv, ev.VisitorBlocked(reported=report), actor=rep)
        _publish(uow, conv.org_id, visitor_id=visitor.id)
    if conv.status is not ConversationStatus.CLOSED:
        try:
            await chat.close_conversation(rt, actor=actor, conversation_id=conv.id)
        except ServiceError:
            pass  # a routed rep who does not own it: the block stands, the chat stays
    return report_id


async def set_outcome(
    rt: Runtime, *, actor: Actor, conversation_id: str, outcome: Outcome
) -> tuple[Conversation, User | None]:
    """Mark a conversation (proactive.set_outcome); a spam mark then counts toward the
    org's automatic block. Here rather than in proactive: blocks builds on chat, which
    builds on proactive."""
    conv, owner = await proactive.set_outcome(
        rt, actor=actor, conversation_id=conversation_id, outcome=outcome
    )
    if outcome is Outcome.SPAM:
        await spam_marked(rt, org_id=conv.org_id, conversation_id=conv.id)
    return conv, owner


async def spam_marked(rt: Runtime, *, org_id: str, conversation_id: str) -> bool:
    """A rep marked a conversation spam: with the org's automatic block on, a visitor with
    that many spam conversations is blocked for a while. True: blocked now."""
    limits = await settings(rt, org_id)
    if not limits.spam_block_enabled:
        return False
    async with unit_of_work(rt) as uow:
        conn = uow.conn
        conv = await chat_store.get_conversation(
            conn, org_id=org_id, conversation_id=conversation_id
        )
        if conv is None:
            return False
        at = _at(rt)
        # Conversations carry the wall clock's time (records.now), not the runtime's.
        count = await store.spam_count(
            conn, org_id=org_id, visitor_id=conv.visitor_id, since=now() - SPAM_WINDOW
        )
        if count < limits.spam_block_threshold:
            return False
        visitor = await chat_store.get_visitor(conn, org_id=org_id, visitor_id=conv.visitor_id)
        assert visitor is not None
        until = at + timedelta(hours=limits.spam_block_hours)
        await store.block_visitor(
            conn,
            org_id=org_id,
            visitor_id=visitor.id,
            blocked_by=None,
            conversation_id=conv.id,
            client_ip=await store.client_ip(conn, org_id=visitor.org_id, visitor_id=visitor.id),
            at=at,
            expires_at=until,
        )
        await stream.append_event(uow, conv, ev.VisitorBlocked(until=until.isoformat()))
        _publish(uow, org_id, visitor_id=visitor.id)
    return True


async def unblock_visitor(rt: Runtime, *, actor: Actor, visitor_id: str) -> None:
    require_admin(actor)
    async with rt.db.write() as conn:
        if not await store.unblock_visitor(conn, org_id=actor.org_id, visitor_id=visitor_id):
            raise ServiceError("not_found", "No such blocked visitor.")


async def blocked_visitors(rt: Runtime, *, actor: Actor) -> list[dict[str, Any]]:
    require_admin(actor)
    async with rt.db.read() as conn:
        return await store.list_blocked(conn, org_id=actor.org_id, limit=LIST_LIMIT)


async def reports(rt: Runtime, *, actor: Actor) -> list[dict[str, Any]]:
    require_admin(actor)
    async with rt.db.read() as conn:
        return await store.list_reports(conn, org_id=actor.org_id, limit=LIST_LIMIT)


def parse_cidr(text: str) -> str:
    """An address or range, normalised (`203.0.113.7/32`); too wide a range is refused."""
    try:
        network = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ServiceError("invalid", "cidr: not an IP address or CIDR range.") from None
    if network.prefixlen < MIN_PREFIX[network.version]:
        raise ServiceError(
            "invalid", f"cidr: at most a /{MIN_PREFIX[network.version]} may be blocked."
        )
    return str(network)


async def add_ip_block(
    rt: Runtime,
    *,
    actor: Actor,
    cidr: str | None,
    report_id: str | None,
    expires_in_hours: float | None,
) -> dict[str, Any]:
    """Block an address or range for the org (from a report: its address by default)."""
    require_admin(actor)
    at = _at(rt)
    async with unit_of_work(rt) as uow:
        conn = uow.conn
        if report_id is not None:
            found = await store.get_report(conn, org_id=actor.org_id, report_id=report_id)
            if found is None:
                raise ServiceError("not_found", "No such report.")
            cidr = cidr or found["client_ip"]
            await store.resolve_report(conn, org_id=actor.org_id, report_id=report_id)
        if not cidr:
            raise ServiceError("invalid", "cidr: required (the report has no address).")
        block = await store.add_ip_block(
            conn,
            org_id=actor.org_id,
            cidr=parse_cidr(cidr),
            created_by=actor.user_id,
            report_id=report_id,
            at=at,
            expires_at=at + timedelta(hours=expires_in_hours) if expires_in_hours else None,
        )
        _publish(uow, actor.org_id, ip=True)
    rt.guard.forget(actor.org_id)
    return block


async def list_ip_blocks(rt: Runtime, *, actor: Actor) -> list[dict[str, Any]]:
    require_admin(actor)
    async with rt.db.read() as conn:
        return await store.list_ip_blocks(conn, org_id=actor.org_id, now=_at(rt))


async def remove_ip_block(rt: Runtime, *, actor: Actor, block_id: str) -> None:
    require_admin(actor)
    async with unit_of_work(rt) as uow:
        if not await store.delete_ip_block(uow.conn, org_id=actor.org_id, block_id=block_id):
            raise ServiceError("not_found", "No such IP block.")
        _publish(uow, actor.org_id, ip=True)
    rt.guard.forget(actor.org_id)


async def get_settings(rt: Runtime, *, actor: Actor) -> store.AbuseSettings:
    async with rt.db.read() as conn:
        return await store.get_settings(conn, org_id=actor.org_id, default=_defaults(rt))


async def put_settings(rt: Runtime, *, actor: Actor, values: dict[str, Any]) -> store.AbuseSettings:
    require_admin(actor)
    async with rt.db.write() as conn:
        saved = await store.put_settings(
            conn, org_id=actor.org_id, at=_at(rt), default=_defaults(rt), **values
        )
    rt.guard.forget(actor.org_id)  # this node at once; others within seconds
    return saved
