"""The `Copilot` interface: suggest, expand and tune a rep's message, whole or streamed."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Final, Literal, Protocol
from urllib.parse import urlsplit

import httpx

Tone = Literal["casual", "friendly", "professional"]
TONES: Final[tuple[Tone, ...]] = ("casual", "friendly", "professional")
Operation = Literal["suggest", "expand", "tune"]
OPERATIONS: Final[tuple[Operation, ...]] = ("suggest", "expand", "tune")
OFFLINE: Final = "offline"
DEFAULT_MAX_TOKENS: Final = 400
BASE_URL_CHARS: Final = 500


_HOST_NAME: Final = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))*\.?")
_LABEL: Final = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_PORT: Final = (
    r"(?::(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}"
    r"|[1-9][0-9]{0,3}))?"
)
# The URLs the REST API takes: check_base_url's rules as one pattern over ASCII (an
# IPv6 address or a non-ASCII host name is taken only from the environment). Every match
# passes check_base_url (a property test holds the two together).
BASE_URL_PATTERN: Final = (
    rf"^https?://{_LABEL}(?:\.{_LABEL})*\.?{_PORT}(?:/[\x21\x22\x24-\x3e\x40-\x7e]*)?$"
)


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        name = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return _HOST_NAME.fullmatch(name) is not None


def check_base_url(value: str) -> str:
    """`value` if it is a usable provider URL: http or https, a host, an optional port and
    path, no user name, query or fragment, no control characters or spaces, at most
    `BASE_URL_CHARS` long. Raises ValueError saying what is wrong."""
    if len(value) > BASE_URL_CHARS:
        raise ValueError(f"at most {BASE_URL_CHARS} characters")
    if any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError("no spaces or control characters")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"not a URL ({exc})") from None
    if parts.scheme not in {"http", "https"}:
        raise ValueError("the scheme is http or https")
    if not parts.hostname:
        raise ValueError("a host is needed, as in https://api.example.com/v1")
    if parts.username is not None or parts.password is not None:
        raise ValueError("no user name or password in the URL; use the API key")
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        raise ValueError("no query or fragment")
    if port == 0:
        raise ValueError("the port is 1 to 65535")
    if not _valid_host(parts.hostname):
        raise ValueError(f"{parts.hostname!r} is not a host name or IP address")
    try:
        httpx.URL(value)  # what the provider's client will parse
    except httpx.InvalidURL as exc:
        raise ValueError(f"not a usable URL ({exc})") from None
    return value


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
