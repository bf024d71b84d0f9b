"""Protocol v1 as derived from the frame classes: what each endpoint accepts and sends,
the decoders that parse and validate client frames, and the JSON Schemas."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Union

import msgspec
import orjson

from pounce.realtime.frames import client, server, stream  # noqa: F401 (declares the frames)
from pounce.realtime.frames.base import (
    MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
    ClientFrame,
    Frame,
    FromConsole,
    FromMessenger,
    Hello,
    ServerFrame,
    ToConsole,
    ToMessenger,
    tag_of,
)


class FrameError(ValueError):
    """A client frame was refused; `code` and `message` go into the error frame."""

    def __init__(self, code: str, message: str, frame_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.frame_id = frame_id


def _concrete(base: type[Frame]) -> list[type[Any]]:
    """The tagged (wire) classes below `base`, in declaration order, each once."""
    found: list[type[Any]] = []
    stack = list(base.__subclasses__())
    while stack:
        cls = stack.pop(0)
        if isinstance(cls.__struct_config__.tag, str) and cls not in found:
            found.append(cls)
        stack[:0] = cls.__subclasses__()
    return found


@dataclass(frozen=True)
class Endpoint:
    """One WebSocket endpoint's frames, derived from the classes."""

    name: str
    hello: type[Hello]
    client: dict[str, type[ClientFrame]]  # by wire type
    server: dict[str, type[ServerFrame]]
    decoder: msgspec.json.Decoder[Any]
    hello_decoder: msgspec.json.Decoder[Any]
    server_decoder: msgspec.json.Decoder[Any]

    @classmethod
    def build(
        cls, name: str, hello: type[Hello], sent: type[ClientFrame], received: type[ServerFrame]
    ) -> Endpoint:
        client_frames = _by_type(_concrete(sent), name)
        server_frames = _by_type(_concrete(received), name)
        return cls(
            name=name,
            hello=hello,
            client=client_frames,
            server=server_frames,
            decoder=msgspec.json.Decoder(Union[tuple(client_frames.values())]),  # noqa: UP007
            hello_decoder=msgspec.json.Decoder(hello),
            server_decoder=msgspec.json.Decoder(Union[tuple(server_frames.values())]),  # noqa: UP007
        )


def _by_type(classes: list[type[Any]], endpoint: str) -> dict[str, type[Any]]:
    out: dict[str, type[Any]] = {}
    for cls in classes:
        kind = tag_of(cls)
        if kind in out:
            raise TypeError(
                f"{endpoint}: {out[kind].__name__} and {cls.__name__} are both {kind!r}"
            )
        out[kind] = cls
    return out


MESSENGER = Endpoint.build("messenger", client.MessengerHello, FromMessenger, ToMessenger)
CONSOLE = Endpoint.build("console", client.ConsoleHello, FromConsole, ToConsole)
ENDPOINTS = (MESSENGER, CONSOLE)


# -- parsing client frames ------------------------------------------------------------------


def _frame_id(data: dict[str, Any]) -> str | None:
    value = data.get("id")
    return value if isinstance(value, str) and 0 < len(value) <= 64 else None


_AT = re.compile(r"^(?P<what>.*?)(?: - at (?P<where>.*))?$", re.S)


