"""REST for email and the outbox: the org's email settings, resending a transcript,
and the deliveries that failed (admins only)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path as Path_
from fastapi import Query

from pounce.api import responses as out
from pounce.api.deps import AdminDep, RuntimeDep, api_router
from pounce.api.errors import errors
from pounce.api.schemas import Patch, keep
from pounce.services import outbox, transcripts
from pounce.store import outbox as outbox_store

router = api_router()
WRITE = errors(400, 403, 422)


class EmailSettingsIn(Patch):
    transcript_email: bool = keep()


async def _settings(rt: RuntimeDep, org_id: str) -> out.EmailSettings:
    return out.EmailSettings(
        smtp_configured=transcripts.email_enabled(rt),
        transcript_email=await transcripts.org_sends_transcripts(rt, org_id),
    )


@router.get("/email-settings", tags=["email"], responses=errors(403))
async def get_email_settings(actor: AdminDep, rt: RuntimeDep) -> out.EmailSettings:
    return await _settings(rt, actor.org_id)


@router.put("/email-settings", tags=["email"], responses=WRITE)
async def put_email_settings(
    body: EmailSettingsIn, actor: AdminDep, rt: RuntimeDep
) -> out.EmailSettings:
    changes = body.changes()
    if "transcript_email" in changes:
        await transcripts.put_setting(
            rt, org_id=actor.org_id, enabled=bool(changes["transcript_email"])
        )
    return await _settings(rt, actor.org_id)


@router.post(
    "/conversations/{conversation_id}/transcript-email",
    tags=["email"],
    status_code=202,
    responses=errors(403, 404, 409, 429),
)
async def resend_transcript(
    conversation_id: str, actor: AdminDep, rt: RuntimeDep
) -> out.TranscriptQueued:
    """Email the transcript to the visitor again. 409 `email_off` without SMTP, 409
    `no_email` when the visitor left no address, 429 `outbox_full`."""
    to = await transcripts.resend(rt, org_id=actor.org_id, conversation_id=conversation_id)
    return out.TranscriptQueued(to=to)


def _row(row: outbox_store.Row) -> out.OutboxRow:
    cid = row.payload.get("conversation_id")
    return out.OutboxRow(
        id=row.id,
        kind=row.kind,
        status=row.status,
        attempts=row.attempts,
        last_error=row.last_error,
        created_at=row.created_at,
        next_at=row.next_at,
        finished_at=row.finished_at,
        conversation_id=str(cid) if cid is not None else None,
    )


@router.get("/outbox", tags=["email"], responses=errors(403, 422))
async def list_outbox(
    actor: AdminDep,
    rt: RuntimeDep,
    status: Literal["pending", "done", "failed"] = "failed",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> out.OutboxList:
    """The org's deliveries with this status, newest first (`before_id` pages back)."""
    rows = await outbox.list_rows(
        rt, org_id=actor.org_id, status=status, limit=limit, before_id=before_id
    )
    return out.OutboxList(items=[_row(r) for r in rows])


@router.post("/outbox/{row_id}/retry", tags=["email"], responses=errors(403, 404, 409))
async def retry_outbox(
    row_id: Annotated[int, Path_(ge=1, le=2**62)], actor: AdminDep, rt: RuntimeDep
) -> out.OutboxRow:
    """Put a failed delivery back in line, its attempts counted afresh (409 unless failed)."""
    return _row(await outbox.retry(rt, org_id=actor.org_id, row_id=row_id))
