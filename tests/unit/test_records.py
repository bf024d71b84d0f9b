"""The per-message records: frozen to the type checker, cheap to build at run time."""

from __future__ import annotations

import dataclasses

from pounce.domain.model import AuthorKind, ConversationStatus, Source
from pounce.services.chat import Sent
from pounce.store.appender import Appended, Draft
from pounce.store.records import Conversation, Message, now


def _conversation() -> Conversation:
    t = now()
    return Conversation(
        id="c_1",
        org_id="o_1",
        site_id="s_1",
        visitor_id="v_1",
        status=ConversationStatus.OPEN,
        owner_id=None,
        source=Source.INBOUND,
        outcome=None,
        routed_to=("u_1", "u_2"),
        last_seq=3,
        visitor_read_seq=0,
        rep_read_seq=0,
        created_at=t,
        updated_at=t,
        closed_at=None,
    )


def test_they_compare_and_hash_by_value_like_frozen_dataclasses() -> None:
    conv = _conversation()
    same = dataclasses.replace(conv)
    assert same is not conv and same == conv and hash(same) == hash(conv)
    assert {conv, same} == {conv}
    later = dataclasses.replace(conv, last_seq=4)
    assert later != conv and conv.last_seq == 3  # replace copies; the original stays
    draft = Draft("o_1", "c_1", AuthorKind.VISITOR, "v_1", "k1", "hi", "<p>hi</p>")
    assert draft == dataclasses.replace(draft) and draft.meta == {}
    assert draft.meta is not Draft("o", "c", AuthorKind.VISITOR, "v", None, "", "").meta
    message = Message(
        "c_1", "o_1", 4, AuthorKind.VISITOR, "v_1", "k1", "hi", "<p>hi</p>", {}, now()
    )
    sent = Sent(message, later, created=True)
    assert sent == Sent(message, later, True) and Appended(message, later, True).created


def test_they_have_slots_and_no_instance_dict() -> None:
    for record in (_conversation(), Draft("o", "c", AuthorKind.REP, "u", None, "", "")):
        assert not hasattr(record, "__dict__")
        assert dataclasses.is_dataclass(record)
