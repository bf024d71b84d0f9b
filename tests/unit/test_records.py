"""The per-message records: frozen at run time, hashable, compared by type and value."""

from __future__ import annotations

import gc

import msgspec
import pytest

from pounce.domain.model import AuthorKind, ConversationStatus, Source
from pounce.services.chat import Sent
from pounce.store.appender import Appended, Draft
from pounce.store.records import Conversation, HotRecord, Message, Visitor, now


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


def _message(seq: int = 4, meta: dict[str, object] | None = None) -> Message:
    return Message(
        "c_1", "o_1", seq, AuthorKind.VISITOR, "v_1", "k1", "hi", "<p>hi</p>", meta or {}, now()
    )


def _records() -> list[HotRecord]:
    conv, message = _conversation(), _message(meta={"auto_pounce": {"rule": "r"}})
    return [
        conv,
        message,
        Draft("o_1", "c_1", AuthorKind.VISITOR, "v_1", "k1", "hi", "<p>hi</p>", {"a": [1]}),
        Appended(message, conv, created=True),
        Sent(message, conv, created=False),
    ]


def test_every_record_hashes_even_with_a_meta_dict() -> None:
    for record in _records():
        copy = msgspec.structs.replace(record)
        assert copy is not record and copy == record and hash(copy) == hash(record)
        assert len({record, copy}) == 1
    message = _message(meta={"away": True})
    assert hash(message) == hash(msgspec.structs.replace(message, meta={}))  # its identity
    assert message != msgspec.structs.replace(message, meta={})  # equality is by value
    assert _message(seq=5) != _message(seq=4) and {_message(seq=5), _message(seq=4)}


def test_assigning_a_field_raises_at_run_time() -> None:
    for record in _records():
        name = record.__struct_fields__[0]
        with pytest.raises(AttributeError):
            setattr(record, name, "changed")
        with pytest.raises(TypeError):  # nor behind the class's back
            object.__setattr__(record, name, "changed")
        with pytest.raises(AttributeError):
            delattr(record, name)
        assert not hasattr(record, "__dict__")


def test_replace_copies_and_the_original_stays() -> None:
    conv = _conversation()
    later = msgspec.structs.replace(conv, last_seq=4)
    assert later != conv and conv.last_seq == 3 and later.last_seq == 4


def test_equality_needs_the_same_type() -> None:
    message, conv = _message(), _conversation()
    assert Appended(message, conv, True) != Sent(message, conv, True)
    assert Sent(message, conv, True) == Sent(message, conv, created=True)


def test_a_drafts_default_meta_is_its_own() -> None:
    one = Draft("o", "c", AuthorKind.VISITOR, "v", None, "", "")
    other = Draft("o", "c", AuthorKind.VISITOR, "v", None, "", "")
    assert one.meta == {} and one.meta is not other.meta


def test_they_are_not_tracked_by_the_collector() -> None:
    # gc=False (see HotRecord): nothing they hold can point back at them
    assert not any(gc.is_tracked(record) for record in _records())


def test_a_visitor_with_attributes_hashes_by_identity() -> None:
    t = now()
    visitor = Visitor("v_1", "o_1", "s_1", None, None, None, None, {"plan": "pro"}, False, t, t)
    assert hash(visitor) == hash(
        Visitor("v_1", "o_1", "s_1", "Ann", None, None, None, {}, False, t, t)
    )
    assert (
        len(
            {
                visitor,
                Visitor("v_1", "o_1", "s_1", None, None, None, None, {"plan": "pro"}, False, t, t),
            }
        )
        == 1
    )
