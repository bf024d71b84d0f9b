"""The REST API under /api/v1: session, users, teams, sites, rules, visitors, conversations."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse

from pounce.api.deps import ActorDep, AdminDep, RuntimeDep, SessionDep
from pounce.api.schemas import (
    AvailabilityIn,
    LoginIn,
    RenderIn,
    RuleIn,
    RulePatch,
    SiteIn,
    SitePatch,
    TeamIn,
    UserIn,
    UserPatch,
)
from pounce.domain.model import Availability, ConversationStatus, Role
from pounce.services import admin, auth, chat, events, reps
from pounce.services.errors import ServiceError
from pounce.services.formatting import render_markdown
from pounce.store import chat as chat_store
from pounce.store.records import User

router = APIRouter(prefix="/api/v1")
ListLimit = Annotated[int, Query(ge=1, le=500)]


def _me(user: User, csrf: str) -> dict[str, Any]:
    return {"user": admin.user_json(user), "csrf_token": csrf}


def service_error_response(exc: ServiceError) -> JSONResponse:
    return JSONResponse(
        {"detail": exc.message, "code": exc.code, **exc.extra}, status_code=exc.http_status
    )


@router.post("/session", tags=["session"])
async def login(body: LoginIn, request: Request, response: Response, rt: RuntimeDep) -> Any:
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
async def get_session(session: SessionDep) -> Any:
    return _me(session.user, session.csrf_token)


@router.delete("/session", tags=["session"], status_code=204)
async def logout(request: Request, response: Response, rt: RuntimeDep, _s: SessionDep) -> None:
    token = request.cookies.get(auth.SESSION_COOKIE)
    if token:
        await auth.logout(rt, token)
    response.delete_cookie(auth.SESSION_COOKIE, path="/")


@router.get("/me", tags=["session"])
async def me(session: SessionDep) -> Any:
    return admin.user_json(session.user)


@router.get("/me/availability", tags=["session"])
async def get_availability(session: SessionDep) -> Any:
    return {"status": session.user.availability.value}


@router.put("/me/availability", tags=["session"])
async def put_availability(body: AvailabilityIn, actor: ActorDep, rt: RuntimeDep) -> Any:
    user = await reps.set_availability(rt, actor=actor, status=Availability(body.status))
    return {"status": user.availability.value}


@router.get("/users", tags=["users"])
async def list_users(actor: ActorDep, rt: RuntimeDep) -> Any:
    return {"items": [admin.user_json(u) for u in await admin.list_users(rt, actor=actor)]}


@router.post("/users", tags=["users"], status_code=201)
async def create_user(body: UserIn, actor: AdminDep, rt: RuntimeDep) -> Any:
    user = await admin.add_user(
        rt,
        org_id=actor.org_id,
        email=body.email,
        name=body.name,
        password=body.password,
        role=Role(body.role),
        avatar_url=body.avatar_url,
    )
    return admin.user_json(user)


@router.patch("/users/{user_id}", tags=["users"])
async def patch_user(user_id: str, body: UserPatch, actor: ActorDep, rt: RuntimeDep) -> Any:
    values = body.model_dump(exclude_unset=True)
    if not values:
        raise HTTPException(422, "Nothing to change.")
    return admin.user_json(await admin.update_user(rt, actor=actor, user_id=user_id, values=values))


@router.get("/teams", tags=["users"])
async def list_teams(actor: ActorDep, rt: RuntimeDep) -> Any:
    return {"items": await admin.list_teams(rt, actor=actor)}


@router.post("/teams", tags=["users"], status_code=201)
async def create_team(body: TeamIn, actor: AdminDep, rt: RuntimeDep) -> Any:
    return await admin.create_team(rt, actor=actor, name=body.name, member_ids=body.member_ids)


@router.get("/sites", tags=["sites"])
async def list_sites(actor: ActorDep, rt: RuntimeDep) -> Any:
    url = rt.settings.resolved_public_url()
    return {"items": [admin.site_json(s, url) for s in await admin.list_sites(rt, actor=actor)]}


@router.post("/sites", tags=["sites"], status_code=201)
async def create_site(body: SiteIn, actor: AdminDep, rt: RuntimeDep) -> Any:
    site = await admin.create_site(
        rt, actor=actor, name=body.name, allowed_origins=body.allowed_origins
    )
    return admin.site_json(site, rt.settings.resolved_public_url())


@router.get("/sites/{site_id}", tags=["sites"])
async def get_site(site_id: str, actor: ActorDep, rt: RuntimeDep) -> Any:
    site = await admin.get_site(rt, actor=actor, site_id=site_id)
    return admin.site_json(site, rt.settings.resolved_public_url())


@router.patch("/sites/{site_id}", tags=["sites"])
async def patch_site(site_id: str, body: SitePatch, actor: AdminDep, rt: RuntimeDep) -> Any:
    values = body.model_dump(exclude_unset=True, exclude_none=True)
    if not values:
        raise HTTPException(422, "Nothing to change.")
    site = await admin.update_site(rt, actor=actor, site_id=site_id, values=values)
    return admin.site_json(site, rt.settings.resolved_public_url())


@router.get("/routing-rules", tags=["routing"])
async def list_rules(actor: ActorDep, rt: RuntimeDep) -> Any:
    return {"items": await admin.list_rules(rt, actor=actor)}


@router.post("/routing-rules", tags=["routing"], status_code=201)
async def create_rule(body: RuleIn, actor: AdminDep, rt: RuntimeDep) -> Any:
    return await admin.create_rule(rt, actor=actor, values=body.model_dump())


@router.patch("/routing-rules/{rule_id}", tags=["routing"])
async def patch_rule(rule_id: str, body: RulePatch, actor: AdminDep, rt: RuntimeDep) -> Any:
    values = body.model_dump(exclude_unset=True)
    if not values:
        raise HTTPException(422, "Nothing to change.")
    return await admin.update_rule(rt, actor=actor, rule_id=rule_id, values=values)


@router.delete("/routing-rules/{rule_id}", tags=["routing"], status_code=204)
async def delete_rule(rule_id: str, actor: AdminDep, rt: RuntimeDep) -> None:
    await admin.delete_rule(rt, actor=actor, rule_id=rule_id)


@router.get("/visitors", tags=["visitors"])
async def list_visitors(
    actor: ActorDep, rt: RuntimeDep, limit: ListLimit = 100, online: bool = False
) -> Any:
    online_now = await rt.presence.visitors_online(actor.org_id)
    async with rt.db.read() as conn:
        if online:
            wanted = list(online_now)[:limit]
            known = await chat_store.get_visitors(conn, org_id=actor.org_id, visitor_ids=wanted)
            found = [known[vid] for vid in wanted if vid in known]
        else:
            found = await chat_store.list_visitors(conn, org_id=actor.org_id, limit=limit)
    return {
        "items": [
            events.visitor_card_json(v, online_now.get(v.id), online=v.id in online_now)
            for v in found[:limit]
        ]
    }


@router.get("/visitors/{visitor_id}", tags=["visitors"])
async def get_visitor(visitor_id: str, actor: ActorDep, rt: RuntimeDep) -> Any:
    async with rt.db.read() as conn:
        visitor = await chat_store.get_visitor(conn, org_id=actor.org_id, visitor_id=visitor_id)
        if visitor is None:
            raise HTTPException(404, "No such visitor.")
        views = await chat_store.page_views_since(conn, org_id=actor.org_id, visitor_id=visitor_id)
    info = await rt.presence.visitor_info(actor.org_id, visitor_id)
    card = events.visitor_card_json(visitor, info, online=info is not None)
    card["page_views"] = [{**v, "viewed_at": events.iso(v["viewed_at"])} for v in views[-200:]]
    return card


@router.get("/conversations", tags=["conversations"])
async def list_conversations(
    actor: ActorDep,
    rt: RuntimeDep,
    visitor_id: str | None = None,
    owner_id: str | None = None,
    status: Literal["open", "active", "closed"] | None = None,
    limit: ListLimit = 50,
) -> Any:
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
    return {"items": [events.conversation_json(c, owners.get(c.owner_id or "")) for c in found]}


@router.get("/conversations/{conversation_id}", tags=["conversations"])
async def get_conversation(conversation_id: str, actor: ActorDep, rt: RuntimeDep) -> Any:
    async with rt.db.read() as conn:
        conv = await chat_store.get_conversation(
            conn, org_id=actor.org_id, conversation_id=conversation_id
        )
        if conv is None:
            raise HTTPException(404, "No such conversation.")
        owners = await chat.owners_of(rt, conn, actor.org_id, [conv])
    return events.conversation_json(conv, owners.get(conv.owner_id or ""))


@router.get("/conversations/{conversation_id}/messages", tags=["conversations"])
async def get_messages(
    conversation_id: str,
    actor: ActorDep,
    rt: RuntimeDep,
    after_seq: Annotated[int, Query(ge=0)] = 0,
    limit: ListLimit = 100,
) -> Any:
    items, next_after = await chat.transcript(
        rt, actor=actor, conversation_id=conversation_id, after_seq=after_seq, limit=limit
    )
    return {"items": items, "next_after_seq": next_after}


@router.post("/render", tags=["conversations"])
async def render(body: RenderIn, _actor: ActorDep) -> Any:
    """The composer's formatting preview, through the one renderer every message uses."""
    return {"html": render_markdown(body.body)}
