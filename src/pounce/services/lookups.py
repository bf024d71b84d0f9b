"""Lookups that every service answers the same way when nothing is found."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from pounce.services.errors import ServiceError
from pounce.store import chat
from pounce.store.records import Conversation


async def conversation_or_404(
    conn: AsyncConnection, *, org_id: str, conversation_id: str
) -> Conversation:
    """The org's conversation, or `not_found` (another org's is not found either)."""
    conv = await chat.get_conversation(conn, org_id=org_id, conversation_id=conversation_id)
    if conv is None:
        raise ServiceError("not_found", "No such conversation.")
    return conv
