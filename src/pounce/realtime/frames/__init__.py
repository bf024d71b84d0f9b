"""Protocol v1: every frame declared once as a typed class (`client`, `server`, `stream`),
and what is derived from them (`protocol`)."""

from pounce.realtime.frames.base import (
    MAX_BODY_CHARS,
    MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
    ClientFrame,
    Frame,
    ServerFrame,
    ToConsole,
    ToMessenger,
    encode,
)
from pounce.realtime.frames.protocol import (
    CONSOLE,
    ENDPOINTS,
    MESSENGER,
    Endpoint,
    FrameError,
    bundle,
    json_schemas,
    parse,
    parse_hello,
)

__all__ = [
    "CONSOLE",
    "ENDPOINTS",
    "MAX_BODY_CHARS",
    "MAX_FRAME_BYTES",
    "MESSENGER",
    "PROTOCOL_VERSION",
    "ClientFrame",
    "Endpoint",
    "Frame",
    "FrameError",
    "ServerFrame",
    "ToConsole",
    "ToMessenger",
    "bundle",
    "encode",
    "json_schemas",
    "parse",
    "parse_hello",
]
