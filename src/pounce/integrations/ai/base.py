"""The `Copilot` interface: suggest, expand and tune a rep's message, whole or streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Final, Literal, Protocol

Tone = Literal["casual", "friendly", "professional"]
TONES: Final[tuple[Tone, ...]] = ("casual", "friendly", "professional")
Operation = Literal["suggest", "expand", "tune"]
OPERATIONS: Final[tuple[Operation, ...]] = ("suggest", "expand", "tune")
OFFLINE: Final = "offline"
DEFAULT_MAX_TOKENS: Final = 400


@dataclass(frozen=True, slots=True)
class Passage:
    """One piece of the org's knowledge found for a question, and where it came from."""

    kind: Literal["shortcut", "transcript", "page"]
    id: str
    title: str
    text: str
    score: float = 0.0


@dataclass(frozen=True, slots=True)
class Turn:
    """A line of the conversation so far, for context."""

    author: Literal["visitor", "rep"]
    text: str


@dataclass(frozen=True, slots=True)
class CopilotRequest:
    """Everything an operation may use; nothing here is sent to the visitor.

    `text` is the rep's draft or notes (expand, tune) or the question (suggest);
    `passages` are what retrieval found for it, best first.
    """

    text: str
    tone: Tone = "friendly"
    passages: tuple[Passage, ...] = ()
    history: tuple[Turn, ...] = ()
    rep_name: str | None = None
    visitor_name: str | None = None
    company_name: str | None = None


@dataclass(frozen=True, slots=True)
class CopilotResult:
    """The text for the composer; `source` is the model's name or "offline".

    `fallback` says why a configured provider was not used (error, timeout).
    """

    text: str
    source: str
    sources: tuple[Passage, ...] = ()
    fallback: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of streamed text."""

    text: str


@dataclass(frozen=True, slots=True)
class Reset:
    """The chunks streamed so far are void (the provider failed mid-stream)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Done:
    """The stream's last event: the whole result."""

    result: CopilotResult


StreamEvent = Chunk | Reset | Done


class Copilot(Protocol):
    """Writes text for a rep to review; never sends anything."""

    @property
    def name(self) -> str: ...

    async def suggest(self, request: CopilotRequest) -> CopilotResult:
        """An answer to the visitor's latest question (`text`), with the sources used."""
        ...

    async def expand(self, request: CopilotRequest) -> CopilotResult:
        """The rep's notes (`text`) as a full message in the tone."""
        ...

    async def tune(self, request: CopilotRequest) -> CopilotResult:
        """The rep's draft (`text`) with grammar fixed and the tone applied."""
        ...

    def stream(self, op: Operation, request: CopilotRequest) -> AsyncIterator[StreamEvent]:
        """Chunks of `op`'s text as they are written, then `Done` with the whole result."""
        ...


async def run(copilot: Copilot, op: Operation, request: CopilotRequest) -> CopilotResult:
    """Dispatch one operation by name."""
    if op == "suggest":
        return await copilot.suggest(request)
    if op == "expand":
        return await copilot.expand(request)
    return await copilot.tune(request)


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """Where an OpenAI-compatible endpoint is; an empty `base_url` means offline."""

    base_url: str = ""
    model: str = ""
    api_key: str | None = field(default=None, repr=False)
    timeout_seconds: float = 20.0
    max_tokens: int = DEFAULT_MAX_TOKENS

    @property
    def enabled(self) -> bool:
        return bool(self.base_url)