def _explain(exc: msgspec.ValidationError) -> str:
    """msgspec's error as `field.path: what is wrong`."""
    match = _AT.match(str(exc))
    assert match is not None
    what, where = match["what"], (match["where"] or "`$`").rsplit("`", 2)[-2]
    named = re.match(r"Object (?:missing required|contains unknown) field `([^`]+)`", what)
    path = [p for p in re.sub(r"\[[^\]]*\]", "", where).removeprefix("$").split(".") if p]
    if named:
        path.append(named[1])
        what = (
            "field required" if "missing" in what else "unknown field: extra fields not permitted"
        )
    return f"{'.'.join(path) or 'frame'}: {what}"


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FrameError("bad_json", f"frame is not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise FrameError("bad_json", "frame must be a JSON object")
    return data


def _check_size(raw: bytes) -> None:
    if len(raw) > MAX_FRAME_BYTES:
        raise FrameError("too_large", f"frame is {len(raw)} bytes; the limit is {MAX_FRAME_BYTES}")


def parse(raw: bytes, endpoint: Endpoint) -> ClientFrame:
    """One client frame of `endpoint`, validated, or FrameError (`too_large`, `bad_json`,
    `unknown_type`, `invalid`)."""
    _check_size(raw)
    try:
        frame: ClientFrame = endpoint.decoder.decode(raw)
        return frame
    except msgspec.ValidationError as exc:
        error = exc
    except msgspec.DecodeError:
        _json_object(raw)  # says what is wrong with the JSON
        raise FrameError("bad_json", "frame is not valid JSON") from None
    data = _json_object(raw)
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in endpoint.client:
        shown = kind if isinstance(kind, str) else type(kind).__name__
        raise FrameError("unknown_type", f"unknown frame type {shown!r}", _frame_id(data))
    raise FrameError("invalid", _explain(error), _frame_id(data))


def parse_hello(raw: bytes, endpoint: Endpoint) -> Any:
    """The endpoint's `hello`, or FrameError `bad_hello`."""
    try:
        _check_size(raw)
        data = _json_object(raw)
    except FrameError as exc:
        raise FrameError("bad_hello", exc.message) from None
    if data.get("type") != "hello":
        raise FrameError("bad_hello", "the first frame must be hello")
    try:
        hello = endpoint.hello_decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise FrameError("bad_hello", _explain(exc)) from None
    if hello.v != PROTOCOL_VERSION:
        raise FrameError(
            "bad_hello", f"unsupported protocol version; this server speaks v{PROTOCOL_VERSION}"
        )
    return hello


# -- schemas ----------------------------------------------------------------------------------

_REF = "#/$defs/{name}"


def _standalone(cls: type[Any]) -> dict[str, Any]:
    """A frame's JSON Schema with the shapes it uses under `$defs`."""
    (ref,), defs = msgspec.json.schema_components([cls], ref_template=_REF)
    root = dict(defs.pop(ref["$ref"].rsplit("/", 1)[1]))
    if defs:
        root["$defs"] = dict(sorted(defs.items()))
    return root


def json_schemas() -> dict[str, dict[str, Any]]:
    """Every frame's JSON Schema: `endpoint.type` (client), `endpoint.server.type`."""
    schemas: dict[str, dict[str, Any]] = {}
    for endpoint in ENDPOINTS:
        schemas[f"{endpoint.name}.hello"] = _standalone(endpoint.hello)
        for kind, cls in endpoint.client.items():
            schemas[f"{endpoint.name}.{kind}"] = _standalone(cls)
        for kind, server_cls in endpoint.server.items():
            schemas[f"{endpoint.name}.server.{kind}"] = _standalone(server_cls)
    return schemas


def bundle() -> dict[str, Any]:
    """The whole protocol in one schema document (the front end's types come from it):
    each endpoint's client and server frames as unions over shared `$defs`."""
    unions: dict[str, list[type[Any]]] = {}
    for endpoint in ENDPOINTS:
        unions[f"{endpoint.name}_client"] = [endpoint.hello, *endpoint.client.values()]
        unions[f"{endpoint.name}_server"] = list(endpoint.server.values())
    everything = [cls for classes in unions.values() for cls in classes]
    everything += stream.kinds()
    names = [cls.__name__ for cls in dict.fromkeys(everything)]
    if len(names) != len(set(names)):
        raise TypeError(f"frame classes need distinct names: {sorted(names)}")
    _, defs = msgspec.json.schema_components(everything, ref_template=_REF)
    return {
        "title": "Protocol",
        "description": f"Pounce real-time protocol v{PROTOCOL_VERSION} (docs/protocol.md).",
        "type": "object",
        "properties": {
            key: {"anyOf": [{"$ref": _REF.format(name=cls.__name__)} for cls in classes]}
            for key, classes in unions.items()
        }
        | {"event": {"anyOf": [{"$ref": _REF.format(name=k.__name__)} for k in stream.kinds()]}},
        "required": [*unions, "event"],
        "additionalProperties": False,
        "$defs": dict(sorted(defs.items())),
    }


# -- the reference page ----------------------------------------------------------------------


def _type_text(schema: dict[str, Any]) -> str:
    """A field's JSON Schema in a few words (`string`, `RepCard | null`, `{str: int}`)."""
    if "$ref" in schema:
        return f"`{schema['$ref'].rsplit('/', 1)[1]}`"
    if "anyOf" in schema:
        return " \\| ".join(_type_text(part) for part in schema["anyOf"])
    if "enum" in schema:
        return " \\| ".join(f"`{orjson.dumps(v).decode()}`" for v in schema["enum"])
    kind = schema.get("type")
    if kind == "array":
        return f"list of {_type_text(schema.get('items', {}))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"map of {_type_text(schema['additionalProperties'])}"
    if kind == "null":
        return "null"
    return f"`{kind}`" if kind else "any"


def _fields(schema: dict[str, Any], *, skip: str) -> str:
    required = set(schema.get("required", []))
    parts = []
    for name, field in schema.get("properties", {}).items():
        if name == skip:
            continue
        optional = "" if name in required else "?"
        parts.append(f"`{name}{optional}`: {_type_text(field)}")
    return ", ".join(parts) or "—"


def _describe(schema: dict[str, Any]) -> str:
    return " ".join(str(schema.get("description", "")).split())


def reference_markdown() -> str:
    """docs/frames.md: every frame and shape, from the classes (`pounce schemas`)."""
    doc = bundle()
    defs: dict[str, Any] = doc["$defs"]
    lines = [
        "# Frames of protocol v1",
        "",
        "Generated by `pounce schemas` from the frame classes in `src/pounce/realtime/frames/`:",
        "do not edit. `docs/protocol.md` says how they are used; `docs/schemas/` has their",
        "JSON Schemas. A `?` marks a field that may be left out.",
    ]
    for endpoint in ENDPOINTS:
        for title, classes in (
            (f"{endpoint.name}: client → server", [endpoint.hello, *endpoint.client.values()]),
            (f"{endpoint.name}: server → client", list(endpoint.server.values())),
        ):
            lines += ["", f"## {title}", "", "| type | fields | what it is |", "|---|---|---|"]
            for cls in classes:
                schema = defs[cls.__name__]
                lines.append(
                    f"| `{tag_of(cls)}` | {_fields(schema, skip='type')} | {_describe(schema)} |"
                )
    lines += ["", "## Events (`event.kind`)", "", "| kind | audience | fields | what it is |"]
    lines += ["|---|---|---|---|"]
    for kind in stream.kinds():
        schema = defs[kind.__name__]
        lines.append(
            f"| `{stream.kind_of(kind)}` | {kind.audience.value} | "
            f"{_fields(schema, skip='kind')} | {_describe(schema)} |"
        )
    shapes = sorted(
        name
        for name in defs
        if name not in {c.__name__ for e in ENDPOINTS for c in (e.hello, *e.client.values())}
        and name not in {c.__name__ for e in ENDPOINTS for c in e.server.values()}
        and name not in {k.__name__ for k in stream.kinds()}
    )
    lines += ["", "## Shapes", "", "| shape | fields | what it is |", "|---|---|---|"]
    for name in shapes:
        schema = defs[name]
        lines.append(f"| `{name}` | {_fields(schema, skip='')} | {_describe(schema)} |")
    return "\n".join(lines) + "\n"
