"""Client frame parsing and validation, and what is derived from the frame classes."""

from __future__ import annotations

from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pounce.realtime.frames import (
    CONSOLE,
    MAX_BODY_CHARS,
    MAX_FRAME_BYTES,
    MESSENGER,
    PROTOCOL_VERSION,
    ClientFrame,
    Endpoint,
    FrameError,
    bundle,
    json_schemas,
    parse,
    parse_hello,
    stream,
)
from pounce.realtime.frames import client as cf
from pounce.realtime.frames import server as sf

ENDPOINTS: dict[str, Endpoint] = {"messenger": MESSENGER, "console": CONSOLE}
MESSENGER_TYPES = frozenset(MESSENGER.client)
CONSOLE_TYPES = frozenset(CONSOLE.client)


def raw(data: Any) -> bytes:
    return orjson.dumps(data)


def parse_m(data: dict[str, Any]) -> Any:
    return parse(raw(data), MESSENGER)


def parse_c(data: dict[str, Any]) -> Any:
    return parse(raw(data), CONSOLE)


def refusal(data: Any, endpoint: str = "messenger") -> FrameError:
    with pytest.raises(FrameError) as info:
        parse(data if isinstance(data, bytes) else raw(data), ENDPOINTS[endpoint])
    return info.value


def as_dict(frame: Any) -> dict[str, Any]:
    data = orjson.loads(msgspec.json.encode(frame))
    assert isinstance(data, dict)
    return data


# --------------------------------------------------------------------------- size and JSON


def _padded(size: int) -> bytes:
    """A JSON object exactly `size` bytes long (a ping with a long `t`)."""
    skeleton = b'{"type":"ping","t":""}'
    return skeleton[:-2] + b"x" * (size - len(skeleton)) + skeleton[-2:]


def test_parse_at_the_size_limit() -> None:
    data = _padded(MAX_FRAME_BYTES)
    assert len(data) == MAX_FRAME_BYTES
    frame = parse(data, MESSENGER)
    assert isinstance(frame, cf.Ping)
    assert frame.t == "x" * (MAX_FRAME_BYTES - 22)


def test_parse_too_large() -> None:
    err = refusal(_padded(MAX_FRAME_BYTES + 1))
    assert err.code == "too_large"
    assert str(MAX_FRAME_BYTES) in err.message
    assert err.frame_id is None


def test_size_counts_bytes_not_characters() -> None:
    text = '{"type":"ping","t":"' + "é" * (MAX_FRAME_BYTES // 2) + '"}'
    assert len(text) < MAX_FRAME_BYTES < len(text.encode())
    assert refusal(text.encode()).code == "too_large"


def test_too_large_checked_before_json() -> None:
    assert refusal(b"not json" * MAX_FRAME_BYTES).code == "too_large"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not json",
        b"{",
        b'{"type": "ping",}',
        b"{'type': 'ping'}",
        b"\xff\xfe",
        b"[]",
        b'[{"type": "ping"}]',
        b"1",
        b"-3.5",
        b"null",
        b"true",
        b'"ping"',
    ],
)
@pytest.mark.parametrize("endpoint", ["messenger", "console"])
def test_bad_json(data: bytes, endpoint: str) -> None:
    err = refusal(data, endpoint)
    assert err.code == "bad_json"
    assert err.message
    assert err.frame_id is None


def test_frame_error_is_a_value_error() -> None:
    err = FrameError("invalid", "body: too long", "m1")
    assert isinstance(err, ValueError)
    assert str(err) == "body: too long"
    assert (err.code, err.message, err.frame_id) == ("invalid", "body: too long", "m1")


# --------------------------------------------------------------------------- parse: valid frames


