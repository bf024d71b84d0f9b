"""Unit tests for client frame parsing and validation (pounce.realtime.frames)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter

from pounce.realtime.frames import (
    CONSOLE_ADAPTER,
    CONSOLE_TYPES,
    MAX_BODY_CHARS,
    MAX_FRAME_BYTES,
    MESSENGER_ADAPTER,
    MESSENGER_TYPES,
    PROTOCOL_VERSION,
    AvailabilityFrame,
    ConsoleHello,
    Frame,
    FrameError,
    MessengerHello,
    PageViewFrame,
    PingFrame,
    RepMessageFrame,
    ResumeFrame,
    VisitorMessageFrame,
    decode,
    encode,
    json_schemas,
    parse,
    parse_hello,
    quick_message,
)
from pounce.realtime.server_frames import CONSOLE_SERVER_FRAMES, MESSENGER_SERVER_FRAMES

ENDPOINTS: dict[str, tuple[TypeAdapter[Any], frozenset[str]]] = {
    "messenger": (MESSENGER_ADAPTER, MESSENGER_TYPES),
    "console": (CONSOLE_ADAPTER, CONSOLE_TYPES),
}


def parse_m(data: dict[str, Any]) -> Any:
    return parse(data, MESSENGER_ADAPTER, MESSENGER_TYPES)


def parse_c(data: dict[str, Any]) -> Any:
    return parse(data, CONSOLE_ADAPTER, CONSOLE_TYPES)


def refusal(data: dict[str, Any], endpoint: str = "messenger") -> FrameError:
    adapter, known = ENDPOINTS[endpoint]
    with pytest.raises(FrameError) as info:
        parse(data, adapter, known)
    return info.value


# --------------------------------------------------------------------------- decode


def test_decode_object() -> None:
    assert decode('{"type":"ping","t":1}') == {"type": "ping", "t": 1}
    assert decode(b'{"type":"ping"}') == {"type": "ping"}
    assert decode(encode({"a": [1, "é"]})) == {"a": [1, "é"]}


def _padded(size: int) -> bytes:
    """A JSON object exactly `size` bytes long."""
    skeleton = b'{"p":""}'
    return skeleton[:6] + b"x" * (size - len(skeleton)) + skeleton[6:]


def test_decode_at_the_size_limit() -> None:
    raw = _padded(MAX_FRAME_BYTES)
    assert len(raw) == MAX_FRAME_BYTES
    assert decode(raw)["p"] == "x" * (MAX_FRAME_BYTES - 8)
    assert decode(raw.decode())["p"] == "x" * (MAX_FRAME_BYTES - 8)


@pytest.mark.parametrize("as_text", [False, True])
def test_decode_too_large(as_text: bool) -> None:
    raw = _padded(MAX_FRAME_BYTES + 1)
    with pytest.raises(FrameError) as info:
        decode(raw.decode() if as_text else raw)
    assert info.value.code == "too_large"
    assert str(MAX_FRAME_BYTES) in info.value.message
    assert info.value.frame_id is None


def test_decode_counts_bytes_not_characters() -> None:
    text = '{"p":"' + "é" * (MAX_FRAME_BYTES // 2) + '"}'
    assert len(text) < MAX_FRAME_BYTES < len(text.encode())
    with pytest.raises(FrameError) as info:
        decode(text)
    assert info.value.code == "too_large"


def test_decode_too_large_checked_before_json() -> None:
    with pytest.raises(FrameError) as info:
        decode(b"not json" * MAX_FRAME_BYTES)
    assert info.value.code == "too_large"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "not json",
        "{",
        '{"type": "ping",}',
        "{'type': 'ping'}",
        b"\xff\xfe",
        "[]",
        '[{"type": "ping"}]',
        "1",
        "-3.5",
        "null",
        "true",
        '"ping"',
    ],
)
def test_decode_bad_json(raw: str | bytes) -> None:
    with pytest.raises(FrameError) as info:
        decode(raw)
    assert info.value.code == "bad_json"
    assert info.value.message
    assert info.value.frame_id is None


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


@pytest.mark.parametrize("data", VALID_MESSENGER, ids=lambda d: d["type"])
def test_parse_valid_messenger(data: dict[str, Any]) -> None:
    frame: Any = parse_m(data)
    assert isinstance(frame, Frame)
    assert frame.model_dump()["type"] == data["type"]
    assert frame.model_dump(exclude_unset=True) == data


@pytest.mark.parametrize("data", VALID_CONSOLE, ids=lambda d: d["type"])
def test_parse_valid_console(data: dict[str, Any]) -> None:
    frame: Any = parse_c(data)
    assert isinstance(frame, Frame)
    assert frame.model_dump()["type"] == data["type"]
    assert frame.model_dump(exclude_unset=True) == data


def test_parse_picks_endpoint_model() -> None:
    assert isinstance(parse_m({"type": "message", "id": "m", "body": "x"}), VisitorMessageFrame)
    rep = parse_c({"type": "message", "id": "m", "conversation_id": "c", "body": "x"})
    assert isinstance(rep, RepMessageFrame)
    assert isinstance(parse_m({"type": "page_view", "id": "p", "url": "/"}), PageViewFrame)
    assert isinstance(
        parse_c({"type": "availability", "id": "a", "status": "away"}), AvailabilityFrame
    )
    assert isinstance(parse_m({"type": "resume", "after": {}}), ResumeFrame)
    assert isinstance(parse_c({"type": "ping"}), PingFrame)


def test_parsed_frames_are_frozen() -> None:
    frame = parse_m({"type": "message", "id": "m", "body": "x"})
    with pytest.raises(ValueError, match="frozen"):
        frame.body = "y"


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
    assert isinstance(parse_m({"type": "resume", "after": after}), ResumeFrame)


@pytest.mark.parametrize("endpoint", ["messenger", "console"])
def test_body_length_limits(endpoint: str) -> None:
    base: dict[str, Any] = {"type": "message", "id": "m1"}
    if endpoint == "console":
        base["conversation_id"] = "c_1"
    adapter, known = ENDPOINTS[endpoint]

    assert (
        parse({**base, "body": "x" * MAX_BODY_CHARS}, adapter, known).body == "x" * MAX_BODY_CHARS
    )
    # The limit is in characters, not bytes.
    assert parse({**base, "body": "é" * MAX_BODY_CHARS}, adapter, known)

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


@pytest.mark.parametrize("model", [MessengerHello, ConsoleHello])
def test_parse_hello_ok(model: type[Frame]) -> None:
    hello: Any = parse_hello({"type": "hello", "v": PROTOCOL_VERSION}, model)
    assert isinstance(hello, model)
    assert hello.model_dump()["v"] == PROTOCOL_VERSION


def test_parse_messenger_hello_with_details() -> None:
    hello = parse_hello(
        {
            "type": "hello",
            "v": 1,
            "visitor_token": "tok",
            "locale": "de-DE",
            "page": {"url": "https://acme.test/", "title": "Acme"},
            "host_origin": "https://acme.test",
        },
        MessengerHello,
    )
    assert isinstance(hello, MessengerHello)
    assert hello.page is not None
    assert hello.page.url == "https://acme.test/"


@pytest.mark.parametrize("v", [0, 2, -1, 999])
@pytest.mark.parametrize("model", [MessengerHello, ConsoleHello])
def test_parse_hello_bad_version(v: int, model: type[Frame]) -> None:
    with pytest.raises(FrameError) as info:
        parse_hello({"type": "hello", "v": v}, model)
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
@pytest.mark.parametrize("model", [MessengerHello, ConsoleHello])
def test_parse_hello_wrong_type(data: dict[str, Any], model: type[Frame]) -> None:
    with pytest.raises(FrameError) as info:
        parse_hello(data, model)
    assert info.value.code == "bad_hello"
    assert "hello" in info.value.message


@pytest.mark.parametrize(
    ("data", "model", "field"),
    [
        ({"type": "hello"}, MessengerHello, "v"),
        ({"type": "hello", "v": "one"}, ConsoleHello, "v"),
        ({"type": "hello", "v": 1, "extra": 1}, ConsoleHello, "extra"),
        ({"type": "hello", "v": 1, "visitor_token": "x"}, ConsoleHello, "visitor_token"),
        ({"type": "hello", "v": 1, "locale": "x" * 36}, MessengerHello, "locale"),
        ({"type": "hello", "v": 1, "page": {"title": "x"}}, MessengerHello, "page.url"),
        ({"type": "hello", "v": 1, "page": {"url": "/", "x": 1}}, MessengerHello, "page.x"),
    ],
)
def test_parse_hello_invalid(data: dict[str, Any], model: type[Frame], field: str) -> None:
    with pytest.raises(FrameError) as info:
        parse_hello(data, model)
    assert info.value.code == "bad_hello"
    assert info.value.message.startswith(f"{field}:")


# --------------------------------------------------------------------------- json_schemas


def test_json_schemas_cover_every_type() -> None:
    schemas = json_schemas()
    expected = {f"messenger.{t}" for t in MESSENGER_TYPES} | {f"console.{t}" for t in CONSOLE_TYPES}
    expected |= {f"messenger.server.{t}" for t in MESSENGER_SERVER_FRAMES}
    expected |= {f"console.server.{t}" for t in CONSOLE_SERVER_FRAMES}
    assert set(schemas) == expected
    for key, schema in schemas.items():
        kind = key.rsplit(".", 1)[1]
        assert schema["type"] == "object"
        assert schema["properties"]["type"]["const"] == kind
        assert "type" in schema["required"]
        assert schema["additionalProperties"] is False
        orjson.dumps(schema)  # serialisable as published


def test_json_schemas_distinguish_endpoints() -> None:
    schemas = json_schemas()
    assert "conversation_id" in schemas["console.message"]["properties"]
    assert "conversation_id" not in schemas["messenger.message"]["properties"]
    assert "page" in schemas["messenger.hello"]["properties"]
    assert "page" not in schemas["console.hello"]["properties"]


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


def _parse_or_refuse(
    data: dict[str, Any], adapter: TypeAdapter[Any], known: frozenset[str]
) -> None:
    try:
        frame: Any = parse(data, adapter, known)
    except FrameError as err:
        assert err.code in {"unknown_type", "invalid"}
        assert isinstance(err.message, str)
        assert err.message
        assert err.frame_id is None or (
            isinstance(err.frame_id, str) and err.frame_id == data["id"]
        )
    else:
        assert isinstance(frame, BaseModel)
        kind = frame.model_dump()["type"]
        assert kind in known
        assert kind != "hello"


@settings(max_examples=400)
@given(
    data=mutated_frames() | typed_frames | any_dicts, endpoint=st.sampled_from(sorted(ENDPOINTS))
)
def test_fuzz_parse_never_raises_anything_else(data: dict[str, Any], endpoint: str) -> None:
    adapter, known = ENDPOINTS[endpoint]
    _parse_or_refuse(data, adapter, known)


@settings(max_examples=200)
@given(
    data=mutated_frames() | typed_frames | any_dicts,
    model=st.sampled_from([MessengerHello, ConsoleHello]),
)
def test_fuzz_parse_hello_never_raises_anything_else(
    data: dict[str, Any], model: type[Frame]
) -> None:
    try:
        hello = parse_hello(data, model)
    except FrameError as err:
        assert err.code == "bad_hello"
    else:
        assert isinstance(hello, model)


@settings(max_examples=200)
@given(raw=st.binary(max_size=200) | st.text(max_size=200) | json_values.map(orjson.dumps))
def test_fuzz_decode_then_parse(raw: bytes | str) -> None:
    try:
        data = decode(raw)
    except FrameError as err:
        assert err.code in {"bad_json", "too_large"}
        return
    assert isinstance(data, dict)
    for adapter, known in ENDPOINTS.values():
        _parse_or_refuse(data, adapter, known)


# Message-shaped frames near every boundary the validator checks: id charset and
# length, body length, wrong types, missing and extra keys.
_ids = st.text(alphabet="Aa9_.:-! é\n", min_size=0, max_size=66) | st.sampled_from(
    ["m-1", "x" * 64, "x" * 65, "", "a\n", 7, None]
)
_bodies = st.text(max_size=20) | st.sampled_from(
    ["", "a" * MAX_BODY_CHARS, "a" * (MAX_BODY_CHARS + 1), "é" * MAX_BODY_CHARS, 12, None, ["x"]]
)
message_like = st.fixed_dictionaries(
    {"type": st.sampled_from(["message", "message", "typing", "Message"])},
    optional={"id": _ids, "body": _bodies, "extra": st.integers(-5, 5), "conversation_id": _ids},
)


@settings(max_examples=600)
@given(data=message_like | typed_frames | mutated_frames())
def test_quick_message_agrees_with_the_validator(data: dict[str, Any]) -> None:
    raw = orjson.dumps(data)
    quick = quick_message(raw)
    try:
        frame = parse(decode(raw), MESSENGER_ADAPTER, MESSENGER_TYPES)
    except FrameError:
        frame = None
    if isinstance(frame, VisitorMessageFrame):
        assert quick == (frame.id, frame.body)
    else:
        assert quick is None


def test_quick_message_refuses_what_is_not_one_json_object() -> None:
    assert quick_message(b"not json") is None
    assert quick_message(b'[{"type": "message", "id": "a", "body": "b"}]') is None
    big = orjson.dumps({"type": "message", "id": "a", "body": "b" * MAX_FRAME_BYTES})
    assert quick_message(big) is None
    assert quick_message(b'{"type": "message", "id": "a", "body": "b"}') == ("a", "b")
