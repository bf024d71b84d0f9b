"""REST for shortcuts, knowledge pages, the AI copilot (whole and streamed), conversation
tones and the org's AI settings. Nothing here sends anything to a visitor."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import PurePath
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.datastructures import UploadFile

from pounce.api.deps import ActorDep, AdminDep, RuntimeDep
from pounce.domain import shortcuts as rules
from pounce.integrations.ai.base import OPERATIONS, Chunk, Operation, Reset
from pounce.services import copilot, knowledge, shortcuts
from pounce.services.copilot import CopilotState

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1")

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


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_name(value: str) -> str:
    return rules.normalise_name(value)


def _check_text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


ShortcutText = Annotated[str, Field(min_length=1, max_length=rules.TEXT_MAX)]


class ShortcutIn(Body):
    name: Annotated[str, Field(max_length=60, examples=["/Welcome"])]
    text: ShortcutText
    scope: Literal["mine", "org"] = "mine"

    _name = field_validator("name")(_check_name)
    _text = field_validator("text")(_check_text)


class ShortcutPatch(Body):
    name: Annotated[str, Field(max_length=60)] | None = None
    text: ShortcutText | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else rules.normalise_name(value)

    @field_validator("text")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        return None if value is None else _check_text(value)


class ExpandIn(Body):
    conversation_id: Id | None = None


class PageIn(Body):
    title: Annotated[str, Field(min_length=1, max_length=200)]
    body: Annotated[str, Field(min_length=1, max_length=knowledge.PAGE_CHARS)]
    format: Literal["markdown", "text"] = "markdown"


class CopilotIn(Body):
    conversation_id: Id
    text: Annotated[str, Field(max_length=rules.TEXT_MAX)] | None = None
    tone: ToneName | None = None


class ToneIn(Body):
    tone: ToneName


class AISettingsIn(Body):
    """`api_key` omitted keeps the stored key; null or "" clears it."""

    provider: Literal["default", "offline", "openai_compatible"] = "default"
    base_url: Annotated[str, Field(max_length=500, pattern=r"^https?://[^\s]+$")] | None = None
    model: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    api_key: Annotated[str, Field(max_length=500)] | None = None
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] | None = None
    max_tokens: Annotated[int, Field(ge=16, le=4000)] | None = None


# -- shortcuts -----------------------------------------------------------------------------


@router.get("/shortcuts", tags=["shortcuts"])
async def list_shortcuts(
    actor: ActorDep,
    rt: RuntimeDep,
    scope: Literal["mine", "org"] | None = None,
    q: Annotated[str, Query(max_length=60)] = "",
) -> Any:
    found = await shortcuts.list_shortcuts(rt, actor=actor, scope=scope, query=q)
    return {"items": [shortcuts.shortcut_json(s, actor) for s in found]}


@router.get("/shortcuts/menu", tags=["shortcuts"])
async def shortcut_menu(
    actor: ActorDep, rt: RuntimeDep, q: Annotated[str, Query(max_length=60)] = ""
) -> Any:
    """The `/` menu for what the rep typed: copilot commands and shortcuts, ranked."""
    items = []
    for item in await shortcuts.menu(rt, actor=actor, query=q):
        if isinstance(item, rules.Command):
            items.append(
                {
                    "kind": "command",
                    "name": item.name,
                    "label": item.label,
                    "description": item.description,
                }
            )
        else:
            items.append({"kind": "shortcut", **shortcuts.shortcut_json(item, actor)})
    return {"items": items}


@router.post("/shortcuts", tags=["shortcuts"], status_code=201)
async def create_shortcut(
    body: ShortcutIn, actor: ActorDep, rt: RuntimeDep, state: StateDep
) -> Any:
    sc = await shortcuts.create_shortcut(
        rt, state.knowledge, actor=actor, scope=body.scope, name=body.name, text=body.text
    )
    return shortcuts.shortcut_json(sc, actor)


@router.patch("/shortcuts/{shortcut_id}", tags=["shortcuts"])
async def patch_shortcut(
    shortcut_id: str, body: ShortcutPatch, actor: ActorDep, rt: RuntimeDep, state: StateDep
) -> Any:
    values = body.model_dump(exclude_none=True)
    if not values:
        raise HTTPException(422, "Nothing to change.")
    sc = await shortcuts.update_shortcut(
        rt, state.knowledge, actor=actor, shortcut_id=shortcut_id, values=values
    )
    return shortcuts.shortcut_json(sc, actor)


@router.delete("/shortcuts/{shortcut_id}", tags=["shortcuts"], status_code=204)
async def delete_shortcut(
    shortcut_id: str, actor: ActorDep, rt: RuntimeDep, state: StateDep
) -> None:
    await shortcuts.delete_shortcut(rt, state.knowledge, actor=actor, shortcut_id=shortcut_id)


@router.post("/shortcuts/{shortcut_id}/expand", tags=["shortcuts"])
async def expand_shortcut(
    shortcut_id: str, actor: ActorDep, rt: RuntimeDep, body: ExpandIn | None = None
) -> Any:
    """The text to insert in the composer, placeholders filled for the conversation."""
    return await shortcuts.expand_shortcut(
        rt,
        actor=actor,
        shortcut_id=shortcut_id,
        conversation_id=body.conversation_id if body else None,
    )


# -- knowledge -------------------------------------------------------------------------------


@router.get("/knowledge", tags=["knowledge"])
async def list_pages(actor: ActorDep, rt: RuntimeDep) -> Any:
    return {"items": [knowledge.page_json(p) for p in await knowledge.list_pages(rt, actor=actor)]}


@router.get("/knowledge/{page_id}", tags=["knowledge"])
async def get_page(page_id: str, actor: ActorDep, rt: RuntimeDep) -> Any:
    page = await knowledge.get_page(rt, actor=actor, page_id=page_id)
    return knowledge.page_json(page, body=True)


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


@router.post("/knowledge", tags=["knowledge"], status_code=201, openapi_extra=_PAGE_BODY_DOC)
async def create_page(request: Request, actor: AdminDep, rt: RuntimeDep, state: StateDep) -> Any:
    """Add a page or FAQ: JSON `{title, body, format}` or a multipart `file` upload."""
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith("multipart/form-data"):
            page_in = await _page_from_upload(request)
        else:
            page_in = PageIn.model_validate_json(await request.body())
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
    return knowledge.page_json(page)


@router.delete("/knowledge/{page_id}", tags=["knowledge"], status_code=204)
async def delete_page(page_id: str, actor: AdminDep, rt: RuntimeDep, state: StateDep) -> None:
    await knowledge.delete_page(rt, state.knowledge, actor=actor, page_id=page_id)


# -- copilot ----------------------------------------------------------------------------------


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _run_endpoint(op: Operation) -> Callable[..., Awaitable[Any]]:
    async def endpoint(body: CopilotIn, actor: ActorDep, rt: RuntimeDep, state: StateDep) -> Any:
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
        return copilot.result_json(result, op=op, tone=prepared.request.tone)

    endpoint.__doc__ = f"AI {op.capitalize()}: text for the composer (never sent)."
    return endpoint


def _stream_endpoint(op: Operation) -> Callable[..., Awaitable[Any]]:
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
                        yield _sse("chunk", {"text": event.text})
                    elif isinstance(event, Reset):
                        yield _sse("reset", {"reason": event.reason})
                    else:
                        data = copilot.result_json(event.result, op=op, tone=prepared.request.tone)
                        yield _sse("done", data)
            except Exception:
                log.exception("copilot %s stream failed", op)
                yield _sse("error", {"detail": "The copilot failed; try again.", "code": "error"})

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    endpoint.__doc__ = (
        f"AI {op.capitalize()}, streamed as server-sent events: `chunk` events, then `done`."
    )
    return endpoint


for _op in OPERATIONS:
    router.add_api_route(
        f"/copilot/{_op}",
        _run_endpoint(_op),
        methods=["POST"],
        tags=["copilot"],
        name=f"copilot_{_op}",
    )
    router.add_api_route(
        f"/copilot/{_op}/stream",
        _stream_endpoint(_op),
        methods=["POST"],
        tags=["copilot"],
        name=f"copilot_{_op}_stream",
        response_class=StreamingResponse,
    )


@router.get("/conversations/{conversation_id}/tone", tags=["copilot"])
async def get_tone(conversation_id: str, actor: ActorDep, rt: RuntimeDep) -> Any:
    return await copilot.get_tone(rt, actor=actor, conversation_id=conversation_id)


@router.put("/conversations/{conversation_id}/tone", tags=["copilot"])
async def put_tone(conversation_id: str, body: ToneIn, actor: ActorDep, rt: RuntimeDep) -> Any:
    return await copilot.set_tone(rt, actor=actor, conversation_id=conversation_id, tone=body.tone)


@router.get("/ai-settings", tags=["copilot"])
async def get_ai_settings(actor: AdminDep, rt: RuntimeDep) -> Any:
    return await copilot.get_ai_settings(rt, actor=actor)


@router.put("/ai-settings", tags=["copilot"])
async def put_ai_settings(body: AISettingsIn, actor: AdminDep, rt: RuntimeDep) -> Any:
    sent = body.model_fields_set
    values = body.model_dump(exclude={"api_key"})
    return await copilot.put_ai_settings(
        rt,
        actor=actor,
        values=values,
        api_key=body.api_key,
        keep_key="api_key" not in sent,
    )
