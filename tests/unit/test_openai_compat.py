"""The OpenAI-compatible copilot without a network: retries, Retry-After, SSE, fallback."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pounce.integrations.ai.base import (
    BASE_URL_PATTERN,
    Chunk,
    CopilotRequest,
    CopilotResult,
    Done,
    Operation,
    Passage,
    ProviderConfig,
    Reset,
    StreamEvent,
    check_base_url,
)
from pounce.integrations.ai.openai_compat import (
    OpenAICompatibleCopilot,
    ProviderError,
    parse_sse_line,
    retry_after,
)

REQUEST = CopilotRequest(
    text="do you integrate with slack?",
    tone="professional",
    passages=(Passage("page", "kp#0", "FAQ", "Yes, with Slack."),),
)


class FakeOffline:
    """Stands in for the offline copilot: answers every operation with a fixed text."""

    name = "offline"

    async def suggest(self, request: CopilotRequest) -> CopilotResult:
        return CopilotResult(text="stored answer", source="offline", sources=request.passages)

    async def expand(self, request: CopilotRequest) -> CopilotResult:
        return CopilotResult(text="offline expand", source="offline")

    async def tune(self, request: CopilotRequest) -> CopilotResult:
        return CopilotResult(text="offline tune", source="offline")

    async def stream(self, op: Operation, request: CopilotRequest) -> Iterator[StreamEvent]:
        raise NotImplementedError


def completion(text: str) -> httpx.Response:
    return httpx.Response(200, json={"choices": [{"message": {"content": text}}]})


def sse(*pieces: str, done: bool = True) -> bytes:
    lines = [": keep-alive"]
    lines.append("data: " + json.dumps({"choices": [{"delta": {"role": "assistant"}}]}))
    for piece in pieces:
        lines.append("data: " + json.dumps({"choices": [{"delta": {"content": piece}}]}))
    if done:
        lines.append("data: [DONE]")
    return ("\n\n".join(lines) + "\n\n").encode()


def copilot(
    handler: Callable[[httpx.Request], httpx.Response],
    *,
    timeout: float = 5.0,
    slept: list[float] | None = None,
) -> OpenAICompatibleCopilot:
    async def sleep(seconds: float) -> None:
        if slept is not None:
            slept.append(seconds)

    return OpenAICompatibleCopilot(
        ProviderConfig(
            base_url="http://llm.test/v1", model="m-1", api_key="sk-x", timeout_seconds=timeout
        ),
        fallback=FakeOffline(),  # type: ignore[arg-type]
        transport=httpx.MockTransport(handler),
        sleep=sleep,
    )


async def test_completion_request_and_result() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return completion('  "Yes, we integrate with Slack."  ')

    result = await copilot(handler).suggest(REQUEST)
    assert result == CopilotResult(
        text="Yes, we integrate with Slack.", source="m-1", sources=REQUEST.passages
    )
    (request,) = seen
    assert request.url == "http://llm.test/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-x"
    body = json.loads(request.content)
    assert body["model"] == "m-1" and body["stream"] is False
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "Yes, with Slack." in body["messages"][1]["content"]
    assert "professional" in body["messages"][0]["content"]


async def test_retries_429_honouring_retry_after_then_succeeds() -> None:
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "2"}),
            httpx.Response(503),
            completion("fixed"),
        ]
    )
    slept: list[float] = []
    result = await copilot(lambda r: next(answers), slept=slept).tune(REQUEST)
    assert result.text == "fixed" and result.fallback is None
    assert slept == [2.0, 1.0]  # Retry-After, then exponential backoff (0.5 * 2**1)


async def test_gives_up_after_three_attempts_and_falls_back() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(500)

    result = await copilot(handler, slept=[]).tune(REQUEST)
    assert len(calls) == 3
    assert result.text == "offline tune" and result.source == "offline"
    assert result.fallback == "m-1 answered HTTP 500"


async def test_no_retry_on_client_errors() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(401, json={"error": "bad key"})

    result = await copilot(handler).expand(REQUEST)
    assert len(calls) == 1 and result.fallback == "m-1 answered HTTP 401"


async def test_retry_after_past_the_deadline_falls_back_at_once() -> None:
    slept: list[float] = []
    answers = iter([httpx.Response(429, headers={"Retry-After": "60"}), completion("late")])
    result = await copilot(lambda r: next(answers), timeout=3, slept=slept).tune(REQUEST)
    assert slept == [] and result.source == "offline"
    assert result.fallback == "m-1 answered HTTP 429"


async def test_connection_errors_fall_back() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    result = await copilot(handler, slept=[]).suggest(REQUEST)
    assert result.text == "stored answer" and result.sources == REQUEST.passages
    assert result.fallback == "could not reach m-1"


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="not json"),
        httpx.Response(200, json={"choices": []}),
        completion("   "),
    ],
)
async def test_malformed_answers_fall_back(response: httpx.Response) -> None:
    result = await copilot(lambda r: response).tune(REQUEST)
    assert result.source == "offline" and result.fallback


async def test_stream_yields_chunks_then_done() -> None:
    seen: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(
            200,
            content=sse("Hello", ", we", " received it."),
            headers={"content-type": "text/event-stream"},
        )

    events = [e async for e in copilot(handler).stream("tune", REQUEST)]
    assert events[:3] == [Chunk("Hello"), Chunk(", we"), Chunk(" received it.")]
    assert events[3] == Done(CopilotResult(text="Hello, we received it.", source="m-1"))
    assert seen[0]["stream"] is True


async def test_stream_failure_before_any_chunk_falls_back_quietly() -> None:
    events = [e async for e in copilot(lambda r: httpx.Response(404)).stream("tune", REQUEST)]
    assert events == [
        Chunk("offline tune"),
        Done(
            CopilotResult(text="offline tune", source="offline", fallback="m-1 answered HTTP 404")
        ),
    ]


async def test_stream_failure_midway_resets_then_falls_back() -> None:
    broken = sse("Hel", done=False) + b'data: {"error": {"message": "overloaded"}}\n\n'
    events = [
        e
        async for e in copilot(lambda r: httpx.Response(200, content=broken)).stream(
            "tune", REQUEST
        )
    ]
    reason = "the provider reported an error mid-stream"
    assert events == [
        Chunk("Hel"),
        Reset(reason),
        Chunk("offline tune"),
        Done(CopilotResult(text="offline tune", source="offline", fallback=reason)),
    ]


def test_parse_sse_line() -> None:
    assert parse_sse_line('data: {"choices":[{"delta":{"content":"x"}}]}') == "x"
    assert parse_sse_line("data: [DONE]") is None
    assert parse_sse_line(": ping") is None
    assert parse_sse_line("event: message") is None
    assert parse_sse_line('data: {"choices":[{"delta":{}}]}') is None
    with pytest.raises(ProviderError):
        parse_sse_line("data: {nope")


def test_retry_after_forms() -> None:
    assert retry_after(httpx.Response(429, headers={"Retry-After": "3"})) == 3.0
    assert retry_after(httpx.Response(429)) is None
    assert retry_after(httpx.Response(429, headers={"Retry-After": "soon"})) is None
    past = retry_after(
        httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    )
    assert past == 0.0


BAD_URLS = [
    "http://a\x01b.test/v1",  # a control character (the probe's case)
    "http://a b.test/v1",
    "http://a.test/v1\x7f",
    "http://[bad/v1",
    "http://a<b>.test/v1",
    "ftp://a.test/v1",
    "http://",
    "http://user:secret@a.test/v1",
    "http://a.test/v1?x=1",
    "http://a.test:99999/v1",
    "https://" + "a" * 490 + ".test",
]


@pytest.mark.parametrize("url", BAD_URLS)
def test_check_base_url_refuses(url: str) -> None:
    with pytest.raises(ValueError):
        check_base_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://api.openai.com/v1",
        "http://127.0.0.1:8080/v1",
        "http://localhost:11434/v1",
        "http://[::1]:9000/v1",
        "https://llm.internal_host.example",
    ],
)
def test_check_base_url_accepts(url: str) -> None:
    assert check_base_url(url) == url


@pytest.mark.parametrize("url", BAD_URLS)
async def test_a_stored_unusable_base_url_falls_back_without_a_traceback(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A URL saved before validation (or set in the environment) costs one warning per
    request and the offline answer, never an exception."""
    copilot = OpenAICompatibleCopilot(ProviderConfig(base_url=url), fallback=FakeOffline())
    assert copilot.name == "openai-compatible"
    with caplog.at_level(logging.INFO):
        result = await copilot.expand(REQUEST)
        events = [event async for event in copilot.stream("expand", REQUEST)]
    assert result.text == "offline expand"
    assert result.fallback is not None and "base_url is not usable" in result.fallback
    assert isinstance(events[-1], Done) and events[-1].result.text == "offline expand"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and all("base_url is not usable" in r.getMessage() for r in warnings)
    assert all(r.exc_info is None for r in caplog.records)


@settings(max_examples=300, deadline=None)
@given(st.from_regex(BASE_URL_PATTERN, fullmatch=True).filter(lambda u: len(u) <= 500))
def test_every_url_the_api_schema_allows_passes_the_check(url: str) -> None:
    """The REST schema's pattern and check_base_url agree: the document promises nothing
    the check refuses."""
    assert check_base_url(url) == url