VALID_MESSENGER: list[dict[str, Any]] = [
    {"type": "page_view", "id": "p1", "url": "https://acme.test/", "title": "Home"},
    {"type": "page_view", "id": "p1", "url": "https://acme.test/", "referrer": None},
    {"type": "message", "id": "m-1.a:b_c", "body": "hi"},
    {"type": "typing", "typing": True},
    {"type": "read", "conversation_id": "c_1", "seq": 0},
    {"type": "resume", "after": {}},
    {"type": "resume", "after": {"c_1": 4, "c_2": 0}},
    {"type": "leave_email", "id": "e1", "email": "a@b.co"},
    {"type": "ping"},
    {"type": "ping", "t": 1.5},
    {"type": "ping", "t": "x"},
]
VALID_CONSOLE: list[dict[str, Any]] = [
    {"type": "availability", "id": "a1", "status": "available"},
    {"type": "availability", "id": "a1", "status": "away"},
    {"type": "start_conversation", "id": "s1", "conversation_id": "c_1"},
    {"type": "message", "id": "m1", "conversation_id": "c_1", "body": "hello"},
    {"type": "typing", "conversation_id": "c_1", "typing": False},
    {"type": "read", "conversation_id": "c_1", "seq": 2**31 - 1},
    {"type": "resume", "after": {"c_1": 1}},
    {"type": "close_conversation", "id": "x1", "conversation_id": "c_1"},
    {"type": "ping"},
]


def _same(frame: Any, data: dict[str, Any]) -> None:
    assert isinstance(frame, ClientFrame)
    assert type(frame).__struct_config__.tag == data["type"]
    for key, value in data.items():
        if key != "type":
            assert getattr(frame, key) == value


@pytest.mark.parametrize("data", VALID_MESSENGER, ids=lambda d: d["type"])
def test_parse_valid_messenger(data: dict[str, Any]) -> None:
    _same(parse_m(data), data)


@pytest.mark.parametrize("data", VALID_CONSOLE, ids=lambda d: d["type"])
def test_parse_valid_console(data: dict[str, Any]) -> None:
    _same(parse_c(data), data)


def test_parse_picks_endpoint_model() -> None:
    assert isinstance(parse_m({"type": "message", "id": "m", "body": "x"}), cf.VisitorSend)
    rep = parse_c({"type": "message", "id": "m", "conversation_id": "c", "body": "x"})
    assert isinstance(rep, cf.RepSend)
    assert isinstance(parse_m({"type": "page_view", "id": "p", "url": "/"}), cf.PageView)
    assert isinstance(
        parse_c({"type": "availability", "id": "a", "status": "away"}), cf.SetAvailability
    )
    assert isinstance(parse_m({"type": "resume", "after": {}}), cf.Resume)
    assert isinstance(parse_c({"type": "ping"}), cf.Ping)


@pytest.mark.parametrize(
    ("data", "endpoint", "field"),
    [
        ({"type": "typing", "typing": "yes"}, "messenger", "typing"),
        ({"type": "typing", "typing": 1}, "messenger", "typing"),
        ({"type": "read", "conversation_id": "c", "seq": "5"}, "messenger", "seq"),
        ({"type": "read", "conversation_id": "c", "seq": 5.0}, "console", "seq"),
        ({"type": "read", "conversation_id": "c", "seq": True}, "console", "seq"),
        ({"type": "resume", "after": {"c": "1"}}, "messenger", "after"),
        ({"type": "message", "id": 5, "body": "x"}, "messenger", "id"),
    ],
)
def test_types_are_strict(data: dict[str, Any], endpoint: str, field: str) -> None:
    """What the published schemas refuse is refused: no coercion of strings or bools."""
    err = refusal(data, endpoint)
    assert err.code == "invalid"
    assert err.message.split(":")[0] == field


# --------------------------------------------------------------------------- parse: refusals


@pytest.mark.parametrize(
    ("data", "endpoint", "shown"),
    [
        ({"type": "nope"}, "messenger", "'nope'"),
        ({"type": "nope"}, "console", "'nope'"),
        ({}, "messenger", "'NoneType'"),
        ({"type": None}, "console", "'NoneType'"),
        ({"type": 3}, "messenger", "'int'"),
        ({"type": ["message"]}, "messenger", "'list'"),
        ({"type": "MESSAGE"}, "messenger", "'MESSAGE'"),
        ({"type": "availability", "id": "a", "status": "away"}, "messenger", "'availability'"),
        ({"type": "leave_email", "id": "e", "email": "a@b.co"}, "console", "'leave_email'"),
        ({"type": "page_view", "id": "p", "url": "/"}, "console", "'page_view'"),
        ({"type": "close_conversation", "id": "x", "conversation_id": "c"}, "messenger", None),
    ],
)
def test_parse_unknown_type(data: dict[str, Any], endpoint: str, shown: str | None) -> None:
    err = refusal(data, endpoint)
    assert err.code == "unknown_type"
    if shown is not None:
        assert shown in err.message


