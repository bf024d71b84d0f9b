"""Frames reach topics only through the audience functions, which refuse the wrong kind."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from pounce.realtime.frames import server as sf
from pounce.realtime.frames import shapes as s
from pounce.services import events


class Sink:
    def __init__(self) -> None:
        self.posts: list[tuple[list[str], bytes]] = []

    def post_many(self, topics: Iterable[str], data: bytes) -> None:
        self.posts.append((list(topics), data))


def _message() -> sf.MessageToVisitor:
    return sf.MessageToVisitor(
        conversation_id="c_1",
        seq=1,
        client_id=None,
        author=s.Author(kind="visitor", id="v_1", name=None, avatar_url=None),
        body="hi",
        html="<p>hi</p>",
        created_at="2026-12-06T12:00:00.000Z",
    )


def _presence() -> sf.Presence:
    return sf.Presence(
        rep=s.RepPresence(
            id="u_1",
            name="Ada",
            first_name="Ada",
            avatar_url=None,
            role="rep",
            availability="away",
            online=True,
            auto_pounce=False,
        )
    )


def test_a_console_frame_never_goes_to_a_visitor() -> None:
    sink = Sink()
    alert_only = _presence()
    with pytest.raises(TypeError):
        events.to_visitors(sink, ["v_1"], alert_only)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        events.to_org_visitors(sink, "o_1", alert_only)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        events.to_visitors_and_users(sink, ["v_1"], ["u_1"], alert_only)  # type: ignore[arg-type]
    assert sink.posts == []


def test_a_messenger_only_frame_never_goes_to_reps() -> None:
    sink = Sink()
    with pytest.raises(TypeError):
        events.to_users(sink, ["u_1"], sf.RepsAvailable(available=True))  # type: ignore[arg-type]
    assert sink.posts == []


def test_shared_bytes_only_for_frames_reps_read_as_they_are() -> None:
    sink = Sink()
    events.to_visitors_and_users(sink, ["v_1"], ["u_1", "u_2"], _message())
    ((topics, _),) = sink.posts
    assert topics == ["visitor:v_1", "user:u_1", "user:u_2"]
    # The console's `welcome` is another shape than the messenger's: no shared bytes.
    welcome = sf.MessengerWelcome(
        v=1,
        visitor_id="v_1",
        visitor_token="t",
        org=s.Org(name="Acme"),
        reps_available=True,
        conversation=None,
        strings_locale="en",
        connection_id="messenger-1",
    )
    with pytest.raises(TypeError):
        events.to_visitors_and_users(sink, ["v_1"], ["u_1"], welcome)


def test_a_frame_for_one_socket_must_be_of_its_endpoint() -> None:
    sink = Sink()
    events.to_connection(sink, "console-abc-1", sf.Pong(t=1))
    events.to_connection(sink, "messenger-abc-2", _message())
    with pytest.raises(TypeError):
        events.to_connection(sink, "messenger-abc-3", _presence())
    assert [topics for topics, _ in sink.posts] == [
        ["conn:console-abc-1"],
        ["conn:messenger-abc-2"],
    ]
