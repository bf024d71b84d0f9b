"""REST for blocks and abuse (admins): blocked visitors, the report queue, IP blocks and
the org's abuse limits."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from pounce.api import responses as out
from pounce.api.deps import AdminDep, RuntimeDep, api_router
from pounce.api.errors import errors
from pounce.api.schemas import WHOLE, Body, Patch, keep
from pounce.services import blocks
from pounce.services.events import iso
from pounce.store.records import as_utc

router = api_router()
WRITE = errors(400, 403, 422)
Limit = Annotated[int, Field(ge=0, le=100_000), WHOLE]


class IpBlockIn(Body):
    """An address or CIDR range (`203.0.113.7`, `203.0.113.0/24`); from a report its
    address when `cidr` is left out; `expires_in_hours` omitted or null: until removed."""

    cidr: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    report_id: Annotated[str, Field(min_length=1, max_length=40)] | None = None
    expires_in_hours: Annotated[float, Field(gt=0, le=24 * 366)] | None = None


class AbuseSettingsIn(Patch):
    """Any subset; 0 means no limit."""

    messages_per_minute: Limit = keep()
    conversations_per_hour: Limit = keep()
    spam_block_enabled: bool = keep()
    spam_block_threshold: Annotated[int, Field(ge=1, le=1000), WHOLE] = keep()
    spam_block_hours: Annotated[int, Field(ge=1, le=24 * 366), WHOLE] = keep()


def _stamps(row: dict[str, Any]) -> dict[str, Any]:
    return {k: iso(as_utc(v)) if isinstance(v, datetime) else v for k, v in row.items()}


@router.get("/blocks/visitors", tags=["blocks"], responses=errors(403))
async def list_blocked_visitors(actor: AdminDep, rt: RuntimeDep) -> out.BlockedVisitorList:
    rows = await blocks.blocked_visitors(rt, actor=actor)
    return out.BlockedVisitorList(items=[out.BlockedVisitor(**_stamps(r)) for r in rows])


@router.delete(
    "/blocks/visitors/{visitor_id}", tags=["blocks"], status_code=204, responses=errors(403, 404)
)
async def unblock_visitor(visitor_id: str, actor: AdminDep, rt: RuntimeDep) -> None:
    await blocks.unblock_visitor(rt, actor=actor, visitor_id=visitor_id)


@router.get("/blocks/reports", tags=["blocks"], responses=errors(403))
async def list_reports(actor: AdminDep, rt: RuntimeDep) -> out.ReportList:
    rows = await blocks.reports(rt, actor=actor)
    return out.ReportList(
        items=[out.Report(**{k: v for k, v in _stamps(r).items() if k != "org_id"}) for r in rows]
    )


@router.get("/blocks/ips", tags=["blocks"], responses=errors(403))
async def list_ip_blocks(actor: AdminDep, rt: RuntimeDep) -> out.IpBlockList:
    rows = await blocks.list_ip_blocks(rt, actor=actor)
    return out.IpBlockList(items=[_ip(r) for r in rows])


def _ip(row: dict[str, Any]) -> out.IpBlock:
    return out.IpBlock(**{k: v for k, v in _stamps(row).items() if k != "org_id"})


@router.post("/blocks/ips", tags=["blocks"], status_code=201, responses=WRITE | errors(404))
async def add_ip_block(body: IpBlockIn, actor: AdminDep, rt: RuntimeDep) -> out.IpBlock:
    made = await blocks.add_ip_block(
        rt,
        actor=actor,
        cidr=body.cidr,
        report_id=body.report_id,
        expires_in_hours=body.expires_in_hours,
    )
    return _ip(made)


@router.delete(
    "/blocks/ips/{block_id}", tags=["blocks"], status_code=204, responses=errors(403, 404)
)
async def remove_ip_block(block_id: str, actor: AdminDep, rt: RuntimeDep) -> None:
    await blocks.remove_ip_block(rt, actor=actor, block_id=block_id)


@router.get("/blocks/settings", tags=["blocks"], responses=errors(403))
async def get_abuse_settings(actor: AdminDep, rt: RuntimeDep) -> out.AbuseSettings:
    return out.AbuseSettings(**asdict(await blocks.get_settings(rt, actor=actor)))


@router.put("/blocks/settings", tags=["blocks"], responses=WRITE)
async def put_abuse_settings(
    body: AbuseSettingsIn, actor: AdminDep, rt: RuntimeDep
) -> out.AbuseSettings:
    saved = await blocks.put_settings(rt, actor=actor, values=body.changes())
    return out.AbuseSettings(**asdict(saved))
