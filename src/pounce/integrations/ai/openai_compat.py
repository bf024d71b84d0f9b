"""A copilot backed by any OpenAI-compatible `/chat/completions` endpoint (OpenAI, vLLM,
Ollama, llama.cpp server). On error or timeout it answers with the fallback copilot
and says why. Prompts and completions are never logged."""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from pounce.integrations.ai.base import (
    Chunk,
    Copilot,
    CopilotRequest,
    CopilotResult,
    Done,
    Operation,
    ProviderConfig,
    Reset,
    StreamEvent,
    check_base_url,
    run,
)
from pounce.integrations.ai.prompts import clean_completion, messages

log = logging.getLogger(__name__)

RETRY_STATUS: Final = frozenset({408, 429, 500, 502, 503, 504})
ATTEMPTS: Final = 3
BACKOFF_SECONDS: Final = 0.5
CONNECT_SECONDS: Final = 5.0


class ProviderError(Exception):
    """The provider could not give a completion; the message is safe to show a rep."""


def retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date)."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def parse_sse_line(line: str) -> str | None:
    """The text delta carried by one `data:` line of a streamed completion; None for
    comments, other fields, keep-alives and `[DONE]`."""
    if not line.startswith("data:"):
        return None
    data = line[5:].strip()
    if not data or data == "[DONE]":
        return None
    try:
        payload = json.loads(data)
    except json.JSONDecodeError as exc:
        raise ProviderError("the provider sent a malformed stream event") from exc
    if isinstance(payload, dict) and "error" in payload:
        raise ProviderError("the provider reported an error mid-stream")
    choices = payload.get("choices") if isinstance(payload, dict) else None
    if not choices:
        return None
    delta = choices[0].get("delta") or {}
    content = delta.get("content")
    return content if isinstance(content, str) and content else None


