"""Request dependencies: the runtime, the signed-in rep, CSRF and role checks; the REST
API's routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Security
from fastapi.routing import APIRoute
from fastapi.security import APIKeyCookie

from pounce.api.errors import errors
from pounce.domain.model import Actor
from pounce.services import auth
from pounce.services.errors import ServiceError
from pounce.services.runtime import Runtime

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"

session_cookie = APIKeyCookie(
    name=auth.SESSION_COOKIE,
    scheme_name="session",
    description="The session cookie `POST /api/v1/session` sets.",
    auto_error=False,
)


def get_runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def current_session(
    request: Request,
    rt: RuntimeDep,
    token: Annotated[str | None, Security(session_cookie)],
) -> auth.SessionInfo:
    """The rep's session from the cookie; writes must also carry the CSRF header."""
    info = await auth.session_for(rt, token)
    if info is None:
        raise ServiceError("not_authenticated", "Not signed in.")
    if request.method not in SAFE_METHODS and not auth.csrf_ok(
        info.csrf_token, request.headers.get(CSRF_HEADER)
    ):
        raise ServiceError("forbidden", f"Missing or wrong {CSRF_HEADER} header.")
    return info


SessionDep = Annotated[auth.SessionInfo, Depends(current_session)]


async def current_actor(session: SessionDep) -> Actor:
    return session.user.actor


ActorDep = Annotated[Actor, Depends(current_actor)]


async def admin_actor(actor: ActorDep) -> Actor:
    if not actor.is_admin:
        raise ServiceError("forbidden", "Only an admin can do this.")
    return actor


AdminDep = Annotated[Actor, Depends(admin_actor)]


def operation_id(route: APIRoute) -> str:
    """Operation ids are the handlers' names (unique across the API)."""
    return route.name


def api_router() -> APIRouter:
    """A router of the REST API: every route may answer 401 and 503 with a `Problem`."""
    return APIRouter(
        prefix="/api/v1",
        responses=errors(401, 503),
        generate_unique_id_function=operation_id,
    )
