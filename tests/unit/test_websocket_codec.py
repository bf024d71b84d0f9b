"""Pure parts of the WebSocket protocol: masking, headers, negotiation, requests."""

from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pounce.realtime import websocket as ws


@given(st.binary(max_size=300), st.binary(min_size=4, max_size=4))
def test_unmask_is_the_rfc_xor(payload: bytes, mask: bytes) -> None:
    expected = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert ws._unmask(payload, mask) == expected
    assert ws._unmask(expected, mask) == payload


@pytest.mark.parametrize(
    ("length", "expected"),
    [
        (0, b"\x81\x00"),
        (125, b"\x81\x7d"),
        (126, b"\x81\x7e" + struct.pack("!H", 126)),
        (65535, b"\x81\x7e" + struct.pack("!H", 65535)),
        (65536, b"\x81\x7f" + struct.pack("!Q", 65536)),
    ],
)
def test_frame_header_lengths(length: int, expected: bytes) -> None:
    assert ws.frame_header(ws.OP_TEXT, length) == expected


def test_frame_header_bits() -> None:
    assert ws.frame_header(ws.OP_TEXT, 1, rsv1=True)[0] == 0xC1
    assert ws.frame_header(ws.OP_CONT, 1, fin=False)[0] == 0x00
    assert ws.frame_header(ws.OP_PING, 0)[0] == 0x89


def test_accept_key_of_the_rfc_example() -> None:
    assert ws.accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


@pytest.mark.parametrize(
    ("offer", "answer"),
    [
        (
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        ),
        (
            "permessage-deflate; server_max_window_bits=10",
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10;"
            " client_no_context_takeover",
        ),
        # An offer we cannot honour is skipped for the next one.
        (
            "permessage-deflate; server_max_window_bits=8, permessage-deflate",
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        ),
        ("x-webkit-deflate-frame", None),
        ("permessage-deflate; unknown_param", None),
        ("permessage-deflate; client_max_window_bits=99", None),
    ],
)
def test_deflate_negotiation(offer: str, answer: str | None) -> None:
    negotiated = ws._negotiate_deflate(offer)
    if answer is None:
        assert negotiated is None
    else:
        assert negotiated is not None and negotiated[1] == answer


@given(st.binary(max_size=5000))
def test_deflate_round_trip_matches_zlib(data: bytes) -> None:
    deflate = ws._Deflate(server_bits=12)
    compressed = deflate.compress(data)
    # What a client does: raw inflate of the payload plus the stripped tail.
    assert zlib.decompressobj(-15).decompress(compressed + b"\x00\x00\xff\xff") == data
    assert deflate.decompress(compressed, limit=10_000) == data


def test_inflating_past_the_limit_is_refused() -> None:
    bomb = ws._Deflate().compress(b"\x00" * 100_000)
    assert len(bomb) < 1000
    with pytest.raises(ws._ProtocolError) as err:
        ws._Deflate().decompress(bomb, limit=50_000)
    assert err.value.code == ws.CLOSE_TOO_BIG


def test_request_cookie_and_origin() -> None:
    request = ws.Request(
        path="/ws/console",
        query={},
        headers={"cookie": 'a=1; pounce_session="tok"; b=2', "host": "Chat.Example.com"},
        client="10.0.0.1",
        secure=True,
    )
    assert request.cookie("pounce_session") == "tok"
    assert request.cookie("missing") is None
    assert request.own_origin == "https://chat.example.com"


def test_trusted_proxies() -> None:
    trusted = ws._TrustedProxies(("127.0.0.1", "10.0.0.0/8", "not-an-ip"))
    assert "127.0.0.1" in trusted and "10.1.2.3" in trusted
    assert "192.168.1.1" not in trusted and None not in trusted and "bogus" not in trusted
    assert "8.8.8.8" in ws._TrustedProxies(("*",))
