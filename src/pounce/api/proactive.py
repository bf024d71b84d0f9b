"""REST for auto pounce: org settings, rules and greeting templates (admins write, reps
read), the rep's own *Enable auto pounce*, and the auto pounce report."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from pounce.api.deps import ActorDep, AdminDep, RuntimeDep
from pounce.services import proactive

router = APIRouter(prefix="/api/v1")

Name = Annotated[str, Field(min_length=1, max_length=200)]
Pattern = Annotated[str, Field(max_length=500)]
Text = Annotated[str, Field(min_length=1, max_length=2000)]
Seconds = Annotated[float, Field(ge=0, le=86_400)]
Pages = Annotated[int, Field(ge=0, le=1000)]
Position = Annotated[int, Field(ge=0, le=10_000)]
Attributes = Annotated[dict[str, Annotated[str, Field(max_length=200)]], Field(max_length=20)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def changes(self) -> dict[str, Any]:
        values = self.model_dump(exclude_unset=True, exclude_none=True)
        if not values:
            raise HTTPException(422, "Nothing to change.")
        return values


class SettingsIn(Body):
    """Any subset of the settings; the rest keep their values."""

    auto_pounce_enabled: bool | None = None
    nudge_delay_seconds: Annotated[float, Field(gt=0, le=86_400)] | None = None
    quiet_period_hours: Annotated[float, Field(ge=0, le=8_760)] | None = None
    max_open_chats_per_rep: Annotated[int, Field(ge=0, le=100)] | None = None
    rep_timeout_seconds: Annotated[float, Field(gt=0, le=3_600)] | None = None
    nudge_template: Text | None = None


class RuleIn(Body):
    name: Name
    url_pattern: Pattern = ""
    min_seconds_on_page: Seconds = 0.0
    min_pages_viewed: Pages = 0
    attributes: Attributes = {}
    enabled: bool = True
    position: Position | None = None


class RulePatch(Body):
    name: Name | None = None
    url_pattern: Pattern | None = None
    min_seconds_on_page: Seconds | None = None
    min_pages_viewed: Pages | None = None
    attributes: Attributes | None = None
    enabled: bool | None = None
    position: Position | None = None


class TemplateIn(Body):
    name: Name
    url_pattern: Pattern = ""
    body: Text
    position: Position | None = None


class TemplatePatch(Body):
    name: Name | None = None
    url_pattern: Pattern | None = None
    body: Text | None = None
    position: Position | None = None


class SwitchIn(Body):
    enabled: bool


@router.get("/proactive/settings", tags=["auto pounce"])
async def get_settings(actor: ActorDep, rt: RuntimeDep) -> Any:
    return proactive.settings_json(await proactive.get_settings(rt, actor=actor))


@router.put("/proactive/settings", tags=["auto pounce"])
async def put_settings(body: SettingsIn, actor: AdminDep, rt: RuntimeDep) -> Any:
    values = body.model_dump(exclude_unset=True, exclude_none=True)
    return proactive.settings_json(await proactive.put_settings(rt, actor=actor, values=values))


@router.get("/proactive/rules", tags=["auto pounce"])
async def list_rules(actor: ActorDep, rt: RuntimeDep) -> Any:
    return {"items": await proactive.list_items(rt, "rule", actor=actor)}


@router.post("/proactive/rules", tags=["auto pounce"], status_code=201)
async def create_rule(body: RuleIn, actor: AdminDep, rt: RuntimeDep) -> Any:
    return await proactive.create_item(rt, "rule", actor=actor, values=body.model_dump())


@router.patch("/proactive/rules/{rule_id}", tags=["auto pounce"])
async def patch_rule(rule_id: str, body: RulePatch, actor: AdminDep, rt: RuntimeDep) -> Any:
    return await proactive.update_item(
        rt, "rule", actor=actor, item_id=rule_id, values=body.changes()
    )


@router.delete("/proactive/rules/{rule_id}", tags=["auto pounce"], status_code=204)
async def delete_rule(rule_id: str, actor: AdminDep, rt: RuntimeDep) -> None:
    await proactive.delete_item(rt, "rule", actor=actor, item_id=rule_id)


@router.get("/proactive/templates", tags=["auto pounce"])
async def list_templates(actor: ActorDep, rt: RuntimeDep) -> Any:
    return {"items": await proactive.list_items(rt, "template", actor=actor)}


@router.post("/proactive/templates", tags=["auto pounce"], status_code=201)
async def create_template(body: TemplateIn, actor: AdminDep, rt: RuntimeDep) -> Any:
    return await proactive.create_item(rt, "template", actor=actor, values=body.model_dump())


@router.patch("/proactive/templates/{template_id}", tags=["auto pounce"])
async def patch_template(
    template_id: str, body: TemplatePatch, actor: AdminDep, rt: RuntimeDep
) -> Any:
    return await proactive.update_item(
        rt, "template", actor=actor, item_id=template_id, values=body.changes()
    )


@router.delete("/proactive/templates/{template_id}", tags=["auto pounce"], status_code=204)
async def delete_template(template_id: str, actor: AdminDep, rt: RuntimeDep) -> None:
    await proactive.delete_item(rt, "template", actor=actor, item_id=template_id)


@router.get("/me/auto-pounce", tags=["session"])
async def get_my_switch(actor: ActorDep, rt: RuntimeDep) -> Any:
    return await proactive.my_switch(rt, actor=actor)


@router.put("/me/auto-pounce", tags=["session"])
async def put_my_switch(body: SwitchIn, actor: ActorDep, rt: RuntimeDep) -> Any:
    return await proactive.set_my_switch(rt, actor=actor, enabled=body.enabled)


@router.get("/reports/auto-pounce", tags=["reports"])
async def auto_pounce_report(
    actor: ActorDep,
    rt: RuntimeDep,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
    rep_id: Annotated[str | None, Query(max_length=40)] = None,
) -> Any:
    """Per rep, for auto pounces greeted from `from` to `to` (inclusive, UTC; default: the
    last 30 days): pounces sent, visitor replies, median seconds from a visitor's reply to
    the rep's, and the outcomes."""
    end = to or datetime.now(UTC).date()
    start = from_ or end - timedelta(days=29)
    return await proactive.report(rt, actor=actor, start=start, end=end, rep_id=rep_id or None)
