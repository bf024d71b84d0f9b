"""Pounce and auto pounce: a rep greets a visitor who has not written; auto pounce does it on
a rep's behalf, nudges once, and holds the rep to a countdown once the visitor replies.

Decisions are in `pounce.domain.proactive`; this module loads, decides, stores, publishes.
Rep-only facts (the `auto_pounce` marker in message `meta`, outcomes, deadlines) go only
to console topics: visitors get the plain message from the rep, as if the rep typed it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncConnection

from pounce.domain import proactive as engine
from pounce.domain.model import Actor, AuthorKind, ConversationStatus, Outcome, Source
from pounce.domain.ownership import close_refusal
from pounce.domain.routing import VisitorContext
from pounce.integrations.ai.base import CopilotRequest
from pounce.integrations.ai.offline import OfflineCopilot
from pounce.integrations.ai.openai_compat import OpenAICompatibleCopilot
from pounce.realtime.frames import server as sf
from pounce.realtime.frames import stream as ev
from pounce.services import copilot, events, presence, routing, stream
from pounce.services.admin import require_admin
from pounce.services.errors import ServiceError
from pounce.services.formatting import render_markdown
from pounce.services.lookups import conversation_or_404
from pounce.services.runtime import Runtime
from pounce.services.stream import UNANSWERED_JOB, Sent
from pounce.services.uow import UnitOfWork, unit_of_work
from pounce.store import accounts, jobs
from pounce.store import chat as chat_store
from pounce.store import copilot as copilot_store
from pounce.store import proactive as store
from pounce.store import routing as routing_store
from pounce.store.appender import is_resend
from pounce.store.errors import ClientIdReused
from pounce.store.records import Conversation, Message, User, Visitor

log = logging.getLogger(__name__)

GREET_JOB = "proactive.greet"
NUDGE_JOB = "proactive.nudge"
TIMEOUT_JOB = "proactive.rep_timeout"


def _key(kind: str, subject: str) -> str:
    return f"{kind}:{subject}"


# --------------------------------------------------------------------------- settings


def settings_json(s: store.OrgSettings) -> dict[str, Any]:
    return {name: getattr(s, name) for name in store.SETTING_FIELDS}


async def get_settings(rt: Runtime, *, actor: Actor) -> store.OrgSettings:
    async with rt.db.read() as conn:
        return await store.get_settings(conn, org_id=actor.org_id)


async def put_settings(rt: Runtime, *, actor: Actor, values: dict[str, Any]) -> store.OrgSettings:
    require_admin(actor)
    async with rt.db.write() as conn:
        saved = await store.put_settings(conn, org_id=actor.org_id, **values)
    rt.forget_proactive_settings(actor.org_id)  # this node at once; others within seconds
    return saved


ITEM_NAMES: dict[store.Kind, str] = {"rule": "auto pounce rule", "template": "greeting template"}


async def list_items(rt: Runtime, kind: store.Kind, *, actor: Actor) -> list[dict[str, Any]]:
    async with rt.db.read() as conn:
        return await store.list_items(conn, kind, org_id=actor.org_id)


async def create_item(
    rt: Runtime, kind: store.Kind, *, actor: Actor, values: dict[str, Any]
) -> dict[str, Any]:
    require_admin(actor)
    async with rt.db.write() as conn:
        return await store.create_item(conn, kind, org_id=actor.org_id, values=values)


async def update_item(
    rt: Runtime, kind: store.Kind, *, actor: Actor, item_id: str, values: dict[str, Any]
) -> dict[str, Any]:
    require_admin(actor)
    async with rt.db.write() as conn:
        if not await store.update_item(
            conn, kind, org_id=actor.org_id, item_id=item_id, values=values
        ):
            raise ServiceError("not_found", f"No such {ITEM_NAMES[kind]}.")
        item = await store.get_item(conn, kind, org_id=actor.org_id, item_id=item_id)
    assert item is not None
    return item


async def delete_item(rt: Runtime, kind: store.Kind, *, actor: Actor, item_id: str) -> None:
    require_admin(actor)
    async with rt.db.write() as conn:
        if not await store.delete_item(conn, kind, org_id=actor.org_id, item_id=item_id):
            raise ServiceError("not_found", f"No such {ITEM_NAMES[kind]}.")


async def _rules(conn: AsyncConnection, org_id: str) -> list[engine.PounceRule]:
    return [
        engine.PounceRule(
            id=r["id"],
            url_pattern=r["url_pattern"],
            min_seconds_on_page=r["min_seconds_on_page"],
            min_pages_viewed=r["min_pages_viewed"],
            attributes=r["attributes"],
        )
        for r in await store.list_items(conn, "rule", org_id=org_id)
        if r["enabled"]
    ]


# --------------------------------------------------------------------------- the rep's switch


def auto_pounce_frame(
    enabled: bool,
    reason: Literal["available", "rep", "missed_response"],
    conversation_id: str | None = None,
) -> sf.AutoPounceSwitched:
    return sf.AutoPounceSwitched(enabled=enabled, reason=reason, conversation_id=conversation_id)


async def switch_on_when_available(conn: AsyncConnection, *, actor: Actor) -> bool:
    """A rep who sets themselves Available gets auto pounce back on (in their transaction)."""
    return await store.set_rep_switch(
        conn, org_id=actor.org_id, user_id=actor.user_id, enabled=True, reason="available"
    )


async def my_switch(rt: Runtime, *, actor: Actor) -> dict[str, Any]:
    async with rt.db.read() as conn:
        enabled, reason = await store.rep_switch(conn, org_id=actor.org_id, user_id=actor.user_id)
    return {"enabled": enabled, "reason": reason}


async def set_my_switch(rt: Runtime, *, actor: Actor, enabled: bool) -> dict[str, Any]:
    """*Enable auto pounce*, toggled by the rep; every tab and every rep hear of it."""
    async with rt.db.write() as conn:
        changed = await store.set_rep_switch(
            conn, org_id=actor.org_id, user_id=actor.user_id, enabled=enabled, reason="rep"
        )
        user = await accounts.get_user(conn, org_id=actor.org_id, user_id=actor.user_id)
    if changed and user is not None:
        events.to_users(rt.bus, [user.id], auto_pounce_frame(enabled, "rep"))
        await presence.broadcast_rep(rt, user)
    return {"enabled": enabled, "reason": "rep"}


# --------------------------------------------------------------------------- manual pounce


async def pounce(
    rt: Runtime, *, actor: Actor, visitor_id: str, client_id: str, body: str
) -> tuple[Sent, User | None]:
    """A rep opens a conversation with a visitor who has not written, with a first message.

    Refused with `conflict` if the visitor is in a conversation already and `not_found` if
    they are not on the site now. Resending the same client id returns the stored message.
    """
    html = render_markdown(body)
    info = await rt.presence.visitor_info(actor.org_id, visitor_id)
    async with unit_of_work(rt) as uow:
        conn = uow.conn
        author = await accounts.get_user(conn, org_id=actor.org_id, user_id=actor.user_id)
        existing = await chat_store.find_rep_message(
            conn, org_id=actor.org_id, rep_id=actor.user_id, client_id=client_id
        )
        if existing is not None:
            conv = await chat_store.get_conversation(
                conn, org_id=actor.org_id, conversation_id=existing.conversation_id
            )
            assert conv is not None
            if conv.visitor_id != visitor_id or not is_resend(
                existing, body=body, conversation_id=None
            ):
                raise ClientIdReused()
            return Sent(existing, conv, created=False), author
        await store.lock_visitor(conn, org_id=actor.org_id, visitor_id=visitor_id)
        visitor = await chat_store.get_visitor(conn, org_id=actor.org_id, visitor_id=visitor_id)
        if visitor is None or visitor.blocked or info is None:
            raise ServiceError("not_found", "This visitor is not on the site now.")
        current = await chat_store.current_conversation(
            conn, org_id=actor.org_id, visitor_id=visitor.id
        )
        if current is not None:
            raise ServiceError(
                "conflict",
                "This visitor is already in a conversation.",
                conversation_id=current.id,
            )
        conv = await chat_store.create_conversation(
            conn,
            org_id=actor.org_id,
            site_id=visitor.site_id,
            visitor_id=visitor.id,
            source=Source.POUNCE,
            owner_id=actor.user_id,
            at=rt.now(),  # the quiet period is measured from it, on the runtime's clock
        )
        message = await chat_store.append_message(
            conn,
            org_id=actor.org_id,
            conversation_id=conv.id,
            author_kind=AuthorKind.REP,
            author_id=actor.user_id,
            client_id=client_id,
            body=body,
            html=html,
        )
        conv = await _conversation(conn, actor.org_id, conv.id)
        await jobs.cancel(conn, org_id=actor.org_id, dedupe_key=_key(GREET_JOB, visitor.id))
        _post_opened(rt, uow, conv, message, author)
    return Sent(message, conv, created=True), author


async def _conversation(conn: AsyncConnection, org_id: str, conversation_id: str) -> Conversation:
    conv = await chat_store.get_conversation(conn, org_id=org_id, conversation_id=conversation_id)
    assert conv is not None
    return conv


def _post_opened(
    rt: Runtime, uow: UnitOfWork, conv: Conversation, message: Message, author: User | None
) -> None:
    """The visitor's messenger gets `conversation` then the rep's `message`, and opens."""
    stream.post_conversation(uow, conv, author)
    stream.post_message(uow, conv, message, author)
    uow.after_commit(lambda: stream.in_conversation(rt, conv))


# --------------------------------------------------------------------------- greeting


async def page_viewed(rt: Runtime, *, visitor: Visitor, info: dict[str, Any]) -> None:
    """Arm (or move) the visitor's greeting for when the first rule targeting this page is
    due. Every page view restarts the time on page, so the timer is replaced, not added."""
    page = info.get("current_page") or {}
    if not page.get("url") or info.get("conversation_id"):
        return
    if not (await rt.proactive_settings(visitor.org_id)).auto_pounce_enabled:
        return
    async with rt.db.read() as conn:
        rules = await _rules(conn, visitor.org_id)
    activity = engine.Activity(
        url=page["url"],
        pages_viewed=int(info.get("pages_viewed") or 1),
        attributes=visitor.attributes,
    )
    rule = engine.first_targeting(rules, activity)
    key = _key(GREET_JOB, visitor.id)
    page_token = f"{page['url']}@{page.get('viewed_at') or rt.clock()}"
    async with rt.db.write() as conn:
        await jobs.cancel(conn, org_id=visitor.org_id, dedupe_key=key)
        if rule is not None:
            await jobs.enqueue(
                conn,
                org_id=visitor.org_id,
                kind=GREET_JOB,
                payload={"visitor_id": visitor.id, "page": page_token},
                run_at=rt.clock() + rule.min_seconds_on_page,
                dedupe_key=key,
            )
    if rule is not None:
        task = asyncio.create_task(
            compose_greeting(rt, visitor=visitor, page=page, page_token=page_token, key=key)
        )
        _composing.add(task)
        task.add_done_callback(_composing.discard)


_composing: set[asyncio.Task[None]] = set()
_offline_fallback: OfflineCopilot | None = None


def greeting_brief(page: dict[str, Any], idea: str, values: dict[str, str | None]) -> str:
    """What the model is asked to write: the idea (the page's template) with its
    placeholders filled as far as they are known before a rep is picked; a model shown
    a raw `{visitor.first_name}` copies it, and a greeting with a `{` is not used."""
    return (
        f"Proactive chat greeting for a website visitor who is reading the page "
        f'"{page.get("title") or page.get("url")}". One or two short, friendly '
        f"sentences; offer help with what that page is about. Idea: {engine.fill(idea, values)}"
    )


async def compose_greeting(
    rt: Runtime, *, visitor: Visitor, page: dict[str, Any], page_token: str, key: str
) -> None:
    """Ask the org's AI provider, if it has one, for a greeting written for this page.

    This runs while the greeting waits for the visitor's time on page, outside any
    transaction (a model may take seconds); the text is put on the pending job, which
    uses it only if the visitor is still on that page view. No provider, an error or a
    timeout: the job falls back to the admin's page templates.
    """
    global _offline_fallback
    try:
        async with rt.db.read() as conn:
            org_ai = await copilot_store.get_ai_settings(conn, org_id=visitor.org_id)
            config = copilot.provider_config(rt.settings, org_ai)
            if config is None:
                return  # the common case: one read per page view, nothing more
            org = await accounts.get_org(conn, visitor.org_id)
            templates = [
                engine.Template(id=t["id"], url_pattern=t["url_pattern"], body=t["body"])
                for t in await store.list_items(conn, "template", org_id=visitor.org_id)
            ]
        if _offline_fallback is None:
            _offline_fallback = OfflineCopilot()
        provider = OpenAICompatibleCopilot(config, fallback=_offline_fallback)
        chosen = engine.template_for(templates, str(page.get("url") or ""))
        org_name = str(org["name"]) if org else ""
        values = _placeholders(None, visitor, {"current_page": page}, org_name)
        result = await provider.expand(
            CopilotRequest(
                text=greeting_brief(
                    page, chosen.body if chosen else engine.DEFAULT_GREETING, values
                ),
                tone="friendly",
                company_name=org_name or None,
            )
        )
        text = result.text.strip()
        if result.fallback or not text or "{" in text:
            log.info("auto pounce greeting: the model gave nothing usable; templates will be used")
            return
        async with rt.db.write() as conn:
            stored = await jobs.merge_payload(
                conn,
                org_id=visitor.org_id,
                dedupe_key=key,
                values={"greeting": text[:1000], "greeting_source": result.source},
            )
        # The visitor may have moved on meanwhile: the job checks the page token.
        log.info(
            "auto pounce greeting composed by %s%s",
            result.source,
            "" if stored else " too late (the greeting already went out)",
        )
    except Exception:
        log.exception("composing an auto pounce greeting failed; templates will be used")


def _seconds_since(stamp: str | None, now: float) -> float:
    if not stamp:
        return 0.0
    return now - datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _activity(info: dict[str, Any], visitor: Visitor, now: float) -> engine.Activity:
    page = info.get("current_page") or {}
    return engine.Activity(
        url=page.get("url") or "",
        seconds_on_page=_seconds_since(page.get("viewed_at"), now),
        pages_viewed=int(info.get("pages_viewed") or 0),
        attributes=visitor.attributes,
    )


def _context(info: dict[str, Any] | None, visitor: Visitor) -> VisitorContext:
    page = (info or {}).get("current_page") or {}
    return VisitorContext(
        url=page.get("url") or "",
        attributes=visitor.attributes,
        company=visitor.company,
        country=visitor.country,
    )


async def _pick_rep(
    rt: Runtime,
    conn: AsyncConnection,
    *,
    org_id: str,
    ctx: VisitorContext,
    settings: store.OrgSettings,
) -> str | None:
    """Rotate among enabled, available, not-too-busy reps the routing rules allow."""
    users = await accounts.list_users(conn, org_id=org_id)
    ready = set(await routing.available_reps(rt, conn, org_id=org_id, users=users))
    switches = await store.rep_switches(conn, org_id=org_id)
    busy = await store.open_chats(conn, org_id=org_id)
    rules = await routing.load_rules(conn, org_id=org_id)
    queue, candidates = engine.rotation_queue(rules, ctx, [u.id for u in users])
    statuses = {
        u.id: engine.RepStatus(
            available=u.id in ready,
            auto_pounce=switches.get(u.id, False),
            open_chats=busy.get(u.id, 0),
        )
        for u in users
    }
    turns = await routing_store.last_turns(conn, org_id=org_id, queue=queue)
    rep = engine.pick_rep(
        candidates, statuses, max_open_chats=settings.max_open_chats_per_rep, last_turn=turns
    )
    if rep is not None:
        await routing_store.record_turn(conn, org_id=org_id, queue=queue, user_id=rep)
    return rep


def _placeholders(
    rep: User | None, visitor: Visitor, info: dict[str, Any] | None, org_name: str
) -> dict[str, str | None]:
    page = (info or {}).get("current_page") or {}
    return {
        "rep.name": rep.name if rep else None,
        "rep.first_name": rep.first_name if rep else None,
        "visitor.name": visitor.name,
        "visitor.first_name": visitor.name.split(" ", 1)[0] if visitor.name else None,
        "company.name": visitor.company,
        "org.name": org_name,
        "page.title": page.get("title") or None,
    }


async def _greeting(
    conn: AsyncConnection, *, org_id: str, url: str, values: dict[str, str | None]
) -> str:
    """The greeting written for this page: the admin's template for the page, else ours."""
    templates = [
        engine.Template(id=t["id"], url_pattern=t["url_pattern"], body=t["body"])
        for t in await store.list_items(conn, "template", org_id=org_id)
    ]
    chosen = engine.template_for(templates, url)
    text = engine.fill(chosen.body if chosen else engine.DEFAULT_GREETING, values)
    return text or engine.fill(engine.DEFAULT_GREETING, values)


async def handle_greet(rt: Runtime, uow: UnitOfWork, job: jobs.Job) -> None:
    """The greeting is due: check everything again, pick the rep, open and greet."""
    conn = uow.conn
    org_id, visitor_id, now = job.org_id, str(job.payload.get("visitor_id")), rt.clock()
    settings = await store.get_settings(conn, org_id=org_id)
    await store.lock_visitor(conn, org_id=org_id, visitor_id=visitor_id)
    visitor = await chat_store.get_visitor(conn, org_id=org_id, visitor_id=visitor_id)
    if visitor is None or visitor.blocked:
        return
    info = await rt.presence.visitor_info(org_id, visitor_id)
    current = await chat_store.current_conversation(conn, org_id=org_id, visitor_id=visitor_id)
    last = await store.last_pounced_at(conn, org_id=org_id, visitor_id=visitor_id)
    activity = _activity(info or {}, visitor, now)
    rule = engine.matching_rule(await _rules(conn, org_id), activity)
    skip = engine.greet_skip(
        enabled=settings.auto_pounce_enabled,
        online=info is not None,
        in_conversation=current is not None,
        quiet=engine.in_quiet_period(last, now, settings.quiet_period_hours),
        rule=rule,
    )
    if skip is not None or rule is None:
        log.debug("no auto pounce on %s: %s", visitor_id, skip)
        return
    rep_id = await _pick_rep(
        rt, conn, org_id=org_id, ctx=_context(info, visitor), settings=settings
    )
    if rep_id is None:
        log.debug("no auto pounce on %s: %s", visitor_id, engine.Skip.NO_REP)
        return
    conv = await chat_store.create_conversation(
        conn,
        org_id=org_id,
        site_id=visitor.site_id,
        visitor_id=visitor.id,
        source=Source.AUTO_POUNCE,
        owner_id=rep_id,
        at=rt.now(),  # the quiet period is measured from it, on the runtime's clock
    )
    await chat_store.set_routed(conn, org_id=org_id, conversation_id=conv.id, routed_to=[rep_id])
    await store.create_pounce(
        conn,
        org_id=org_id,
        conversation_id=conv.id,
        visitor_id=visitor.id,
        rule_id=rule.id,
        pounce=engine.greet(rep_id, now),
    )
    rep = await accounts.get_user(conn, org_id=org_id, user_id=rep_id)
    org = await accounts.get_org(conn, org_id)
    values = _placeholders(rep, visitor, info, str(org["name"]) if org else "")
    composed = job.payload.get("greeting")
    if composed and job.payload.get("page") == _page_token(info or {}):
        body, source = str(composed), str(job.payload.get("greeting_source") or "model")
    else:
        body = await _greeting(conn, org_id=org_id, url=activity.url, values=values)
        source = "template"
    message = await _append_auto(conn, conv, rep_id, body, "greeting", source=source)
    await jobs.enqueue(
        conn,
        org_id=org_id,
        kind=NUDGE_JOB,
        payload={"conversation_id": conv.id},
        run_at=now + settings.nudge_delay_seconds,
        dedupe_key=_key(NUDGE_JOB, conv.id),
    )
    conv = await _conversation(conn, org_id, conv.id)
    _post_opened(rt, uow, conv, message, rep)


def _page_token(info: dict[str, Any]) -> str | None:
    page = info.get("current_page") or {}
    if not page.get("url"):
        return None
    return f"{page['url']}@{page.get('viewed_at')}"


async def _append_auto(
    conn: AsyncConnection,
    conv: Conversation,
    rep_id: str,
    body: str,
    kind: str,
    *,
    source: str = "template",
) -> Message:
    """A message written by auto pounce in the rep's name; `meta` marks it for reps only."""
    return await chat_store.append_message(
        conn,
        org_id=conv.org_id,
        conversation_id=conv.id,
        author_kind=AuthorKind.REP,
        author_id=rep_id,
        client_id=None,
        body=body,
        html=render_markdown(body),
        meta={"auto_pounce": True, "kind": kind, "source": source},
    )


async def handle_nudge(rt: Runtime, uow: UnitOfWork, job: jobs.Job) -> None:
    """One nudge, only while nobody has said anything since the greeting."""
    conn = uow.conn
    org_id, conversation_id = job.org_id, str(job.payload.get("conversation_id"))
    row = await store.get_pounce(conn, org_id=org_id, conversation_id=conversation_id)
    conv = await chat_store.get_conversation(conn, org_id=org_id, conversation_id=conversation_id)
    if row is None or conv is None or conv.status is ConversationStatus.CLOSED:
        return
    if conv.owner_id != row.pounce.rep_id:
        return
    replied = await chat_store.first_visitor_message(
        conn, org_id=org_id, conversation_id=conversation_id
    )
    step = engine.nudge_due(row.pounce, rt.clock(), visitor_replied=replied is not None)
    if engine.Effect.SEND_NUDGE not in step.effects:
        return
    if not await store.save_pounce(
        conn, org_id=org_id, conversation_id=conv.id, was=row.pounce.stage, pounce=step.pounce
    ):
        return
    settings = await store.get_settings(conn, org_id=org_id)
    rep = await accounts.get_user(conn, org_id=org_id, user_id=row.pounce.rep_id)
    visitor = await chat_store.get_visitor(conn, org_id=org_id, visitor_id=conv.visitor_id)
    assert visitor is not None
    info = await rt.presence.visitor_info(org_id, visitor.id)
    org = await accounts.get_org(conn, org_id)
    values = _placeholders(rep, visitor, info, str(org["name"]) if org else "")
    body = engine.fill(settings.nudge_template, values) or engine.DEFAULT_NUDGE
    message = await _append_auto(conn, conv, row.pounce.rep_id, body, "nudge")
    conv = await _conversation(conn, org_id, conv.id)
    stream.post_message(uow, conv, message, rep)


# --------------------------------------------------------------------------- after the reply


def deadline_ms(deadline: float) -> int:
    """Epoch ms, rounded: a deadline read back from the store (microseconds) and the same
    deadline still in memory give the same number."""
    return round(deadline * 1000)


async def visitor_replied(rt: Runtime, *, conv: Conversation) -> None:
    """The visitor answered an auto pounce: stop the nudge, alert the rep with a deadline
    and start the countdown. Called by chat after the visitor's message committed; the
    countdown runs on the runtime's clock, like every auto pounce timer."""
    async with rt.db.read() as conn:
        row = await store.get_pounce(conn, org_id=conv.org_id, conversation_id=conv.id)
    if row is None or row.pounce.stage not in (engine.Stage.GREETED, engine.Stage.NUDGED):
        return
    async with unit_of_work(rt) as uow:
        conn = uow.conn
        settings = await store.get_settings(conn, org_id=conv.org_id)
        step = engine.visitor_replied(
            row.pounce, rt.clock(), rep_timeout=settings.rep_timeout_seconds
        )
        deadline = step.pounce.deadline
        if deadline is None or not await store.save_pounce(
            conn,
            org_id=conv.org_id,
            conversation_id=conv.id,
            was=row.pounce.stage,
            pounce=step.pounce,
        ):
            return
        await jobs.cancel(conn, org_id=conv.org_id, dedupe_key=_key(NUDGE_JOB, conv.id))
        await jobs.enqueue(
            conn,
            org_id=conv.org_id,
            kind=TIMEOUT_JOB,
            payload={"conversation_id": conv.id},
            run_at=deadline,
            dedupe_key=_key(TIMEOUT_JOB, conv.id),
        )
        alert = await stream.alert(
            rt,
            conn,
            await _conversation(conn, conv.org_id, conv.id),
            deadline=deadline_ms(deadline),
        )
        events.to_users(uow, [row.pounce.rep_id], stream.alert_frame(alert))


async def rep_replied(rt: Runtime, *, conv: Conversation) -> None:
    """The rep wrote in their auto pounce: outcome `replied`, the countdown stops.
    Called by chat after the rep's message committed."""
    async with rt.db.read() as conn:
        row = await store.get_pounce(conn, org_id=conv.org_id, conversation_id=conv.id)
    if row is None or row.pounce.stage is engine.Stage.DONE:
        return
    async with unit_of_work(rt) as uow:
        conn = uow.conn
        step = engine.rep_replied(row.pounce, rt.clock())
        if not await store.save_pounce(
            conn,
            org_id=conv.org_id,
            conversation_id=conv.id,
            was=row.pounce.stage,
            pounce=step.pounce,
        ):
            return
        await _cancel(conn, conv, step)
        if await store.set_outcome(
            conn, org_id=conv.org_id, conversation_id=conv.id, outcome=Outcome.REPLIED
        ):
            await stream.append_event(uow, conv, ev.OutcomeSet(outcome=Outcome.REPLIED.value))
        fresh = await _conversation(conn, conv.org_id, conv.id)
        owner = await accounts.get_user(conn, org_id=conv.org_id, user_id=row.pounce.rep_id)
        stream.post_conversation_to_reps(uow, fresh, owner)


async def _cancel(conn: AsyncConnection, conv: Conversation, step: engine.Step) -> None:
    if engine.Effect.CANCEL_NUDGE in step.effects:
        await jobs.cancel(conn, org_id=conv.org_id, dedupe_key=_key(NUDGE_JOB, conv.id))
    if engine.Effect.CANCEL_TIMEOUT in step.effects:
        await jobs.cancel(conn, org_id=conv.org_id, dedupe_key=_key(TIMEOUT_JOB, conv.id))


async def set_outcome(
    rt: Runtime, *, actor: Actor, conversation_id: str, outcome: Outcome
) -> tuple[Conversation, User | None]:
    """Spam or No response needed: the outcome is stored, the countdown stops, the
    conversation closes. The owner (or an admin) may mark any open conversation."""
    if outcome not in engine.MARKABLE:
        raise ServiceError("invalid", "outcome must be spam or no_response_needed")
    async with unit_of_work(rt) as uow:
        conn = uow.conn
        conv = await conversation_or_404(conn, org_id=actor.org_id, conversation_id=conversation_id)
        refusal = close_refusal(actor, conv.state)
        if refusal is not None:
            raise ServiceError(refusal.value, _REFUSALS.get(refusal.value, refusal.value))
        row = await store.get_pounce(conn, org_id=conv.org_id, conversation_id=conv.id)
        if row is not None:
            step = engine.rep_marked(row.pounce, outcome, rt.clock())
            if step.pounce != row.pounce:
                if not await store.save_pounce(
                    conn,
                    org_id=conv.org_id,
                    conversation_id=conv.id,
                    was=row.pounce.stage,
                    pounce=step.pounce,
                ):
                    raise ServiceError("not_owner", "Too late: the rep timeout ran out first.")
                await _cancel(conn, conv, step)
        await chat_store.close_conversation(
            conn, org_id=conv.org_id, conversation_id=conv.id, outcome=outcome.value
        )
        marker = await accounts.get_user(conn, org_id=actor.org_id, user_id=actor.user_id)
        await stream.append_event(uow, conv, ev.OutcomeSet(outcome=outcome.value), actor=marker)
        await stream.append_event(uow, conv, ev.Closed(), actor=marker)
        await jobs.cancel(conn, org_id=conv.org_id, dedupe_key=f"{UNANSWERED_JOB}:{conv.id}")
        conv = await _conversation(conn, conv.org_id, conv.id)
        owner = (
            await accounts.get_user(conn, org_id=conv.org_id, user_id=conv.owner_id)
            if conv.owner_id
            else None
        )
        stream.post_conversation(uow, conv, owner)
        closed = conv
        uow.after_commit(lambda: stream.out_of_conversation(rt, closed))
    return conv, owner


_REFUSALS = {
    "not_found": "No such conversation.",
    "not_owner": "Only the rep who owns this conversation (or an admin) can do that.",
    "closed": "This conversation is closed.",
}


async def handle_rep_timeout(rt: Runtime, uow: UnitOfWork, job: jobs.Job) -> None:
    """The rep did not act in time: missed response, their auto pounce goes off, and the
    conversation goes back to the routing rules so the visitor is not left alone."""
    conn = uow.conn
    org_id, conversation_id, now = job.org_id, str(job.payload.get("conversation_id")), rt.clock()
    row = await store.get_pounce(conn, org_id=org_id, conversation_id=conversation_id)
    conv = await chat_store.get_conversation(conn, org_id=org_id, conversation_id=conversation_id)
    if row is None or conv is None:
        return
    p = row.pounce
    if conv.status is ConversationStatus.CLOSED:
        # Closed in time without a reply: the rep acted, nothing needed saying.
        step = engine.rep_marked(p, Outcome.NO_RESPONSE_NEEDED, now)
    else:
        replied_at = (
            await store.rep_reply_after(
                conn,
                org_id=org_id,
                conversation_id=conv.id,
                after=store.epoch_to_datetime(p.visitor_replied_at),
            )
            if p.visitor_replied_at is not None
            else None
        )
        step = engine.timeout(p, now, rep_replied_at=replied_at)
    outcome = step.pounce.outcome
    if step.pounce == p or outcome is None:
        return
    if not await store.save_pounce(
        conn, org_id=org_id, conversation_id=conv.id, was=p.stage, pounce=step.pounce
    ):
        return
    if engine.Effect.REROUTE not in step.effects:
        if await store.set_outcome(conn, org_id=org_id, conversation_id=conv.id, outcome=outcome):
            await stream.append_event(uow, conv, ev.OutcomeSet(outcome=outcome.value))
        return
    await store.set_rep_switch(
        conn, org_id=org_id, user_id=p.rep_id, enabled=False, reason="missed_response"
    )
    await store.hand_back(conn, org_id=org_id, conversation_id=conv.id)
    await stream.append_event(uow, conv, ev.OutcomeSet(outcome=Outcome.MISSED_RESPONSE.value))
    await stream.append_event(uow, conv, ev.OwnerChanged(owner=None))
    visitor = await chat_store.get_visitor(conn, org_id=org_id, visitor_id=conv.visitor_id)
    assert visitor is not None
    info = await rt.presence.visitor_info(org_id, visitor.id)
    ready = await routing.available_reps(rt, conn, org_id=org_id)
    others = [r for r in ready if r != p.rep_id]
    # Someone else first; the rep who missed it only if nobody else is there.
    decision = await routing.route(
        rt, conn, org_id=org_id, ctx=_context(info, visitor), available=others or ready
    )
    await chat_store.set_routed(
        conn, org_id=org_id, conversation_id=conv.id, routed_to=decision.alerted
    )
    rep = await accounts.get_user(conn, org_id=org_id, user_id=p.rep_id)
    fresh = await _conversation(conn, org_id, conv.id)
    events.to_users(uow, [p.rep_id], auto_pounce_frame(False, "missed_response", conv.id))
    if rep is not None:
        missed = rep
        uow.after_commit(lambda: presence.broadcast_rep(rt, missed))
    stream.post_conversation(uow, fresh, None)
    if decision.alerted:
        alert = await stream.alert(rt, conn, fresh)
        events.to_users(uow, decision.alerted, stream.alert_frame(alert))


# --------------------------------------------------------------------------- console state


async def pending_alerts(
    conn: AsyncConnection, *, org_id: str, user_ids: list[str]
) -> dict[str, dict[str, int]]:
    """Each rep's auto pounces waiting for them: rep id -> conversation id -> deadline
    (epoch ms), in one query."""
    waiting = await store.awaiting_reps(conn, org_id=org_id, rep_ids=user_ids)
    return {
        rep_id: {cid: deadline_ms(deadline) for cid, deadline in convs.items()}
        for rep_id, convs in waiting.items()
    }


# --------------------------------------------------------------------------- reports


def _counts(r: engine.RepReport) -> dict[str, Any]:
    return {
        "pounces_sent": r.pounces,
        "replies": r.replies,
        "response_seconds_median": r.response_seconds_median,
        "replied": r.replied,
        "missed_responses": r.missed_responses,
        "spam": r.spam,
        "no_response_needed": r.no_response_needed,
    }


async def report(
    rt: Runtime, *, actor: Actor, start: date, end: date, rep_id: str | None = None
) -> dict[str, Any]:
    """Auto pounces greeted from `start` to `end` (inclusive, UTC days), per rep."""
    if end < start:
        raise ServiceError("invalid", "`to` is before `from`.")
    since = datetime.combine(start, time.min, UTC)
    until = datetime.combine(end + timedelta(days=1), time.min, UTC)
    async with rt.db.read() as conn:
        pounces = await store.pounces_between(
            conn, org_id=actor.org_id, start=since, end=until, rep_id=rep_id
        )
        users = {u.id: u for u in await accounts.list_users(conn, org_id=actor.org_id)}
    rows = engine.report(pounces)
    total = engine.summarize("", pounces)
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "rep_id": rep_id,
        "items": [
            {
                "rep_id": r.rep_id,
                "rep_name": users[r.rep_id].name if r.rep_id in users else None,
                **_counts(r),
            }
            for r in rows
        ],
        "totals": _counts(total),
    }
