"""AI copilot use cases: pick the provider per request, gather the conversation's context
and knowledge, run suggest / expand / tune whole or streamed; per-conversation tone; the
org's AI settings. Nothing here sends anything to the visitor, and prompts and outputs
are never logged."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Final, Literal, cast

import httpx

from pounce.config import Settings
from pounce.domain.model import Actor
from pounce.domain.shortcuts import fill_placeholders
from pounce.integrations.ai.base import (
    DEFAULT_MAX_TOKENS,
    OFFLINE,
    TONES,
    Copilot,
    CopilotRequest,
    CopilotResult,
    Operation,
    Passage,
    ProviderConfig,
    StreamEvent,
    Tone,
    Turn,
    run,
)
from pounce.integrations.ai.offline import OfflineCopilot
from pounce.integrations.ai.openai_compat import OpenAICompatibleCopilot
from pounce.services.admin import require_admin
from pounce.services.auth import RateLimiter
from pounce.services.errors import ServiceError
from pounce.services.formatting import render_markdown
from pounce.services.knowledge import KnowledgeIndex
from pounce.services.runtime import Runtime
from pounce.services.shortcuts import Context, context_for
from pounce.store import chat
from pounce.store import copilot as store

log = logging.getLogger(__name__)

DEFAULT_TONE: Final[Tone] = "friendly"
RATE_LIMIT: Final = 20  # requests per rep …
RATE_WINDOW_SECONDS: Final = 60.0  # … in this window
HISTORY_TURNS: Final = 12
ProviderMode = Literal["default", "offline", "openai_compatible"]


@dataclass
class CopilotState:
    """What copilot requests share in one process: the offline copilot (and its Harper
    dictionary), the knowledge indexes and the per-rep rate limiter."""

    offline: OfflineCopilot = field(default_factory=OfflineCopilot)
    knowledge: KnowledgeIndex = field(default_factory=KnowledgeIndex)
    limiter: RateLimiter = field(
        default_factory=lambda: RateLimiter(limit=RATE_LIMIT, window_seconds=RATE_WINDOW_SECONDS)
    )
    transport: httpx.AsyncBaseTransport | None = None  # tests may route providers in memory
    _warming: asyncio.Task[None] | None = None

    def warm(self) -> None:
        """Load Harper's dictionary in the background so the first Tune is quick."""
        if self._warming is None:
            self._warming = asyncio.get_running_loop().create_task(
                asyncio.to_thread(self.offline.proofreader.warm)
            )


# -- provider ------------------------------------------------------------------------------


def provider_config(settings: Settings, org_ai: dict[str, Any]) -> ProviderConfig | None:
    """The provider to use for an org: its own, the server's (POUNCE_AI_*), or None
    (offline) when neither is set or the org chose offline."""
    mode = org_ai.get("provider", "default")
    if mode == "offline":
        return None
    if mode == "openai_compatible" and org_ai.get("base_url"):
        return ProviderConfig(
            base_url=str(org_ai["base_url"]),
            model=str(org_ai.get("model") or ""),
            api_key=org_ai.get("api_key") or None,
            timeout_seconds=float(org_ai.get("timeout_seconds") or settings.ai_timeout_seconds),
            max_tokens=int(org_ai.get("max_tokens") or DEFAULT_MAX_TOKENS),
        )
    if settings.ai_base_url:
        key = settings.ai_api_key.get_secret_value() if settings.ai_api_key else None
        return ProviderConfig(
            base_url=settings.ai_base_url,
            model=settings.ai_model or "",
            api_key=key,
            timeout_seconds=settings.ai_timeout_seconds,
        )
    return None


def copilot_for(config: ProviderConfig | None, state: CopilotState) -> Copilot:
    if config is None:
        return state.offline
    return OpenAICompatibleCopilot(config, fallback=state.offline, transport=state.transport)


# -- AI settings (admins) --------------------------------------------------------------------


def ai_settings_json(settings: Settings, org_ai: dict[str, Any]) -> dict[str, Any]:
    """The org's AI settings as an admin sees them: the API key is never returned."""
    config = provider_config(settings, org_ai)
    mode = org_ai.get("provider", "default")
    if config is None:
        configured_by = "none"
    elif mode == "openai_compatible":
        configured_by = "org"
    else:
        configured_by = "server"
    return {
        "provider": mode,
        "base_url": org_ai.get("base_url"),
        "model": org_ai.get("model"),
        "timeout_seconds": org_ai.get("timeout_seconds"),
        "max_tokens": org_ai.get("max_tokens"),
        "api_key_set": bool(org_ai.get("api_key")),
        "effective": {
            "source": OFFLINE if config is None else (config.model or config.base_url),
            "configured_by": configured_by,
            "server_provider_set": bool(settings.ai_base_url),
        },
    }


async def get_ai_settings(rt: Runtime, *, actor: Actor) -> dict[str, Any]:
    require_admin(actor)
    async with rt.db.read() as conn:
        org_ai = await store.get_ai_settings(conn, org_id=actor.org_id)
    return ai_settings_json(rt.settings, org_ai)


async def put_ai_settings(
    rt: Runtime, *, actor: Actor, values: dict[str, Any], api_key: str | None, keep_key: bool
) -> dict[str, Any]:
    """Replace the org's AI settings; the API key is kept when `keep_key`, else set to
    `api_key` (None or "" clears it)."""
    require_admin(actor)
    if values.get("provider") == "openai_compatible" and not values.get("base_url"):
        raise ServiceError("invalid", "An OpenAI-compatible provider needs a base_url.")
    async with rt.db.write() as conn:
        current = await store.get_ai_settings(conn, org_id=actor.org_id)
        ai = {k: v for k, v in values.items() if v is not None}
        key = current.get("api_key") if keep_key else api_key
        if key:
            ai["api_key"] = key
        await store.put_ai_settings(conn, org_id=actor.org_id, ai=ai)
    return ai_settings_json(rt.settings, ai)


