"""The REST API under /api/v1: session, users, teams, sites, rules, visitors, conversations."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query, Request, Response

from pounce.api import responses as out
from pounce.api.deps import ActorDep, AdminDep, RuntimeDep, SessionDep, api_router
from pounce.api.errors import errors
from pounce.api.schemas import (
    AvailabilityIn,
    LoginIn,
    QueryBool,
    RenderIn,
    RoutingRuleIn,
    RoutingRulePatch,
    SiteIn,
    SitePatch,
    TeamIn,
    UserIn,
    UserPatch,
)
from pounce.domain.model import Availability, ConversationStatus, Role
from pounce.services import admin, auth, chat, events, identity, reps
from pounce.services.errors import ServiceError
from pounce.services.formatting import render_markdown
from pounce.store import chat as chat_store
from pounce.store.records import Site, User

router = api_router()
ListLimit = Annotated[int, Query(ge=1, le=500)]
SEQ_MAX = 2**31 - 1  # sequence numbers are 32-bit integers in the store
# A write with a JSON body: unreadable (400), no CSRF token or role (403), invalid (422).
WRITE = errors(400, 403, 422)


def _me(user: User, csrf: str) -> out.Session:
    return out.Session(user=_user(user), csrf_token=csrf)


def _user(user: User) -> out.User:
    return out.User.model_validate(admin.user_json(user))


def _site(site: Site, public_url: str) -> out.Site:
    return out.Site.model_validate(admin.site_json(site, public_url))


@router.post("/session", tags=["session"], responses=errors(400, 422, 429))
async def login(body: LoginIn, request: Request, response: Response, rt: RuntimeDep) -> out.Session:
    """Sign in; the session cookie is set and the CSRF token returned. Failed attempts are
    throttled per (email, client address) and per client address, with growing delays."""
    ip = request.client.host if request.client else "unknown"
    info = await auth.login(rt, email=body.email, password=body.password, client_ip=ip)
    assert info.token is not None
    response.set_cookie(
        auth.SESSION_COOKIE,
        info.token,
        max_age=rt.settings.session_days * 86400,
        httponly=True,
        samesite="lax",
        secure=rt.settings.cookie_secure,
        path="/",
    )
    return _me(info.user, info.csrf_token)


@router.get("/session", tags=["session"])
async def get_session(session: SessionDep) -> out.Session:
    return _me(session.user, session.csrf_token)


@router.delete("/session", tags=["session"], status_code=204, responses=errors(403))
async def logout(request: Request, response: Response, rt: RuntimeDep, _s: SessionDep) -> None:
    token = request.cookies.get(auth.SESSION_COOKIE)
    if token:
        await auth.logout(rt, token)
    response.delete_cookie(auth.SESSION_COOKIE, path="/")


@router.get("/me", tags=["session"])
async def me(session: SessionDep) -> out.User:
    return _user(session.user)


@router.get("/me/availability", tags=["session"])
async def get_availability(session: SessionDep) -> out.AvailabilityOut:
    return out.AvailabilityOut(status=session.user.availability.value)


@router.put("/me/availability", tags=["session"], responses=WRITE)
async def put_availability(
    body: AvailabilityIn, actor: ActorDep, rt: RuntimeDep
) -> out.AvailabilityOut:
    user = await reps.set_availability(rt, actor=actor, status=Availability(body.status))
    return out.AvailabilityOut(status=user.availability.value)


@router.get("/users", tags=["users"])
async def list_users(actor: ActorDep, rt: RuntimeDep) -> out.UserList:
    return out.UserList(items=[_user(u) for u in await admin.list_users(rt, actor=actor)])


@router.post("/users", tags=["users"], status_code=201, responses=WRITE | errors(409))
async def create_user(body: UserIn, actor: AdminDep, rt: RuntimeDep) -> out.User:
    user = await admin.add_user(
        rt,
        org_id=actor.org_id,
        email=body.email,
        name=body.name,
        password=body.password,
        role=Role(body.role),
        avatar_url=body.avatar_url,
    )
    return _user(user)


@router.patch("/users/{user_id}", tags=["users"], responses=WRITE | errors(404))
async def patch_user(user_id: str, body: UserPatch, actor: ActorDep, rt: RuntimeDep) -> out.User:
    """A rep may change their own name, picture and password; admins anything of anyone."""
    user = await admin.update_user(rt, actor=actor, user_id=user_id, values=body.changes())
    return _user(user)


@router.get("/teams", tags=["users"])
async def list_teams(actor: ActorDep, rt: RuntimeDep) -> out.TeamList:
    return out.TeamList.model_validate({"items": await admin.list_teams(rt, actor=actor)})


@router.post("/teams", tags=["users"], status_code=201, responses=WRITE | errors(409))
async def create_team(body: TeamIn, actor: AdminDep, rt: RuntimeDep) -> out.Team:
    team = await admin.create_team(rt, actor=actor, name=body.name, member_ids=body.member_ids)
    return out.Team.model_validate(team)


@router.get("/sites", tags=["sites"])
async def list_sites(actor: ActorDep, rt: RuntimeDep) -> out.SiteList:
    url = rt.settings.resolved_public_url()
    return out.SiteList(items=[_site(s, url) for s in await admin.list_sites(rt, actor=actor)])


@router.post("/sites", tags=["sites"], status_code=201, responses=WRITE)
async def create_site(body: SiteIn, actor: AdminDep, rt: RuntimeDep) -> out.Site:
    site = await admin.create_site(
        rt, actor=actor, name=body.name, allowed_origins=body.allowed_origins
    )
    return _site(site, rt.settings.resolved_public_url())


@router.get("/sites/{site_id}", tags=["sites"], responses=errors(404))
async def get_site(site_id: str, actor: ActorDep, rt: RuntimeDep) -> out.Site:
    site = await admin.get_site(rt, actor=actor, site_id=site_id)
    return _site(site, rt.settings.resolved_public_url())


@router.patch("/sites/{site_id}", tags=["sites"], responses=WRITE | errors(404))
async def patch_site(site_id: str, body: SitePatch, actor: AdminDep, rt: RuntimeDep) -> out.Site:
    site = await admin.update_site(rt, actor=actor, site_id=site_id, values=body.changes())
    return _site(site, rt.settings.resolved_public_url())


@router.get("/sites/{site_id}/identity-secret", tags=["sites"], responses=errors(403, 404))
async def get_identity_secret(site_id: str, actor: AdminDep, rt: RuntimeDep) -> out.IdentitySecret:
    """The secret the site signs `identify` tokens and user hashes with (admins only)."""
    secret = await identity.site_secret(rt, actor=actor, site_id=site_id)
    return out.IdentitySecret(identity_secret=secret)


@router.post("/sites/{site_id}/identity-secret/rotate", tags=["sites"], responses=errors(403, 404))
async def rotate_identity_secret(
    site_id: str, actor: AdminDep, rt: RuntimeDep
) -> out.IdentitySecret:
    """A new identity secret: tokens and hashes signed with the old one stop verifying."""
    secret = await identity.site_secret(rt, actor=actor, site_id=site_id, rotate=True)
    return out.IdentitySecret(identity_secret=secret)


@router.get("/routing-rules", tags=["routing"])
async def list_routing_rules(actor: ActorDep, rt: RuntimeDep) -> out.RoutingRuleList:
    return out.RoutingRuleList.model_validate({"items": await admin.list_rules(rt, actor=actor)})


@router.post("/routing-rules", tags=["routing"], status_code=201, responses=WRITE)
async def create_routing_rule(
    body: RoutingRuleIn, actor: AdminDep, rt: RuntimeDep
) -> out.RoutingRule:
    rule = await admin.create_rule(rt, actor=actor, values=body.model_dump())
    return out.RoutingRule.model_validate(rule)


@router.patch("/routing-rules/{rule_id}", tags=["routing"], responses=WRITE | errors(404))
async def patch_routing_rule(
    rule_id: str, body: RoutingRulePatch, actor: AdminDep, rt: RuntimeDep
) -> out.RoutingRule:
    rule = await admin.update_rule(rt, actor=actor, rule_id=rule_id, values=body.changes())
    return out.RoutingRule.model_validate(rule)


@router.delete(
    "/routing-rules/{rule_id}", tags=["routing"], status_code=204, responses=errors(403, 404)
)
async def delete_routing_rule(rule_id: str, actor: AdminDep, rt: RuntimeDep) -> None:
    await admin.delete_rule(rt, actor=actor, rule_id=rule_id)


@router.get(
    "/visitors", tags=["visitors"], responses=errors(422), response_model_exclude_unset=True
)
async def list_visitors(
    actor: ActorDep, rt: RuntimeDep, limit: ListLimit = 100, online: QueryBool = False
) -> out.VisitorList:
    online_now = await rt.presence.visitors_online(actor.org_id)
    async with rt.db.read() as conn:
        if online:
            wanted = list(online_now)[:limit]
            known = await chat_store.get_visitors(conn, org_id=actor.org_id, visitor_ids=wanted)
            found = [known[vid] for vid in wanted if vid in known]
        else:
            found = await chat_store.list_visitors(conn, org_id=actor.org_id, limit=limit)
    return out.VisitorList.model_validate(
        {
            "items": [
                events.visitor_card_json(v, online_now.get(v.id), online=v.id in online_now)
                for v in found[:limit]
            ]
        }
    )


@router.get(
    "/visitors/{visitor_id}",
    tags=["visitors"],
    responses=errors(404),
    response_model_exclude_unset=True,
)
async def get_visitor(visitor_id: str, actor: ActorDep, rt: RuntimeDep) -> out.VisitorDetail:
    async with rt.db.read() as conn:
        visitor = await chat_store.get_visitor(conn, org_id=actor.org_id, visitor_id=visitor_id)
        if visitor is None:
            raise ServiceError("not_found", "No such visitor.")
        views = await chat_store.page_views_since(conn, org_id=actor.org_id, visitor_id=visitor_id)
    info = await rt.presence.visitor_info(actor.org_id, visitor_id)
    card = events.visitor_card_json(visitor, info, online=info is not None)
    card["page_views"] = [{**v, "viewed_at": events.iso(v["viewed_at"])} for v in views[-200:]]
    return out.VisitorDetail.model_validate(card)


@router.get("/conversations", tags=["conversations"], responses=errors(422))
async def list_conversations(
    actor: ActorDep,
    rt: RuntimeDep,
    visitor_id: Annotated[str | None, Query(max_length=40)] = None,
    owner_id: Annotated[str | None, Query(max_length=40)] = None,
    status: Literal["open", "active", "closed"] | None = None,
    limit: ListLimit = 50,
) -> out.ConversationList:
    statuses = (ConversationStatus(status),) if status else ()
    async with rt.db.read() as conn:
        found = await chat_store.list_conversations(
            conn,
            org_id=actor.org_id,
            visitor_id=visitor_id,
            owner_id=owner_id,
            status=statuses,
            limit=limit,
        )
        owners = await chat.owners_of(rt, conn, actor.org_id, found)
    items = [events.conversation_json(c, owners.get(c.owner_id or "")) for c in found]
    return out.ConversationList.model_validate({"items": items})


@router.get("/conversations/{conversation_id}", tags=["conversations"], responses=errors(404))
async def get_conversation(
    conversation_id: str, actor: ActorDep, rt: RuntimeDep
) -> out.Conversation:
    async with rt.db.read() as conn:
        conv = await chat_store.get_conversation(
            conn, org_id=actor.org_id, conversation_id=conversation_id
        )
        if conv is None:
            raise ServiceError("not_found", "No such conversation.")
        owners = await chat.owners_of(rt, conn, actor.org_id, [conv])
    return out.Conversation.model_validate(
        events.conversation_json(conv, owners.get(conv.owner_id or ""))
    )


@router.get(
    "/conversations/{conversation_id}/messages",
    tags=["conversations"],
    responses=errors(404, 422),
    response_model_exclude_unset=True,
)
async def get_messages(
    conversation_id: str,
    actor: ActorDep,
    rt: RuntimeDep,
    after_seq: Annotated[int, Query(ge=0, le=SEQ_MAX)] = 0,
    limit: ListLimit = 100,
) -> out.MessagePage:
    """A page of the conversation's messages after `after_seq`, oldest first."""
    items, next_after = await chat.transcript(
        rt, actor=actor, conversation_id=conversation_id, after_seq=after_seq, limit=limit
    )
    return out.MessagePage.model_validate({"items": items, "next_after_seq": next_after})


@router.post("/render", tags=["conversations"], responses=WRITE)
async def render(body: RenderIn, _actor: ActorDep) -> out.Rendered:
    """The composer's formatting preview, through the one renderer every message uses."""
    return out.Rendered(html=render_markdown(body.body))
