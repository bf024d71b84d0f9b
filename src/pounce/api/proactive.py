"""REST for auto pounce: org settings, rules and greeting templates (admins write, reps
read), the rep's own *Enable auto pounce*, and the auto pounce report."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import Query
from pydantic import Field

from pounce.api import responses as out
from pounce.api.deps import ActorDep, AdminDep, RuntimeDep, api_router
from pounce.api.errors import errors
from pounce.api.schemas import (
    WHOLE,
    Attributes,
    Body,
    Day,
    Name,
    Patch,
    Pattern,
    Position,
    keep,
)
from pounce.services import proactive

router = api_router()
WRITE = errors(400, 403, 422)

Text = Annotated[str, Field(min_length=1, max_length=2000)]
Seconds = Annotated[float, Field(ge=0, le=86_400)]
Pages = Annotated[int, Field(ge=0, le=1000), WHOLE]


class SettingsIn(Patch):
    """Any subset of the settings; the rest keep their values."""

    auto_pounce_enabled: bool = keep()
    nudge_delay_seconds: Annotated[float, Field(gt=0, le=86_400)] = keep()
    quiet_period_hours: Annotated[float, Field(ge=0, le=8_760)] = keep()
    max_open_chats_per_rep: Annotated[int, Field(ge=0, le=100), WHOLE] = keep()
    rep_timeout_seconds: Annotated[float, Field(gt=0, le=3_600)] = keep()
    nudge_template: Text = keep()


class PounceRuleIn(Body):
    """`position` omitted or null: after the last rule."""

    name: Name
    url_pattern: Pattern = ""
    min_seconds_on_page: Seconds = 0.0
    min_pages_viewed: Pages = 0
    attributes: Attributes = {}
    enabled: bool = True
    position: Position | None = None


class PounceRulePatch(Patch):
    name: Name = keep()
    url_pattern: Pattern = keep()
    min_seconds_on_page: Seconds = keep()
    min_pages_viewed: Pages = keep()
    attributes: Attributes = keep()
    enabled: bool = keep()
    position: Position = keep()


class TemplateIn(Body):
    """`position` omitted or null: after the last template."""

    name: Name
    url_pattern: Pattern = ""
    body: Text
    position: Position | None = None


class TemplatePatch(Patch):
    name: Name = keep()
    url_pattern: Pattern = keep()
    body: Text = keep()
    position: Position = keep()


class SwitchIn(Body):
    enabled: bool


@router.get("/proactive/settings", tags=["auto pounce"])
async def get_settings(actor: ActorDep, rt: RuntimeDep) -> out.ProactiveSettings:
    settings = await proactive.get_settings(rt, actor=actor)
    return out.ProactiveSettings.model_validate(proactive.settings_json(settings))


@router.put("/proactive/settings", tags=["auto pounce"], responses=WRITE)
async def put_settings(body: SettingsIn, actor: AdminDep, rt: RuntimeDep) -> out.ProactiveSettings:
    saved = await proactive.put_settings(rt, actor=actor, values=body.changes())
    return out.ProactiveSettings.model_validate(proactive.settings_json(saved))


@router.get("/proactive/rules", tags=["auto pounce"])
async def list_pounce_rules(actor: ActorDep, rt: RuntimeDep) -> out.PounceRuleList:
    items = await proactive.list_items(rt, "rule", actor=actor)
    return out.PounceRuleList.model_validate({"items": items})


@router.post("/proactive/rules", tags=["auto pounce"], status_code=201, responses=WRITE)
async def create_pounce_rule(body: PounceRuleIn, actor: AdminDep, rt: RuntimeDep) -> out.PounceRule:
    rule = await proactive.create_item(rt, "rule", actor=actor, values=body.model_dump())
    return out.PounceRule.model_validate(rule)


@router.patch("/proactive/rules/{rule_id}", tags=["auto pounce"], responses=WRITE | errors(404))
async def patch_pounce_rule(
    rule_id: str, body: PounceRulePatch, actor: AdminDep, rt: RuntimeDep
) -> out.PounceRule:
    rule = await proactive.update_item(
        rt, "rule", actor=actor, item_id=rule_id, values=body.changes()
    )
    return out.PounceRule.model_validate(rule)


@router.delete(
    "/proactive/rules/{rule_id}", tags=["auto pounce"], status_code=204, responses=errors(403, 404)
)
async def delete_pounce_rule(rule_id: str, actor: AdminDep, rt: RuntimeDep) -> None:
    await proactive.delete_item(rt, "rule", actor=actor, item_id=rule_id)


@router.get("/proactive/templates", tags=["auto pounce"])
async def list_templates(actor: ActorDep, rt: RuntimeDep) -> out.PounceTemplateList:
    items = await proactive.list_items(rt, "template", actor=actor)
    return out.PounceTemplateList.model_validate({"items": items})


@router.post("/proactive/templates", tags=["auto pounce"], status_code=201, responses=WRITE)
async def create_template(body: TemplateIn, actor: AdminDep, rt: RuntimeDep) -> out.PounceTemplate:
    item = await proactive.create_item(rt, "template", actor=actor, values=body.model_dump())
    return out.PounceTemplate.model_validate(item)


@router.patch(
    "/proactive/templates/{template_id}", tags=["auto pounce"], responses=WRITE | errors(404)
)
async def patch_template(
    template_id: str, body: TemplatePatch, actor: AdminDep, rt: RuntimeDep
) -> out.PounceTemplate:
    item = await proactive.update_item(
        rt, "template", actor=actor, item_id=template_id, values=body.changes()
    )
    return out.PounceTemplate.model_validate(item)


@router.delete(
    "/proactive/templates/{template_id}",
    tags=["auto pounce"],
    status_code=204,
    responses=errors(403, 404),
)
async def delete_template(template_id: str, actor: AdminDep, rt: RuntimeDep) -> None:
    await proactive.delete_item(rt, "template", actor=actor, item_id=template_id)


@router.get("/me/auto-pounce", tags=["session"])
async def get_my_switch(actor: ActorDep, rt: RuntimeDep) -> out.MySwitch:
    return out.MySwitch.model_validate(await proactive.my_switch(rt, actor=actor))


@router.put("/me/auto-pounce", tags=["session"], responses=WRITE)
async def put_my_switch(body: SwitchIn, actor: ActorDep, rt: RuntimeDep) -> out.MySwitch:
    switch = await proactive.set_my_switch(rt, actor=actor, enabled=body.enabled)
    return out.MySwitch.model_validate(switch)


def _days_before(day: date, days: int) -> date:
    return day - timedelta(days=days) if day > date.min + timedelta(days=days) else date.min


@router.get("/reports/auto-pounce", tags=["reports"], responses=errors(422))
async def auto_pounce_report(
    actor: ActorDep,
    rt: RuntimeDep,
    from_: Annotated[Day | None, Query(alias="from")] = None,
    to: Day | None = None,
    rep_id: Annotated[str | None, Query(max_length=40)] = None,
) -> out.AutoPounceReport:
    """Per rep, for auto pounces greeted from `from` to `to` (inclusive, UTC; default: the
    last 30 days): pounces sent, visitor replies, median seconds from a visitor's reply to
    the rep's, and the outcomes."""
    today = datetime.fromtimestamp(rt.clock(), UTC).date()  # the runtime's clock
    end = min(to or today, date.max - timedelta(days=1))
    start = from_ or _days_before(end, 29)
    report = await proactive.report(rt, actor=actor, start=start, end=end, rep_id=rep_id or None)
    return out.AutoPounceReport.model_validate(report)
