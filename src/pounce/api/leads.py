"""REST for leads: the Waiting list and answering a visitor by email (any rep)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from pounce.api import responses as out
from pounce.api.deps import ActorDep, RuntimeDep, api_router
from pounce.api.errors import errors
from pounce.api.schemas import Body
from pounce.services import leads, transcripts

router = api_router()


class EmailReplyIn(Body):
    client_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]
    body: Annotated[str, Field(min_length=1, max_length=8000)]


def anonymous_name(visitor_id: str) -> str:
    """What the console calls a visitor it knows nothing about: `Visitor #` and the last
    six characters of the id (web/src/console/identity.ts), the same in every list."""
    return f"Visitor #{visitor_id.removeprefix('v_')[-6:]}"


@router.get("/waiting", tags=["leads"], responses=errors(401))
async def list_waiting(actor: ActorDep, rt: RuntimeDep) -> out.WaitingList:
    """Inbound conversations nobody has started, oldest first (at most 200)."""
    items = await leads.waiting(rt, org_id=actor.org_id)
    return out.WaitingList(
        items=[
            out.WaitingItem(
                conversation_id=w.conversation.id,
                visitor_id=w.visitor.id,
                visitor_name=w.visitor.name or w.visitor.email or anonymous_name(w.visitor.id),
                email=w.visitor.email,
                question=w.question.body if w.question else None,
                created_at=w.conversation.created_at.timestamp(),
                online=w.online,
                routed_to=list(w.conversation.routed_to),
            )
            for w in items
        ],
        smtp_configured=transcripts.email_enabled(rt),
    )


@router.get("/email-status", tags=["leads"], responses=errors(401))
async def email_status(actor: ActorDep, rt: RuntimeDep) -> out.EmailStatus:
    """Whether this server can send email (POUNCE_SMTP_URL is set)."""
    return out.EmailStatus(smtp_configured=transcripts.email_enabled(rt))


@router.post(
    "/conversations/{conversation_id}/email-reply",
    tags=["leads"],
    status_code=202,
    responses=errors(400, 401, 403, 404, 409, 422, 429),
)
async def email_reply(
    conversation_id: str, body: EmailReplyIn, actor: ActorDep, rt: RuntimeDep
) -> out.EmailReplyQueued:
    """Answer the visitor by email: the reply is stored as your message in the
    conversation (starting it if nobody has) and queued to the email the visitor left.
    409 `email_off` without SMTP, 409 `no_email`, 409 `visitor_online` (the visitor is
    on the site now: answer in the chat), 409 `already_taken`, 429 `outbox_full`; the
    same `client_id` again queues nothing."""
    replied = await leads.answer_by_email(
        rt,
        actor=actor,
        conversation_id=conversation_id,
        client_id=body.client_id,
        body=body.body,
    )
    return out.EmailReplyQueued(
        to=replied.to,
        seq=replied.message.seq,
        created=replied.created,
    )
