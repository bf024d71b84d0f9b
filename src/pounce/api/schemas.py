"""Request bodies of the REST API, validated at the edge."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Name = Annotated[str, Field(min_length=1, max_length=200)]
Email = Annotated[str, Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Password = Annotated[str, Field(min_length=8, max_length=200)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(Body):
    email: Annotated[str, Field(min_length=3, max_length=320)]
    password: Annotated[str, Field(min_length=1, max_length=200)]


class AvailabilityIn(Body):
    status: Literal["available", "away"]


class UserIn(Body):
    email: Email
    name: Name
    password: Password
    role: Literal["admin", "rep"] = "rep"
    avatar_url: Annotated[str, Field(max_length=2000, pattern=r"^https?://")] | None = None


class UserPatch(Body):
    name: Name | None = None
    password: Password | None = None
    role: Literal["admin", "rep"] | None = None
    avatar_url: Annotated[str, Field(max_length=2000, pattern=r"^https?://")] | None = None


class TeamIn(Body):
    name: Name
    member_ids: Annotated[list[Annotated[str, Field(max_length=40)]], Field(max_length=500)] = []


Origin = Annotated[str, Field(max_length=300)]


def _check_origins(values: list[str]) -> list[str]:
    cleaned = []
    for value in values:
        value = value.strip().rstrip("/")
        if value != "*" and not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an origin like https://www.example.com")
        if value.count("/") > 2:
            raise ValueError(f"{value!r} has a path; an origin is scheme://host[:port] only")
        cleaned.append(value.lower())
    return cleaned


class SiteIn(Body):
    name: Name
    allowed_origins: Annotated[list[Origin], Field(max_length=50)] = []

    _origins = field_validator("allowed_origins")(_check_origins)


class SitePatch(Body):
    name: Name | None = None
    allowed_origins: Annotated[list[Origin], Field(max_length=50)] | None = None

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _check_origins(value)


class RuleIn(Body):
    name: Name
    url_pattern: Annotated[str, Field(max_length=500)] = ""
    attributes: Annotated[
        dict[str, Annotated[str, Field(max_length=200)]], Field(max_length=20)
    ] = {}
    company: Annotated[str, Field(max_length=200)] | None = None
    country: Annotated[str, Field(min_length=2, max_length=2)] | None = None
    team_id: Annotated[str, Field(max_length=40)] | None = None
    rep_ids: Annotated[list[Annotated[str, Field(max_length=40)]], Field(max_length=500)] = []
    mode: Literal["round_robin", "everyone"] = "round_robin"
    position: Annotated[int, Field(ge=0, le=10_000)] | None = None
    enabled: bool = True


class RulePatch(Body):
    name: Name | None = None
    url_pattern: Annotated[str, Field(max_length=500)] | None = None
    attributes: (
        Annotated[dict[str, Annotated[str, Field(max_length=200)]], Field(max_length=20)] | None
    ) = None
    company: Annotated[str, Field(max_length=200)] | None = None
    country: Annotated[str, Field(min_length=2, max_length=2)] | None = None
    team_id: Annotated[str, Field(max_length=40)] | None = None
    rep_ids: Annotated[list[Annotated[str, Field(max_length=40)]], Field(max_length=500)] | None = (
        None
    )
    mode: Literal["round_robin", "everyone"] | None = None
    position: Annotated[int, Field(ge=0, le=10_000)] | None = None
    enabled: bool | None = None


class RenderIn(Body):
    body: Annotated[str, Field(max_length=8000)]
