"""REST for shortcuts, knowledge pages, the AI copilot (whole and streamed), conversation
tones and the org's AI settings. Nothing here sends anything to a visitor."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import PurePath
from typing import Annotated, Any, Final, Literal

from fastapi import Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator, BaseModel, Field, ValidationError, field_validator
from starlette.datastructures import UploadFile

from pounce.api import responses as out
from pounce.api.deps import ActorDep, AdminDep, RuntimeDep, api_router
from pounce.api.errors import errors
from pounce.api.schemas import NONBLANK, WHOLE, Body, Patch, keep
from pounce.domain import shortcuts as rules
from pounce.domain.model import Actor
from pounce.integrations.ai.base import (
    BASE_URL_CHARS,
    BASE_URL_PATTERN,
    OPERATIONS,
    Chunk,
    Operation,
    Reset,
    check_base_url,
)
from pounce.services import copilot, knowledge, shortcuts
from pounce.services.copilot import CopilotState
from pounce.store.copilot import Shortcut

log = logging.getLogger(__name__)
router = api_router()
WRITE = errors(400, 403, 422)

UPLOAD_BYTES: Final = 512 * 1024
Id = Annotated[str, Field(min_length=1, max_length=40)]
ToneName = Literal["casual", "friendly", "professional"]


async def get_state(request: Request) -> CopilotState:
    """The process's copilot state, made on first use."""
    state: CopilotState | None = getattr(request.app.state, "copilot", None)
    if state is None:
        state = CopilotState()
        request.app.state.copilot = state
        state.warm()
    return state


StateDep = Annotated[CopilotState, Depends(get_state)]


def _check_name(value: str) -> str:
    return rules.normalise_name(value)


# `/Welcome` or `Welcome`: stored without the slash.
ShortcutName = Annotated[str, Field(pattern=r"^/?[A-Za-z0-9_-]{1,40}$", examples=["/Welcome"])]
ShortcutText = Annotated[str, Field(min_length=1, max_length=rules.TEXT_MAX, pattern=NONBLANK)]


class ShortcutIn(Body):
    name: ShortcutName
    text: ShortcutText
    scope: Literal["mine", "org"] = "mine"

    _name = field_validator("name")(_check_name)


class ShortcutPatch(Patch):
    name: ShortcutName = keep()
    text: ShortcutText = keep()

    _name = field_validator("name")(_check_name)


class ExpandIn(Body):
    conversation_id: Id | None = None


class PageIn(Body):
    title: Annotated[str, Field(min_length=1, max_length=200, pattern=NONBLANK)]
    body: Annotated[str, Field(min_length=1, max_length=knowledge.PAGE_CHARS, pattern=NONBLANK)]
    format: Literal["markdown", "text"] = "markdown"


class CopilotIn(Body):
    """Suggest: `text` is the question to answer (omitted or null: the visitor's last
    message); `tone` omitted or null: the conversation's."""

    conversation_id: Id
    text: Annotated[str, Field(max_length=rules.TEXT_MAX)] | None = None
    tone: ToneName | None = None


class DraftIn(CopilotIn):
    """Expand and Tune: `text` is the rep's draft or notes."""

    text: Annotated[str, Field(min_length=1, max_length=rules.TEXT_MAX, pattern=NONBLANK)]


class ToneIn(Body):
    tone: ToneName


class AISettingsIn(Body):
    """`api_key` omitted keeps the stored key; null or "" clears it."""

    provider: Literal["default", "offline", "openai_compatible"] = "default"
    base_url: (
        Annotated[
            str,
            Field(
                max_length=BASE_URL_CHARS,
                pattern=BASE_URL_PATTERN,
                examples=["https://api.openai.com/v1", "http://127.0.0.1:8080/v1"],
            ),
            AfterValidator(check_base_url),
        ]
        | None
    ) = None
    model: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    api_key: Annotated[str, Field(max_length=500)] | None = None
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] | None = None
    max_tokens: Annotated[int, Field(ge=16, le=4000), WHOLE] | None = None


# -- shortcuts -----------------------------------------------------------------------------


def _shortcut(sc: Shortcut, actor: Actor) -> out.Shortcut:
    return out.Shortcut.model_validate(shortcuts.shortcut_json(sc, actor))


