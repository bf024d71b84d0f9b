"""Pure parts of the WebSocket layer: requests, deflate negotiation and its failures."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.frames import Frame, Opcode
from websockets.protocol import SERVER, State
from websockets.protocol import Protocol as Codec

from pounce.realtime import websocket as ws
from tests.support.rawws import encode


def _negotiate(offer: str, *, compression: bool = True) -> str | None:
    """The Sec-WebSocket-Extensions answer of a router with or without compression."""
    router = ws.Router({}, ws.Options(compression=compression))
    return ws._negotiate(router.extensions, offer)[0]


@pytest.mark.parametrize(
    ("offer", "answer"),
    [
        (
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        ),
        (
            "permessage-deflate; server_max_window_bits=10",
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover;"
            " server_max_window_bits=10",
        ),
        # An offer we cannot honour is skipped for the next one.
        (
            "permessage-deflate; server_max_window_bits=8, permessage-deflate",
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        ),
        ("x-webkit-deflate-frame", None),
        ("permessage-deflate; unknown_param", None),
        ("permessage-deflate; client_max_window_bits=99", None),
        # RFC 7692 section 7: an offer with a parameter twice is declined
        ("permessage-deflate; server_no_context_takeover; server_no_context_takeover", None),
        ("permessage-deflate; client_max_window_bits=10; client_max_window_bits=11", None),
    ],
)
def test_deflate_negotiation(offer: str, answer: str | None) -> None:
    assert _negotiate(offer) == answer


def test_no_compression_unless_configured() -> None:
    assert _negotiate("permessage-deflate", compression=False) is None


def _open_codec(max_size: int = 1 << 20) -> Codec:
    """The codec as a socket has it once permessage-deflate was negotiated."""
    router = ws.Router({}, ws.Options(compression=True))
    answer, extensions = ws._negotiate(router.extensions, "permessage-deflate")
    assert answer is not None
    codec = Codec(SERVER, state=State.OPEN, max_size=max_size)
    codec.extensions = extensions
    return codec


def _deflated(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    return out[:-4]


def test_compressed_messages_round_trip() -> None:
    codec = _open_codec()
    codec.receive_data(encode(0x1, _deflated(b"hello " * 100), rsv1=True))
    [frame] = codec.events_received()
    assert frame.data == b"hello " * 100 and codec.state is State.OPEN


def test_invalid_compressed_data_fails_with_1007() -> None:
    codec = _open_codec()
    codec.receive_data(encode(0x1, b"\xff\xfe\xfd junk", rsv1=True))
    assert codec.events_received() == []
    assert codec.close_sent is not None and codec.close_sent.code == ws.CLOSE_INVALID_DATA


def test_inflating_past_the_limit_fails_with_1009() -> None:
    bomb = _deflated(b"\x00" * 100_000)
    assert len(bomb) < 1000
    codec = _open_codec(max_size=50_000)
    codec.receive_data(encode(0x2, bomb, rsv1=True))
    assert codec.close_sent is not None and codec.close_sent.code == ws.CLOSE_TOO_BIG


def test_frame_overhead_is_the_masked_header() -> None:
    for length in (0, 125, 126, 65535, 65536):
        frame = Frame(Opcode.CONT, b"x" * length).serialize(mask=True)
        assert ws._frame_overhead(length) == len(frame) - length


def test_request_cookie_and_own_origin() -> None:
    request = ws.Request(
        path="/ws/console",
        query={},
        headers={"cookie": 'a=1; pounce_session="tok"; b=2', "host": "evil.test"},
        client="10.0.0.1",
        secure=True,
        public_origin="https://chat.example.com",
    )
    assert request.cookie("pounce_session") == "tok"
    assert request.cookie("missing") is None
    # never from the client's Host
    assert request.own_origin == "https://chat.example.com"
    assert request.host == "evil.test"


def test_heads_are_parsed_with_repeated_headers_joined() -> None:
    head = "GET /ws/x?a=1 HTTP/1.1\r\nHost: h\r\nCookie: a=1\r\nX: 1\r\nCookie: b=2\r\nx: 2"
    method, target, version, headers = ws._parse_head(head)
    assert (method, target, version) == ("GET", "/ws/x?a=1", "HTTP/1.1")
    assert headers == {"host": "h", "cookie": "a=1; b=2", "x": "1, 2"}
    for bad in ("GET / HTTP/1.1\r\nno colon", "GET /\r\nHost: h", "GET / HTTP/1.1\r\n : v"):
        with pytest.raises(ws._Refused):
            ws._parse_head(bad)


@given(st.binary(max_size=300), st.booleans())
def test_data_frames_match_the_codec(payload: bytes, text: bool) -> None:
    """Our header for uncompressed data frames is the one the codec would write."""
    opcode = Opcode.TEXT if text else Opcode.BINARY
    expected = Frame(opcode, payload).serialize(mask=False, extensions=[])
    assert ws.frame_header(len(payload), text=text) + payload == expected


@pytest.mark.parametrize("length", [0, 125, 126, 65535, 65536, 1 << 20])
def test_data_frame_header_lengths(length: int) -> None:
    expected = Frame(Opcode.TEXT, b"x" * length).serialize(mask=False, extensions=[])
    assert ws.frame_header(length) == expected[: len(expected) - length]
