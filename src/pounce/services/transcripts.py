"""The transcript email: a closed conversation, sent to the email its visitor left.

Queued through the outbox when a conversation closes (or when an admin resends it) and
rendered at delivery, from the store, outside any write transaction: each message's
body through the chat's one safe renderer (`formatting.render_markdown`), everything
else escaped; a text/plain part beside the HTML (multipart/alternative).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from html import escape
from typing import Any

from pounce.domain.model import Audience, AuthorKind
from pounce.services.errors import ServiceError, Undeliverable
from pounce.services.formatting import render_markdown
from pounce.services.lookups import conversation_or_404
from pounce.services.runtime import Runtime
from pounce.services.uow import UnitOfWork, unit_of_work
from pounce.store import accounts, chat, orgs
from pounce.store import outbox as outbox_store
from pounce.store.records import Conversation, Message

KIND = "email.transcript"
SETTING = "transcript_email"  # org setting: send on close (default on)
MAX_MESSAGES = 2000  # the most a transcript shows (the rest: "… and N more")


def email_enabled(rt: Runtime) -> bool:
    return rt.mailer is not None


async def org_sends_transcripts(rt: Runtime, org_id: str) -> bool:
    async with rt.db.read() as conn:
        value = await orgs.get_setting(conn, org_id=org_id, name=SETTING)
    return value is not False


async def put_setting(rt: Runtime, *, org_id: str, enabled: bool) -> None:
    async with rt.db.write() as conn:
        await orgs.put_setting(conn, org_id=org_id, name=SETTING, value=enabled)


async def queue_on_close(uow: UnitOfWork, conv: Conversation) -> bool:
    """In the closing transaction: queue the transcript if email is on, the org sends
    transcripts and the visitor left an email. A full outbox does not stop the close."""
    rt, conn = uow.rt, uow.conn
    if not email_enabled(rt):
        return False
    if await orgs.get_setting(conn, org_id=conv.org_id, name=SETTING) is False:
        return False
    visitor = await chat.get_visitor(conn, org_id=conv.org_id, visitor_id=conv.visitor_id)
    if visitor is None or not visitor.email:
        return False
    try:
        async with uow.savepoint():
            return await uow.outbox(
                conv.org_id,
                KIND,
                {"conversation_id": conv.id, "to": visitor.email, "through_seq": conv.last_seq},
                key=f"{KIND}:{conv.id}:{conv.last_seq}",
            )
    except ServiceError as exc:
        if exc.code != "outbox_full":
            raise
        return False


async def resend(rt: Runtime, *, org_id: str, conversation_id: str) -> str:
    """An admin sends the transcript again (a new delivery, so a new Message-ID); returns
    the address it goes to."""
    async with unit_of_work(rt) as uow:
        conv = await conversation_or_404(uow.conn, org_id=org_id, conversation_id=conversation_id)
        if not email_enabled(rt):
            raise ServiceError("email_off", "Email is off: this server has no POUNCE_SMTP_URL.")
        visitor = await chat.get_visitor(uow.conn, org_id=org_id, visitor_id=conv.visitor_id)
        if visitor is None or not visitor.email:
            raise ServiceError("no_email", "The visitor has not left an email address.")
        await uow.outbox(
            org_id,
            KIND,
            {"conversation_id": conv.id, "to": visitor.email, "through_seq": conv.last_seq},
        )
    return visitor.email


def message_id(key: str, sender: str) -> str:
    """A stable Message-ID for an outbox row: every retry of the row carries the same
    one, so a receiver that saw the first copy recognises the repeat."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "pounce.invalid"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@{domain}>"


def check_address(to: str) -> None:
    """An address an email can go to, or `Undeliverable` (retrying would not help)."""
    if "@" not in parseaddr(to)[1] or any(c in to for c in "\r\n"):
        raise Undeliverable(f"not an email address: {to!r}")


def org_display_name(org: Mapping[str, Any] | None) -> str:
    """The org's name on one line, as emails show it ("us" without one)."""
    return " ".join(str(org["name"]).split()) if org else "us"