@pytest.mark.parametrize("endpoint", ["messenger", "console"])
def test_parse_refuses_hello(endpoint: str) -> None:
    """hello is only valid as the first frame, through parse_hello."""
    err = refusal({"type": "hello", "v": PROTOCOL_VERSION, "id": "h1"}, endpoint)
    assert err.code == "unknown_type"
    assert err.frame_id == "h1"


@pytest.mark.parametrize(
    ("data", "endpoint", "field"),
    [
        ({"type": "message", "id": "m1"}, "messenger", "body"),
        ({"type": "message", "body": "hi"}, "messenger", "id"),
        ({"type": "message", "id": "m1", "body": 5}, "messenger", "body"),
        ({"type": "page_view", "id": "p1"}, "messenger", "url"),
        ({"type": "page_view", "id": "p1", "url": "/", "title": "t" * 501}, "messenger", "title"),
        ({"type": "page_view", "id": "p1", "url": "/" * 2001}, "messenger", "url"),
        ({"type": "read", "conversation_id": "c", "seq": -1}, "messenger", "seq"),
        ({"type": "read", "conversation_id": "c", "seq": 2**31}, "messenger", "seq"),
        ({"type": "read", "conversation_id": "c" * 41, "seq": 1}, "messenger", "conversation_id"),
        ({"type": "resume", "after": []}, "messenger", "after"),
        ({"type": "leave_email", "id": "e1", "email": "not-an-email"}, "messenger", "email"),
        ({"type": "leave_email", "id": "e1", "email": "a b@c.de"}, "messenger", "email"),
        ({"type": "ping", "t": [1]}, "messenger", "t"),
        ({"type": "message", "id": "m1", "body": "hi"}, "console", "conversation_id"),
        ({"type": "typing", "typing": True}, "console", "conversation_id"),
        ({"type": "availability", "id": "a1", "status": "busy"}, "console", "status"),
        ({"type": "availability", "id": "a1"}, "console", "status"),
        ({"type": "start_conversation", "id": "s1"}, "console", "conversation_id"),
        ({"type": "close_conversation", "conversation_id": "c"}, "console", "id"),
    ],
)
def test_parse_invalid_names_the_field(data: dict[str, Any], endpoint: str, field: str) -> None:
    err = refusal(data, endpoint)
    assert err.code == "invalid"
    assert field in err.message.split(":")[0].split(".")


def test_parse_invalid_names_the_typing_field() -> None:
    err = refusal({"type": "typing"})
    assert err.code == "invalid"
    assert err.message.startswith("typing:")


def test_resume_too_many_entries() -> None:
    after = {f"c{i}": 0 for i in range(201)}
    assert refusal({"type": "resume", "after": after}).code == "invalid"
    after.pop("c0")
    assert isinstance(parse_m({"type": "resume", "after": after}), cf.Resume)


@pytest.mark.parametrize("endpoint", ["messenger", "console"])
def test_body_length_limits(endpoint: str) -> None:
    base: dict[str, Any] = {"type": "message", "id": "m1"}
    if endpoint == "console":
        base["conversation_id"] = "c_1"
    target = ENDPOINTS[endpoint]

    frame: Any = parse(raw({**base, "body": "x" * MAX_BODY_CHARS}), target)
    assert frame.body == "x" * MAX_BODY_CHARS
    # The limit is in characters, not bytes.
    assert parse(raw({**base, "body": "é" * MAX_BODY_CHARS}), target)

    too_long = refusal({**base, "body": "x" * (MAX_BODY_CHARS + 1)}, endpoint)
    assert (too_long.code, too_long.frame_id) == ("invalid", "m1")
    assert too_long.message.startswith("body:")
    assert str(MAX_BODY_CHARS) in too_long.message

    empty = refusal({**base, "body": ""}, endpoint)
    assert (empty.code, empty.frame_id) == ("invalid", "m1")
    assert empty.message.startswith("body:")


@pytest.mark.parametrize(
    "client_id",
    ["", "has space", "slash/", "ümlaut", "semi;colon", "new\nline", "a" * 65, "tab\t"],
)
def test_bad_client_id(client_id: str) -> None:
    err = refusal({"type": "message", "id": client_id, "body": "hi"})
    assert err.code == "invalid"
    assert err.message.startswith("id:")


