"""Who may claim, write in, close and reopen a conversation."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pounce.domain.model import Actor, ConversationStatus


class Refusal(StrEnum):
    NOT_FOUND = "not_found"
    ALREADY_TAKEN = "already_taken"
    NOT_OWNER = "not_owner"
    CLOSED = "closed"
    NOT_CLOSED = "not_closed"
    FORBIDDEN = "forbidden"


@dataclass(frozen=True, slots=True)
class ConversationState:
    """The facts ownership rules look at."""

    org_id: str
    status: ConversationStatus
    owner_id: str | None
    routed_to: tuple[str, ...] = ()


def can_see(actor: Actor, conv: ConversationState) -> bool:
    """Every rep of the org may read its conversations (history, Live View)."""
    return actor.org_id == conv.org_id


def claim_refusal(actor: Actor, conv: ConversationState) -> Refusal | None:
    """Why `actor` may not start this conversation, or None if they may try the claim.

    The claim itself is decided by the store (a conditional update), so two reps who
    both pass this check still get exactly one owner.
    """
    if actor.org_id != conv.org_id:
        return Refusal.NOT_FOUND
    if conv.status is ConversationStatus.CLOSED:
        return Refusal.CLOSED
    if conv.owner_id is not None:
        return None if conv.owner_id == actor.user_id else Refusal.ALREADY_TAKEN
    return None


def send_refusal(actor: Actor, conv: ConversationState) -> Refusal | None:
    """Only the owner writes in an owned conversation; nobody writes in a closed one."""
    if actor.org_id != conv.org_id:
        return Refusal.NOT_FOUND
    if conv.status is ConversationStatus.CLOSED:
        return Refusal.CLOSED
    if conv.owner_id != actor.user_id:
        return Refusal.NOT_OWNER
    return None


def close_refusal(actor: Actor, conv: ConversationState) -> Refusal | None:
    """The owner or an admin may close a conversation."""
    if actor.org_id != conv.org_id:
        return Refusal.NOT_FOUND
    if conv.status is ConversationStatus.CLOSED:
        return Refusal.CLOSED
    if conv.owner_id != actor.user_id and not actor.is_admin:
        return Refusal.NOT_OWNER
    return None


def reopen_refusal(actor: Actor, conv: ConversationState) -> Refusal | None:
    """The owner or an admin may reopen a closed conversation (the undo of a close)."""
    if actor.org_id != conv.org_id:
        return Refusal.NOT_FOUND
    if conv.status is not ConversationStatus.CLOSED:
        return Refusal.NOT_CLOSED
    if conv.owner_id != actor.user_id and not actor.is_admin:
        return Refusal.NOT_OWNER
    return None


def block_refusal(actor: Actor, conv: ConversationState) -> Refusal | None:
    """The owner, a rep it was routed to before anyone took it, or an admin may block
    the conversation's visitor, open or closed."""
    if actor.org_id != conv.org_id:
        return Refusal.NOT_FOUND
    if actor.is_admin or conv.owner_id == actor.user_id:
        return None
    if conv.owner_id is None and actor.user_id in conv.routed_to:
        return None
    return Refusal.NOT_OWNER
