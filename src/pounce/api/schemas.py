"""Request bodies of the REST API, validated strictly at the edge: a JSON type other than
the one documented (`"5"` for a number, `"yes"` for a boolean) is refused, as are unknown
fields. In a PATCH an omitted field keeps its value; `null` is accepted only where it
clears one (documented as nullable), never as "no change".

Each rule a value must meet is in its JSON Schema (a pattern, a length, a range), so what
the OpenAPI document allows is what the API accepts; the exceptions are rules about other
rows (an unknown team id), which answer 422 too."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import HTTPException
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

# Not blank: a character other than white space (as Python, JavaScript and the Rust regex
# engine pydantic uses all count it, so the three agree).
NONBLANK = r"[^\s\x1c-\x1f\x85\ufeff]"


def _whole(value: Any) -> Any:
    """JSON Schema counts 3.0 as an integer; so does the API (3.5 stays refused)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# After an int's bounds: `Annotated[int, Field(ge=0), WHOLE]` (bounds first, so the JSON
# Schema keeps its minimum and maximum).
WHOLE = BeforeValidator(_whole)


def _iso_day(value: Any) -> Any:
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("a day is YYYY-MM-DD")
    return value


# A day as the document says (`format: date`): YYYY-MM-DD, not a timestamp like `0`.
Day = Annotated[date, BeforeValidator(_iso_day)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Email = Annotated[str, Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Password = Annotated[str, Field(min_length=8, max_length=200)]
AvatarUrl = Annotated[str, Field(max_length=2000, pattern=r"^https?://[^\s\x00-\x1f\x7f]+$")]
RefId = Annotated[str, Field(min_length=1, max_length=40)]
RefIds = Annotated[list[RefId], Field(max_length=500)]
Attributes = Annotated[dict[str, Annotated[str, Field(max_length=200)]], Field(max_length=20)]


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def keep() -> Any:
    """A PATCH field that may be omitted (keeps the stored value) but is never `null`."""
    return Field(default=None, json_schema_extra=_no_default)


def _only_true_false(value: Any) -> Any:
    if isinstance(value, str) and value not in {"true", "false"}:
        raise ValueError("must be true or false")
    return value


# A boolean query parameter: `true` or `false`, not `yes`, `on` or `1`.
QueryBool = Annotated[bool, BeforeValidator(_only_true_false)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Patch(Body):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"minProperties": 1})

    def changes(self) -> dict[str, Any]:
        """The fields sent; 422 when there are none."""
        values = self.model_dump(exclude_unset=True)
        if not values:
            raise HTTPException(422, "Nothing to change: send at least one field.")
        return values


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
    avatar_url: AvatarUrl | None = None


class UserPatch(Patch):
    """`avatar_url: null` removes the picture."""

    name: Name = keep()
    password: Password = keep()
    role: Literal["admin", "rep"] = keep()
    avatar_url: AvatarUrl | None = None


class TeamIn(Body):
    name: Name
    member_ids: RefIds = []


# An origin as browsers send it (scheme://host[:port], a trailing / tolerated), or `*`.
ORIGIN = r"^(\*|https?://([A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?/?)$"
Origin = Annotated[
    str,
    Field(max_length=300, pattern=ORIGIN, examples=["https://www.example.com"]),
]
Origins = Annotated[list[Origin], Field(max_length=50)]


def _check_origins(values: list[str]) -> list[str]:
    """The origins as the Origin header carries them: lower case, no trailing /."""
    return [value.rstrip("/").lower() for value in values]


class SiteIn(Body):
    name: Name
    allowed_origins: Origins = []

    _origins = field_validator("allowed_origins")(_check_origins)


class SitePatch(Patch):
    name: Name = keep()
    allowed_origins: Origins = keep()

    _origins = field_validator("allowed_origins")(_check_origins)


Pattern = Annotated[str, Field(max_length=500)]
Company = Annotated[str, Field(max_length=200)]
Country = Annotated[str, Field(min_length=2, max_length=2)]
Position = Annotated[int, Field(ge=0, le=10_000), WHOLE]


class RoutingRuleIn(Body):
    """`position` omitted or null: after the last rule."""

    name: Name
    url_pattern: Pattern = ""
    attributes: Attributes = {}
    company: Company | None = None
    country: Country | None = None
    team_id: RefId | None = None
    rep_ids: RefIds = []
    mode: Literal["round_robin", "everyone"] = "round_robin"
    position: Position | None = None
    enabled: bool = True


class RoutingRulePatch(Patch):
    """`company`, `country` or `team_id` null removes that condition."""

    name: Name = keep()
    url_pattern: Pattern = keep()
    attributes: Attributes = keep()
    company: Company | None = None
    country: Country | None = None
    team_id: RefId | None = None
    rep_ids: RefIds = keep()
    mode: Literal["round_robin", "everyone"] = keep()
    position: Position = keep()
    enabled: bool = keep()


class RenderIn(Body):
    body: Annotated[str, Field(max_length=8000)]