@pytest.mark.parametrize("client_id", ["a", "A-z_0.9:x", "a" * 64, "c_9f8e-7d6c.5b4a:3"])
def test_good_client_id(client_id: str) -> None:
    assert parse_m({"type": "message", "id": client_id, "body": "hi"}).id == client_id


@pytest.mark.parametrize(
    ("data", "endpoint"),
    [
        ({"type": "message", "id": "m1", "body": "hi", "extra": 1}, "messenger"),
        ({"type": "ping", "extra": None}, "messenger"),
        ({"type": "typing", "typing": True, "conversation_id": "c"}, "messenger"),
        ({"type": "page_view", "id": "m1", "url": "/", "html": "<b>"}, "messenger"),
        ({"type": "availability", "id": "m1", "status": "away", "extra": 1}, "console"),
        ({"type": "message", "id": "m1", "conversation_id": "c", "body": "x", "x": 1}, "console"),
    ],
)
def test_extra_fields_forbidden(data: dict[str, Any], endpoint: str) -> None:
    err = refusal(data, endpoint)
    assert err.code == "invalid"
    assert "xtra" in err.message or "not permitted" in err.message


def test_extra_field_message_names_it() -> None:
    err = refusal({"type": "message", "id": "m1", "body": "hi", "surprise": 1})
    assert err.message.startswith("surprise:")
    assert err.frame_id == "m1"


@pytest.mark.parametrize(
    ("data", "frame_id"),
    [
        ({"type": "message", "id": "m1"}, "m1"),
        ({"type": "nope", "id": "m2"}, "m2"),
        ({"type": None, "id": "m3"}, "m3"),
        ({"type": "message", "id": "has space", "body": "x"}, "has space"),
        ({"type": "message", "id": "x" * 64}, "x" * 64),
        ({"type": "message", "id": "x" * 65}, None),
        ({"type": "message", "id": ""}, None),
        ({"type": "message", "id": 12, "body": "x"}, None),
        ({"type": "message", "id": ["m1"], "body": "x"}, None),
        ({"type": "message"}, None),
    ],
)
def test_frame_id_carried_into_error(data: dict[str, Any], frame_id: str | None) -> None:
    assert refusal(data).frame_id == frame_id


# --------------------------------------------------------------------------- parse_hello

HELLOS = [MESSENGER, CONSOLE]


@pytest.mark.parametrize("endpoint", HELLOS, ids=lambda e: e.name)
def test_parse_hello_ok(endpoint: Endpoint) -> None:
    hello = parse_hello(raw({"type": "hello", "v": PROTOCOL_VERSION}), endpoint)
    assert isinstance(hello, endpoint.hello)
    assert hello.v == PROTOCOL_VERSION


def test_parse_messenger_hello_with_details() -> None:
    hello = parse_hello(
        raw(
            {
                "type": "hello",
                "v": 1,
                "visitor_token": "tok",
                "locale": "de-DE",
                "page": {"url": "https://acme.test/", "title": "Acme"},
                "host_origin": "https://acme.test",
            }
        ),
        MESSENGER,
    )
    assert isinstance(hello, cf.MessengerHello)
    assert hello.page is not None
    assert hello.page.url == "https://acme.test/"


@pytest.mark.parametrize("v", [0, 2, -1, 999])
@pytest.mark.parametrize("endpoint", HELLOS, ids=lambda e: e.name)
def test_parse_hello_bad_version(v: int, endpoint: Endpoint) -> None:
    with pytest.raises(FrameError) as info:
        parse_hello(raw({"type": "hello", "v": v}), endpoint)
    assert info.value.code == "bad_hello"
    assert f"v{PROTOCOL_VERSION}" in info.value.message


@pytest.mark.parametrize(
    "data",
    [
        {"type": "message", "id": "m1", "body": "hi"},
        {"type": "ping"},
        {"type": "HELLO", "v": 1},
        {"v": 1},
        {},
        {"type": None, "v": 1},
    ],
)
@pytest.mark.parametrize("endpoint", HELLOS, ids=lambda e: e.name)
def test_parse_hello_wrong_type(data: dict[str, Any], endpoint: Endpoint) -> None:
    with pytest.raises(FrameError) as info:
        parse_hello(raw(data), endpoint)
    assert info.value.code == "bad_hello"
    assert "hello" in info.value.message