# -- tone ------------------------------------------------------------------------------------


async def _check_conversation(rt: Runtime, actor: Actor, conversation_id: str) -> None:
    async with rt.db.read() as conn:
        conv = await chat.get_conversation(
            conn, org_id=actor.org_id, conversation_id=conversation_id
        )
    if conv is None:
        raise ServiceError("not_found", "No such conversation.")


async def get_tone(rt: Runtime, *, actor: Actor, conversation_id: str) -> dict[str, Any]:
    await _check_conversation(rt, actor, conversation_id)
    async with rt.db.read() as conn:
        tone = await store.get_tone(conn, org_id=actor.org_id, conversation_id=conversation_id)
    return {"conversation_id": conversation_id, "tone": tone or DEFAULT_TONE, "set": bool(tone)}


async def set_tone(
    rt: Runtime, *, actor: Actor, conversation_id: str, tone: Tone
) -> dict[str, Any]:
    await _check_conversation(rt, actor, conversation_id)
    async with rt.db.write() as conn:
        await store.set_tone(
            conn,
            org_id=actor.org_id,
            conversation_id=conversation_id,
            tone=tone,
            user_id=actor.user_id,
        )
    return {"conversation_id": conversation_id, "tone": tone, "set": True}


# -- operations ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Prepared:
    copilot: Copilot
    request: CopilotRequest


def _check_rate(state: CopilotState, actor: Actor) -> None:
    key = f"{actor.org_id}:{actor.user_id}"
    if state.limiter.blocked(key):
        raise ServiceError(
            "rate_limited",
            f"At most {RATE_LIMIT} copilot requests a minute; try again shortly.",
            retry_after_seconds=int(RATE_WINDOW_SECONDS),
        )
    state.limiter.hit(key)


def _fill_shortcuts(passages: list[Passage], ctx: Context) -> tuple[Passage, ...]:
    """Shortcut answers with their placeholders filled for this conversation."""
    values = ctx.values
    return tuple(
        Passage(p.kind, p.id, p.title, fill_placeholders(p.text, values).text, p.score)
        if p.kind == "shortcut"
        else p
        for p in passages
    )


async def prepare(
    rt: Runtime,
    state: CopilotState,
    *,
    actor: Actor,
    op: Operation,
    conversation_id: str,
    text: str | None,
    tone: Tone | None,
) -> Prepared:
    """Check the rate limit and the conversation, and gather what the operation needs."""
    _check_rate(state, actor)
    ctx = await context_for(rt, actor=actor, conversation_id=conversation_id)
    async with rt.db.read() as conn:
        turns = await store.conversation_turns(
            conn, org_id=actor.org_id, conversation_id=conversation_id, limit=HISTORY_TURNS
        )
        stored_tone = await store.get_tone(
            conn, org_id=actor.org_id, conversation_id=conversation_id
        )
        org_ai = await store.get_ai_settings(conn, org_id=actor.org_id)
    history = tuple(
        Turn(author=cast(Literal["visitor", "rep"], kind), text=body) for kind, body in turns
    )
    resolved_tone: Tone = tone or cast(Tone | None, stored_tone) or DEFAULT_TONE
    if resolved_tone not in TONES:
        resolved_tone = DEFAULT_TONE
    passages: tuple[Passage, ...] = ()
    if op == "suggest":
        question = (text or "").strip() or next(
            (t.text for t in reversed(history) if t.author == "visitor"), ""
        )
        if not question:
            raise ServiceError(
                "invalid", "The visitor has not asked anything yet; type the question to answer."
            )
        found = await state.knowledge.search(
            rt, org_id=actor.org_id, query=question, k=3, exclude_conversation=conversation_id
        )
        passages = _fill_shortcuts(found, ctx)
        text = question
    elif not (text or "").strip():
        raise ServiceError("invalid", f"{op.capitalize()} needs the text of your draft or notes.")
    request = CopilotRequest(
        text=(text or "").strip(),
        tone=resolved_tone,
        passages=passages,
        history=history,
        rep_name=ctx.rep_name,
        visitor_name=ctx.visitor_name,
        company_name=ctx.company_name,
    )
    copilot = copilot_for(provider_config(rt.settings, org_ai), state)
    return Prepared(copilot, request)


async def perform(prepared: Prepared, op: Operation) -> CopilotResult:
    started = time.perf_counter()
    result = await run(prepared.copilot, op, prepared.request)
    log.info(
        "copilot %s: source=%s fallback=%s %.0f ms",
        op,
        result.source,
        bool(result.fallback),
        (time.perf_counter() - started) * 1000,
    )
    return result


def stream(prepared: Prepared, op: Operation) -> AsyncIterator[StreamEvent]:
    return prepared.copilot.stream(op, prepared.request)


def passage_json(p: Passage) -> dict[str, Any]:
    return {
        "kind": p.kind,
        "id": p.id,
        "title": p.title,
        "text": p.text,
        "html": render_markdown(p.text),
        "score": round(p.score, 3),
    }


def result_json(result: CopilotResult, *, op: Operation, tone: Tone) -> dict[str, Any]:
    data: dict[str, Any] = {
        "op": op,
        "text": result.text,
        "html": render_markdown(result.text) if result.text else "",
        "source": result.source,
        "tone": tone,
        "fallback": result.fallback,
        "note": result.note,
    }
    if op == "suggest":
        data["sources"] = [passage_json(p) for p in result.sources]
    return data
