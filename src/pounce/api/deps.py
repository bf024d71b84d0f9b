"""Request dependencies: the runtime, the signed-in rep, CSRF and role checks."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from pounce.domain.model import Actor
from pounce.services import auth
from pounce.services.errors import ServiceError
from pounce.services.runtime import Runtime

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"


def get_runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def current_session(request: Request, rt: RuntimeDep) -> auth.SessionInfo:
    """The rep's session from the cookie; writes must also carry the CSRF header."""
    info = await auth.session_for(rt, request.cookies.get(auth.SESSION_COOKIE))
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