@pytest.mark.parametrize("data", [b"not json", b"[1]", b"x" * (MAX_FRAME_BYTES + 1)])
def test_parse_hello_not_an_object(data: bytes) -> None:
    with pytest.raises(FrameError) as info:
        parse_hello(data, MESSENGER)
    assert info.value.code == "bad_hello"


@pytest.mark.parametrize(
    ("data", "endpoint", "field"),
    [
        ({"type": "hello"}, MESSENGER, "v"),
        ({"type": "hello", "v": "one"}, CONSOLE, "v"),
        ({"type": "hello", "v": 1, "extra": 1}, CONSOLE, "extra"),
        ({"type": "hello", "v": 1, "visitor_token": "x"}, CONSOLE, "visitor_token"),
        ({"type": "hello", "v": 1, "locale": "x" * 36}, MESSENGER, "locale"),
        ({"type": "hello", "v": 1, "page": {"title": "x"}}, MESSENGER, "page.url"),
        ({"type": "hello", "v": 1, "page": {"url": "/", "x": 1}}, MESSENGER, "page.x"),
    ],
)
def test_parse_hello_invalid(data: dict[str, Any], endpoint: Endpoint, field: str) -> None:
    with pytest.raises(FrameError) as info:
        parse_hello(raw(data), endpoint)
    assert info.value.code == "bad_hello"
    assert info.value.message.startswith(f"{field}:")


# --------------------------------------------------------------------------- derived


def test_json_schemas_cover_every_type() -> None:
    schemas = json_schemas()
    expected = {f"{e.name}.hello" for e in HELLOS}
    for e in HELLOS:
        expected |= {f"{e.name}.{t}" for t in e.client}
        expected |= {f"{e.name}.server.{t}" for t in e.server}
    assert set(schemas) == expected
    for key, schema in schemas.items():
        kind = key.rsplit(".", 1)[1]
        assert schema["type"] == "object"
        assert schema["properties"]["type"] == {"enum": [kind]}
        assert "type" in schema["required"]
        assert schema["additionalProperties"] is False
        orjson.dumps(schema)  # serialisable as published


def test_json_schemas_distinguish_endpoints() -> None:
    schemas = json_schemas()
    assert "conversation_id" in schemas["console.message"]["properties"]
    assert "conversation_id" not in schemas["messenger.message"]["properties"]
    assert "page" in schemas["messenger.hello"]["properties"]
    assert "page" not in schemas["console.hello"]["properties"]
    assert "meta" in schemas["console.server.message"]["properties"]
    assert "meta" not in schemas["messenger.server.message"]["properties"]


def test_endpoints_are_derived_from_the_frame_classes() -> None:
    assert set(MESSENGER.client) == {
        "page_view", "message", "typing", "read", "resume", "leave_email", "identify", "ping"
    }  # fmt: skip
    assert MESSENGER.client["message"] is cf.VisitorSend
    assert CONSOLE.client["message"] is cf.RepSend
    assert MESSENGER.server["message"] is sf.MessageToVisitor
    assert CONSOLE.server["message"] is sf.MessageToRep
    assert "alert" not in MESSENGER.server  # a rep-only frame has no messenger form
    assert "visitor_profile" not in MESSENGER.server  # Visitor 360 is for reps only
    assert "visitor_identity" not in MESSENGER.server


def test_visitor_events_leave_out_rep_only_kinds() -> None:
    """A rep-only event kind cannot be put in a frame for the messenger."""
    rep_only = [k for k in stream.kinds() if k.audience.value == "reps"]
    assert rep_only, "there is at least one rep-only kind to check"
    card = {"id": "u", "name": "Ana", "first_name": "Ana", "avatar_url": None}
    samples: dict[str, dict[str, object]] = {
        "outcome_set": {"outcome": "spam"},
        "transferred": {"from_owner": card, "to": card},
        "visitor_blocked": {"reported": True},
    }
    assert {stream.kind_of(k) for k in rep_only} == set(samples)
    for kind in rep_only:
        event = msgspec.convert(
            {"kind": stream.kind_of(kind), **samples[stream.kind_of(kind)]}, type=kind
        )
        frame = {
            "type": "event", "conversation_id": "c", "seq": 1, "created_at": "t", "actor": None,
            "event": msgspec.to_builtins(event),
        }  # fmt: skip
        with pytest.raises(msgspec.ValidationError):
            MESSENGER.server_decoder.decode(orjson.dumps(frame))
        CONSOLE.server_decoder.decode(orjson.dumps(frame))