@router.get("/shortcuts", tags=["shortcuts"], responses=errors(422))
async def list_shortcuts(
    actor: ActorDep,
    rt: RuntimeDep,
    scope: Literal["mine", "org"] | None = None,
    q: Annotated[str, Query(max_length=60)] = "",
) -> out.ShortcutList:
    found = await shortcuts.list_shortcuts(rt, actor=actor, scope=scope, query=q)
    return out.ShortcutList(items=[_shortcut(s, actor) for s in found])


@router.get("/shortcuts/menu", tags=["shortcuts"], responses=errors(422))
async def shortcut_menu(
    actor: ActorDep, rt: RuntimeDep, q: Annotated[str, Query(max_length=60)] = ""
) -> out.Menu:
    """The `/` menu for what the rep typed: copilot commands and shortcuts, ranked."""
    items: list[out.MenuCommand | out.MenuShortcut] = []
    for item in await shortcuts.menu(rt, actor=actor, query=q):
        if isinstance(item, rules.Command):
            items.append(
                out.MenuCommand.model_validate(
                    {
                        "kind": "command",
                        "name": item.name,
                        "label": item.label,
                        "description": item.description,
                    }
                )
            )
        else:
            shortcut = shortcuts.shortcut_json(item, actor)
            items.append(out.MenuShortcut.model_validate({"kind": "shortcut", **shortcut}))
    return out.Menu(items=items)


@router.post("/shortcuts", tags=["shortcuts"], status_code=201, responses=WRITE | errors(409))
async def create_shortcut(
    body: ShortcutIn, actor: ActorDep, rt: RuntimeDep, state: StateDep
) -> out.Shortcut:
    sc = await shortcuts.create_shortcut(
        rt, state.knowledge, actor=actor, scope=body.scope, name=body.name, text=body.text
    )
    return _shortcut(sc, actor)


@router.patch("/shortcuts/{shortcut_id}", tags=["shortcuts"], responses=WRITE | errors(404, 409))
async def patch_shortcut(
    shortcut_id: str, body: ShortcutPatch, actor: ActorDep, rt: RuntimeDep, state: StateDep
) -> out.Shortcut:
    sc = await shortcuts.update_shortcut(
        rt, state.knowledge, actor=actor, shortcut_id=shortcut_id, values=body.changes()
    )
    return _shortcut(sc, actor)


@router.delete(
    "/shortcuts/{shortcut_id}", tags=["shortcuts"], status_code=204, responses=errors(403, 404)
)
async def delete_shortcut(
    shortcut_id: str, actor: ActorDep, rt: RuntimeDep, state: StateDep
) -> None:
    await shortcuts.delete_shortcut(rt, state.knowledge, actor=actor, shortcut_id=shortcut_id)


@router.post("/shortcuts/{shortcut_id}/expand", tags=["shortcuts"], responses=WRITE | errors(404))
async def expand_shortcut(
    shortcut_id: str, actor: ActorDep, rt: RuntimeDep, body: ExpandIn | None = None
) -> out.Expanded:
    """The text to insert in the composer, placeholders filled for the conversation."""
    expanded = await shortcuts.expand_shortcut(
        rt,
        actor=actor,
        shortcut_id=shortcut_id,
        conversation_id=body.conversation_id if body else None,
    )
    return out.Expanded.model_validate(expanded)


# -- knowledge -------------------------------------------------------------------------------


@router.get("/knowledge", tags=["knowledge"])
async def list_pages(actor: ActorDep, rt: RuntimeDep) -> out.KnowledgeList:
    pages = await knowledge.list_pages(rt, actor=actor)
    return out.KnowledgeList.model_validate({"items": [knowledge.page_json(p) for p in pages]})


@router.get("/knowledge/{page_id}", tags=["knowledge"], responses=errors(404))
async def get_page(page_id: str, actor: ActorDep, rt: RuntimeDep) -> out.KnowledgePageFull:
    page = await knowledge.get_page(rt, actor=actor, page_id=page_id)
    return out.KnowledgePageFull.model_validate(knowledge.page_json(page, body=True))


_PAGE_BODY_DOC: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": PageIn.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "UTF-8 .md, .markdown or .txt, at most 512 KiB",
                        },
                        "title": {"type": "string", "maxLength": 200},
                    },
                    "additionalProperties": False,
                }
            },
        },
    }
}