class OpenAICompatibleCopilot:
    """Chat completions over httpx with timeouts, retries (429/5xx, honouring
    `Retry-After`) and streaming; falls back to `fallback` when the provider fails."""

    def __init__(
        self,
        config: ProviderConfig,
        *,
        fallback: Copilot,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.config = config
        self.fallback = fallback
        self._transport = transport
        self._sleep = sleep
        # A URL stored before it was validated, or set in the environment: refused here
        # (the fallback answers, with a warning) rather than failing inside httpx.
        try:
            check_base_url(config.base_url)
            self._bad_url: str | None = None
        except ValueError as exc:
            self._bad_url = str(exc)

    @property
    def name(self) -> str:
        if self.config.model:
            return self.config.model
        host = None if self._bad_url else urlsplit(self.config.base_url).netloc
        return host or "openai-compatible"

    async def suggest(self, request: CopilotRequest) -> CopilotResult:
        return await self._complete("suggest", request)

    async def expand(self, request: CopilotRequest) -> CopilotResult:
        return await self._complete("expand", request)

    async def tune(self, request: CopilotRequest) -> CopilotResult:
        return await self._complete("tune", request)

    # -- plumbing ---------------------------------------------------------------------

    def _client(self, timeout: float) -> httpx.AsyncClient:
        if self._bad_url is not None:
            raise ProviderError(f"the provider's base_url is not usable: {self._bad_url}")
        headers = {"Accept": "application/json"}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        return httpx.AsyncClient(
            base_url=self.config.base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(CONNECT_SECONDS, timeout)),
            transport=self._transport,
            follow_redirects=False,
        )

    def _body(self, op: Operation, request: CopilotRequest, *, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "messages": messages(op, request),
            "max_tokens": self.config.max_tokens,
            "temperature": 0.3,
            "stream": stream,
        }
        if self.config.model:
            body["model"] = self.config.model
        return body

    def _sources(self, op: Operation, request: CopilotRequest) -> tuple[Any, ...]:
        return tuple(request.passages[:3]) if op == "suggest" else ()

    async def _fallback(self, op: Operation, request: CopilotRequest, reason: str) -> CopilotResult:
        result = await run(self.fallback, op, request)
        return CopilotResult(
            text=result.text,
            source=result.source,
            sources=result.sources,
            fallback=reason,
            note=result.note,
        )

    async def _wait_before_retry(self, attempt: int, hint: float | None, deadline: float) -> bool:
        """Sleep before the next attempt; False when that would pass the deadline."""
        delay = hint if hint is not None else BACKOFF_SECONDS * 2**attempt
        if time.monotonic() + delay >= deadline:
            return False
        await self._sleep(delay)
        return True

    async def _complete(self, op: Operation, request: CopilotRequest) -> CopilotResult:
        started = time.monotonic()
        deadline = started + self.config.timeout_seconds
        try:
            async with asyncio.timeout(self.config.timeout_seconds):
                text = await self._post(op, request, deadline)
        except (TimeoutError, httpx.TimeoutException):
            reason = f"{self.name} did not answer within {self.config.timeout_seconds:g} s"
        except (ProviderError, httpx.HTTPError) as exc:
            reason = _reason(self.name, exc)
        else:
            log.info("copilot %s via %s in %.0f ms", op, self.name, _ms(started))
            return CopilotResult(text=text, source=self.name, sources=self._sources(op, request))
        log.warning(
            "copilot %s via %s failed after %.0f ms: %s", op, self.name, _ms(started), reason
        )
        return await self._fallback(op, request, reason)

    async def _post(self, op: Operation, request: CopilotRequest, deadline: float) -> str:
        body = self._body(op, request, stream=False)
        async with self._client(self.config.timeout_seconds) as client:
            for attempt in range(ATTEMPTS):
                try:
                    response = await client.post("/chat/completions", json=body)
                except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError) as exc:
                    if attempt + 1 < ATTEMPTS and await self._wait_before_retry(
                        attempt, None, deadline
                    ):
                        continue
                    raise ProviderError(f"could not reach {self.name}") from exc
                if response.status_code in RETRY_STATUS and attempt + 1 < ATTEMPTS:
                    if await self._wait_before_retry(attempt, retry_after(response), deadline):
                        continue
                if response.status_code != 200:
                    raise ProviderError(f"{self.name} answered HTTP {response.status_code}")
                return _completion_text(response)
        raise ProviderError(f"{self.name} gave no completion")  # pragma: no cover

    async def stream(self, op: Operation, request: CopilotRequest) -> AsyncIterator[StreamEvent]:
        """Chunks as the model writes them. A failure before the first chunk falls back
        quietly; after it, a `Reset` voids the chunks and the fallback's text follows."""
        started = time.monotonic()
        deadline = started + self.config.timeout_seconds
        parts: list[str] = []
        reason: str | None = None
        try:
            async with aclosing(self._stream_text(op, request, deadline)) as pieces:
                async for piece in pieces:
                    parts.append(piece)
                    yield Chunk(piece)
        except (TimeoutError, httpx.TimeoutException):
            reason = f"{self.name} did not answer within {self.config.timeout_seconds:g} s"
        except (ProviderError, httpx.HTTPError) as exc:
            reason = _reason(self.name, exc)
        text = clean_completion("".join(parts))
        if reason is None and not text:
            reason = f"{self.name} returned an empty completion"
        if reason is None:
            log.info("copilot %s stream via %s in %.0f ms", op, self.name, _ms(started))
            yield Done(
                CopilotResult(text=text, source=self.name, sources=self._sources(op, request))
            )
            return
        log.warning("copilot %s stream via %s failed: %s", op, self.name, reason)
        if parts:
            yield Reset(reason)
        result = await self._fallback(op, request, reason)
        if result.text:
            yield Chunk(result.text)
        yield Done(result)

    async def _stream_text(
        self, op: Operation, request: CopilotRequest, deadline: float
    ) -> AsyncGenerator[str, None]:
        body = self._body(op, request, stream=True)
        async with self._client(self.config.timeout_seconds) as client:
            for attempt in range(ATTEMPTS):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                try:
                    async with asyncio.timeout(remaining):
                        response = await client.send(
                            client.build_request("POST", "/chat/completions", json=body),
                            stream=True,
                        )
                except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError) as exc:
                    if attempt + 1 < ATTEMPTS and await self._wait_before_retry(
                        attempt, None, deadline
                    ):
                        continue
                    raise ProviderError(f"could not reach {self.name}") from exc
                try:
                    if response.status_code in RETRY_STATUS and attempt + 1 < ATTEMPTS:
                        if await self._wait_before_retry(attempt, retry_after(response), deadline):
                            continue
                    if response.status_code != 200:
                        raise ProviderError(f"{self.name} answered HTTP {response.status_code}")
                    # httpx's read timeout bounds each wait for a line; the deadline
                    # bounds a provider that trickles a byte at a time.
                    async for line in response.aiter_lines():
                        if time.monotonic() > deadline:
                            raise TimeoutError
                        piece = parse_sse_line(line)
                        if piece:
                            yield piece
                    return
                finally:
                    await response.aclose()


def _completion_text(response: httpx.Response) -> str:
    try:
        payload = response.json()
        content = payload["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ProviderError("the provider's answer was not a chat completion") from exc
    text = clean_completion(content) if isinstance(content, str) else ""
    if not text:
        raise ProviderError("the provider returned an empty completion")
    return text


def _reason(name: str, exc: BaseException) -> str:
    if isinstance(exc, ProviderError):
        return str(exc)
    return f"could not reach {name} ({type(exc).__name__})"


def _ms(started: float) -> float:
    return (time.monotonic() - started) * 1000