def test_bundle_names_every_frame_once() -> None:
    doc = bundle()
    names = set(doc["$defs"])
    for e in HELLOS:
        for cls in [e.hello, *e.client.values(), *e.server.values()]:
            assert cls.__name__ in names
    for kind in stream.kinds():
        assert kind.__name__ in names


# --------------------------------------------------------------------------- fuzz

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
FIELD_NAMES = [
    "id",
    "v",
    "body",
    "url",
    "title",
    "referrer",
    "typing",
    "conversation_id",
    "seq",
    "after",
    "email",
    "t",
    "status",
    "page",
    "visitor_token",
]
field_values = (
    json_values
    | st.text(alphabet="abcAB01_.:-@ ", max_size=70)
    | st.integers(min_value=-2, max_value=2**31 + 1)
    | st.sampled_from(["available", "away", "a@b.co", "c_1", ""])
    | st.dictionaries(st.text(max_size=6), st.integers(min_value=-1, max_value=3), max_size=3)
)
typed_frames = st.builds(
    lambda kind, fields: {**fields, "type": kind},
    st.sampled_from([*sorted(MESSENGER_TYPES | CONSOLE_TYPES), "nope", ""]),
    st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=6), field_values, max_size=5),
)
any_dicts = st.dictionaries(st.text(max_size=8), json_values, max_size=5)


@st.composite
def mutated_frames(draw: st.DrawFn) -> dict[str, Any]:
    """A valid frame of either endpoint with a few fields dropped, replaced or added."""
    frame = dict(draw(st.sampled_from(VALID_MESSENGER + VALID_CONSOLE)))
    for _ in range(draw(st.integers(min_value=0, max_value=2))):
        key = draw(st.sampled_from([*frame, *FIELD_NAMES]))
        if draw(st.booleans()):
            frame.pop(key, None)
        else:
            frame[key] = draw(field_values)
    return frame


def _parse_or_refuse(data: dict[str, Any], endpoint: Endpoint) -> None:
    try:
        frame: Any = parse(raw(data), endpoint)
    except FrameError as err:
        assert err.code in {"unknown_type", "invalid", "too_large"}
        assert isinstance(err.message, str)
        assert err.message
        assert err.frame_id is None or (
            isinstance(err.frame_id, str) and err.frame_id == data["id"]
        )
    else:
        assert isinstance(frame, ClientFrame)
        kind = type(frame).__struct_config__.tag
        assert kind in endpoint.client
        assert kind != "hello"


@settings(max_examples=400)
@given(
    data=mutated_frames() | typed_frames | any_dicts, endpoint=st.sampled_from(sorted(ENDPOINTS))
)
def test_fuzz_parse_never_raises_anything_else(data: dict[str, Any], endpoint: str) -> None:
    _parse_or_refuse(data, ENDPOINTS[endpoint])


@settings(max_examples=200)
@given(data=mutated_frames() | typed_frames | any_dicts, endpoint=st.sampled_from(HELLOS))
def test_fuzz_parse_hello_never_raises_anything_else(
    data: dict[str, Any], endpoint: Endpoint
) -> None:
    try:
        hello = parse_hello(raw(data), endpoint)
    except FrameError as err:
        assert err.code == "bad_hello"
    else:
        assert isinstance(hello, endpoint.hello)


@settings(max_examples=200)
@given(data=st.binary(max_size=200) | st.text(max_size=200) | json_values.map(orjson.dumps))
def test_fuzz_bytes(data: bytes | str) -> None:
    """Any bytes get a frame or one of the documented refusals, on both endpoints."""
    encoded = data.encode() if isinstance(data, str) else data
    for endpoint in ENDPOINTS.values():
        try:
            parse(encoded, endpoint)
        except FrameError as err:
            assert err.code in {"bad_json", "too_large", "unknown_type", "invalid"}