def compose(
    *,
    subject: str,
    sender: str,
    to: str,
    message_id: str,
    at: datetime,
    text: list[str],
    html: list[str],
    automatic: bool = False,
) -> EmailMessage:
    """One email from Pounce: the plain-text lines, and the same content as HTML
    fragments (already escaped or rendered by the safe renderer) in a bare page."""
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = to
    msg["Message-ID"] = message_id
    msg["Date"] = format_datetime(at)
    if automatic:
        msg["Auto-Submitted"] = "auto-generated"
    msg.set_content("\n".join(text))
    page = [
        "<!doctype html><html><head><meta charset='utf-8'></head>"
        "<body style='font-family:system-ui,sans-serif;max-width:640px'>",
        *html,
        "</body></html>",
    ]
    msg.add_alternative("\n".join(page), subtype="html")
    return msg


async def deliver(rt: Runtime, row: outbox_store.Row) -> None:
    """The outbox handler for KIND: render the transcript now and send it."""
    if rt.mailer is None:
        raise Undeliverable("email is off (POUNCE_SMTP_URL is not set)")
    conversation_id = str(row.payload.get("conversation_id", ""))
    to = str(row.payload.get("to", ""))
    through = int(row.payload.get("through_seq") or 0)
    async with rt.db.read() as conn:
        conv = await chat.get_conversation(conn, org_id=row.org_id, conversation_id=conversation_id)
        if conv is None:
            raise Undeliverable(f"conversation {conversation_id} is gone")
        org = await accounts.get_org(conn, row.org_id)
        visitor = await chat.get_visitor(conn, org_id=row.org_id, visitor_id=conv.visitor_id)
        reps = {u.id: u.name for u in await accounts.list_users(conn, org_id=row.org_id)}
        items = await chat.messages_after(
            conn,
            org_id=row.org_id,
            conversation_id=conv.id,
            after_seq=0,
            limit=MAX_MESSAGES + 1,
            audiences=(Audience.ALL, Audience.VISITOR),
            messages_only=True,
        )
    check_address(to)
    items = [m for m in items if not through or m.seq <= through]
    org_name = org_display_name(org)
    you = visitor.name if visitor and visitor.name else "You"

    def author(m: Message) -> str:
        if m.author_kind is AuthorKind.VISITOR:
            return you
        if m.author_kind is AuthorKind.REP:
            return reps.get(m.author_id or "", org_name)
        return org_name

    sender = rt.settings.resolved_mail_from()
    msg = build_email(
        org_name=org_name,
        to=to,
        sender=sender,
        message_id=message_id(row.key, sender),
        lines=[(author(m), m) for m in items[:MAX_MESSAGES]],
        more=max(0, len(items) - MAX_MESSAGES),
    )
    await rt.mailer.send(msg)


def build_email(
    *,
    org_name: str,
    to: str,
    sender: str,
    message_id: str,
    lines: list[tuple[str, Message]],
    more: int = 0,
) -> EmailMessage:
    subject = f"Your conversation with {org_name}"
    text = [subject, ""]
    html = [f"<h1 style='font-size:18px'>{escape(subject)}</h1>"]
    for name, m in lines:
        stamp = m.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        text += [f"{name} ({stamp}):", m.body, ""]
        html.append(
            "<div style='margin:12px 0'>"
            f"<div style='color:#555;font-size:12px'><strong>{escape(name)}</strong> · "
            f"{escape(stamp)}</div>"
            f"<div>{render_markdown(m.body)}</div></div>"
        )
    if more:
        text.append(f"… and {more} more messages.")
        html.append(f"<p>… and {more} more messages.</p>")
    return compose(
        subject=subject,
        sender=sender,
        to=to,
        message_id=message_id,
        at=lines[-1][1].created_at if lines else _now(),
        text=text,
        html=html,
        automatic=True,
    )


def _now() -> datetime:
    return datetime.now(UTC)