async def _page_from_upload(request: Request) -> PageIn:
    form = await request.form(max_files=1, max_fields=4, max_part_size=UPLOAD_BYTES)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise HTTPException(422, "Send the page as a `file` field (.md, .markdown or .txt).")
    raw = await upload.read(UPLOAD_BYTES + 1)
    if len(raw) > UPLOAD_BYTES:
        raise HTTPException(413, f"A knowledge file is at most {UPLOAD_BYTES // 1024} KiB.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise HTTPException(422, "The file is not UTF-8 text.") from None
    name = PurePath(upload.filename or "page.md")
    suffix = name.suffix.lower()
    if suffix in {".md", ".markdown"}:
        fmt = "markdown"
    elif suffix in {".txt", ".text"} or (upload.content_type or "").startswith("text/plain"):
        fmt = "text"
    else:
        raise HTTPException(422, "Upload a .md, .markdown or .txt file.")
    title = form.get("title")
    return PageIn.model_validate(
        {
            "title": title if isinstance(title, str) and title else name.stem,
            "body": text,
            "format": fmt,
        }
    )


async def _page_from_json(request: Request) -> PageIn:
    raw = await request.body()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPException(400, "The body is not UTF-8; JSON must be.") from None
    return PageIn.model_validate_json(raw)


@router.post(
    "/knowledge",
    tags=["knowledge"],
    status_code=201,
    openapi_extra=_PAGE_BODY_DOC,
    responses=WRITE | errors(413, 415),
)
async def create_page(
    request: Request, actor: AdminDep, rt: RuntimeDep, state: StateDep
) -> out.KnowledgePage:
    """Add a page or FAQ: JSON `{title, body, format}` or a multipart `file` upload."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if media_type == "multipart/form-data":
            page_in = await _page_from_upload(request)
        elif media_type == "application/json":
            page_in = await _page_from_json(request)
        else:
            raise HTTPException(415, "Send JSON (application/json) or a multipart file upload.")
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None
    page = await knowledge.add_page(
        rt,
        state.knowledge,
        actor=actor,
        title=page_in.title,
        body=page_in.body,
        format=page_in.format,
    )
    return out.KnowledgePage.model_validate(knowledge.page_json(page))


@router.delete(
    "/knowledge/{page_id}", tags=["knowledge"], status_code=204, responses=errors(403, 404)
)
async def delete_page(page_id: str, actor: AdminDep, rt: RuntimeDep, state: StateDep) -> None:
    await knowledge.delete_page(rt, state.knowledge, actor=actor, page_id=page_id)


# -- copilot ----------------------------------------------------------------------------------


def _sse(event: str, data: BaseModel) -> str:
    payload = json.dumps(data.model_dump(exclude_unset=True), ensure_ascii=False)
    return f"event: {event}\ndata: {payload}\n\n"


def _result(data: dict[str, Any]) -> out.CopilotResult:
    return out.CopilotResult.model_validate(data)


def _body_model(op: Operation) -> type[CopilotIn]:
    return CopilotIn if op == "suggest" else DraftIn


def _run_endpoint(op: Operation) -> Callable[..., Awaitable[out.CopilotResult]]:
    async def endpoint(
        body: CopilotIn, actor: ActorDep, rt: RuntimeDep, state: StateDep
    ) -> out.CopilotResult:
        prepared = await copilot.prepare(
            rt,
            state,
            actor=actor,
            op=op,
            conversation_id=body.conversation_id,
            text=body.text,
            tone=body.tone,
        )
        result = await copilot.perform(prepared, op)
        return _result(copilot.result_json(result, op=op, tone=prepared.request.tone))

    endpoint.__doc__ = f"AI {op.capitalize()}: text for the composer (never sent)."
    endpoint.__annotations__["body"] = _body_model(op)  # the body FastAPI validates
    return endpoint


def _stream_endpoint(op: Operation) -> Callable[..., Awaitable[StreamingResponse]]:
    async def endpoint(
        body: CopilotIn, actor: ActorDep, rt: RuntimeDep, state: StateDep
    ) -> StreamingResponse:
        prepared = await copilot.prepare(
            rt,
            state,
            actor=actor,
            op=op,
            conversation_id=body.conversation_id,
            text=body.text,
            tone=body.tone,
        )

        async def events() -> AsyncIterator[str]:
            try:
                async for event in copilot.stream(prepared, op):
                    if isinstance(event, Chunk):
                        yield _sse("chunk", out.StreamChunk(text=event.text))
                    elif isinstance(event, Reset):
                        yield _sse("reset", out.StreamReset(reason=event.reason))
                    else:
                        data = copilot.result_json(event.result, op=op, tone=prepared.request.tone)
                        yield _sse("done", _result(data))
            except Exception:
                log.exception("copilot %s stream failed", op)
                failed = out.StreamError(detail="The copilot failed; try again.", code="error")
                yield _sse("error", failed)

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    endpoint.__doc__ = (
        f"AI {op.capitalize()}, streamed as server-sent events: `chunk` events (`{{text}}`), "
        "maybe `reset` (`{reason}`: start the text again), then `done` with the whole "
        "result (as the unstreamed route answers) or `error` (`{detail, code}`)."
    )
    endpoint.__annotations__["body"] = _body_model(op)  # the body FastAPI validates
    return endpoint


_COPILOT_ERRORS = WRITE | errors(404, 429)


def _event(name: str, data: dict[str, Any]) -> dict[str, Any]:
    """One kind of server-sent event: its name, and its `data` (JSON of `data`'s schema)."""
    return {
        "type": "object",
        "required": ["event", "data"],
        "properties": {
            "event": {"const": name},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": data,
            },
        },
    }


_STREAM_DOC: Final[dict[int | str, dict[str, Any]]] = {
    200: {
        "description": "Server-sent events, each one of these.",
        "content": {
            "text/event-stream": {
                "schema": {
                    "oneOf": [
                        _event("chunk", out.StreamChunk.model_json_schema()),
                        _event("reset", out.StreamReset.model_json_schema()),
                        _event("done", {"$ref": "#/components/schemas/CopilotResult"}),
                        _event("error", out.StreamError.model_json_schema()),
                    ]
                }
            }
        },
    }
}

for _op in OPERATIONS:
    router.add_api_route(
        f"/copilot/{_op}",
        _run_endpoint(_op),
        methods=["POST"],
        tags=["copilot"],
        name=f"copilot_{_op}",
        responses=_COPILOT_ERRORS,
        response_model_exclude_unset=True,
    )
    router.add_api_route(
        f"/copilot/{_op}/stream",
        _stream_endpoint(_op),
        methods=["POST"],
        tags=["copilot"],
        name=f"copilot_{_op}_stream",
        response_class=StreamingResponse,
        response_model=None,
        responses=_STREAM_DOC | _COPILOT_ERRORS,
    )


@router.get("/conversations/{conversation_id}/tone", tags=["copilot"], responses=errors(404))
async def get_tone(conversation_id: str, actor: ActorDep, rt: RuntimeDep) -> out.ToneOut:
    tone = await copilot.get_tone(rt, actor=actor, conversation_id=conversation_id)
    return out.ToneOut.model_validate(tone)


@router.put(
    "/conversations/{conversation_id}/tone", tags=["copilot"], responses=WRITE | errors(404)
)
async def put_tone(
    conversation_id: str, body: ToneIn, actor: ActorDep, rt: RuntimeDep
) -> out.ToneOut:
    tone = await copilot.set_tone(rt, actor=actor, conversation_id=conversation_id, tone=body.tone)
    return out.ToneOut.model_validate(tone)


@router.get("/ai-settings", tags=["copilot"], responses=errors(403))
async def get_ai_settings(actor: AdminDep, rt: RuntimeDep) -> out.AISettings:
    return out.AISettings.model_validate(await copilot.get_ai_settings(rt, actor=actor))


@router.put("/ai-settings", tags=["copilot"], responses=WRITE)
async def put_ai_settings(body: AISettingsIn, actor: AdminDep, rt: RuntimeDep) -> out.AISettings:
    """Replace the org's AI provider settings."""
    sent = body.model_fields_set
    values = body.model_dump(exclude={"api_key"})
    saved = await copilot.put_ai_settings(
        rt,
        actor=actor,
        values=values,
        api_key=body.api_key,
        keep_key="api_key" not in sent,
    )
    return out.AISettings.model_validate(saved)
