"""REST for getting started: the console's start probe, the first-run set-up, and
set-password links."""

from __future__ import annotations

from typing import Annotated

from fastapi import Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from pounce.api import responses as out
from pounce.api.deps import RuntimeDep, api_router
from pounce.api.errors import errors
from pounce.api.schemas import ORIGIN, Email, Name, Password
from pounce.services import auth, orgs
from pounce.services.errors import ServiceError
from pounce.services.runtime import Runtime
from pounce.store.records import User

router = api_router()
Token = Annotated[str, Field(min_length=1, max_length=1000)]


WEBSITE = ORIGIN.replace(r"^(\*|", r"^(\s*|")


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SetupIn(Body):
    org_name: Name
    name: Name
    email: Email
    password: Password
    # An origin (scheme://host[:port], as the sites' allowed origins), or blank for none.
    website: Annotated[str, Field(max_length=300, pattern=WEBSITE)] | None = None

    @field_validator("website")
    @classmethod
    def _origin(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            return orgs.check_origin(value)
        except ServiceError as exc:
            raise ValueError(exc.message) from None


class LinkIn(Body):
    token: Token


class SetPasswordIn(Body):
    token: Token
    password: Password


class StartOut(out.Out):
    """What the console needs before it draws anything."""

    authenticated: bool
    setup_required: bool = Field(description="No org exists yet: offer the first-run screen.")
    user: out.User | None = None
    csrf_token: str | None = None


class LinkOut(out.Out):
    """Whose set-password link this is."""

    email: str
    name: str
    org_name: str


def _user(user: User) -> out.User:
    return out.User(
        id=user.id,
        email=user.email,
        name=user.name,
        first_name=user.first_name,
        role=user.role,
        availability=user.availability,
        avatar_url=user.avatar_url,
    )


def _signed_in(rt: Runtime, response: Response, info: auth.SessionInfo) -> out.Session:
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
    return out.Session(user=_user(info.user), csrf_token=info.csrf_token)


@router.get("/console/start", tags=["session"])
async def console_start(request: Request, rt: RuntimeDep) -> StartOut:
    """Signed in or not (always 200, so a signed-out console logs no failed request),
    and whether the install still needs its first org."""
    info = await auth.session_for(rt, request.cookies.get(auth.SESSION_COOKIE))
    if info is not None:
        return StartOut(
            authenticated=True,
            setup_required=False,
            user=_user(info.user),
            csrf_token=info.csrf_token,
        )
    return StartOut(authenticated=False, setup_required=await orgs.setup_required(rt))


@router.post("/setup", status_code=201, tags=["session"], responses=errors(400, 409, 422))
async def first_run(body: SetupIn, response: Response, rt: RuntimeDep) -> out.Session:
    """Create the install's first org and its admin, signed in; only while no org exists."""
    _, info = await orgs.first_run(
        rt,
        org_name=body.org_name,
        name=body.name,
        email=body.email,
        password=body.password,
        website=body.website,
    )
    return _signed_in(rt, response, info)


# 400: the link is forged, expired or used (`link_invalid`, `link_expired`).
LINK_ERRORS = errors(400, 422)


@router.post("/set-password/check", tags=["session"], responses=LINK_ERRORS)
async def check_link(body: LinkIn, rt: RuntimeDep) -> LinkOut:
    """Whose set-password link this is, while it still works."""
    user, org_name = await orgs.user_for_link(rt, body.token)
    return LinkOut(email=user.email, name=user.name, org_name=org_name)


@router.post("/set-password", tags=["session"], responses=LINK_ERRORS)
async def set_password(body: SetPasswordIn, response: Response, rt: RuntimeDep) -> out.Session:
    """Choose a password with a one-time link, and be signed in."""
    return _signed_in(
        rt, response, await orgs.set_password(rt, token=body.token, password=body.password)
    )
