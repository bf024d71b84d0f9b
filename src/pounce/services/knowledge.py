"""The org's knowledge for Suggest: pages an admin adds, org shortcuts and the answers reps
gave in past conversations, searched with BM25 (`bm25s`). One index per org, built on
first use and rebuilt when the org's knowledge changes; never shared across orgs."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import bm25s  # type: ignore[import-untyped]
import Stemmer  # type: ignore[import-not-found]

from pounce.domain.model import Actor
from pounce.integrations.ai.base import Passage
from pounce.services.admin import require_admin
from pounce.services.errors import ServiceError
from pounce.services.runtime import Runtime
from pounce.store import copilot as store
from pounce.store.copilot import Exchange, Page, Shortcut

log = logging.getLogger(__name__)

PAGE_CHARS: Final = 200_000
CHUNK_CHARS: Final = 900
TITLE_CHARS: Final = 200
# Past conversations change with every message; re-read them at most this often.
TRANSCRIPT_REFRESH_SECONDS: Final = 30.0
MAX_ORGS: Final = 256
_TOKEN: Final = re.compile(r"\w+")
_HEADING: Final = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_STOPWORDS: Final = frozenset(bm25s.stopwords.STOPWORDS_EN_PLUS)
_local = threading.local()


def tokens(text: str) -> list[str]:
    """Lower-cased, stemmed words without stop words (Snowball stemmers are per thread)."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    words = [w for w in _TOKEN.findall(text.lower()) if w not in _STOPWORDS]
    return list(stemmer.stemWords(words))


def chunk_page(title: str, body: str) -> list[tuple[str, str]]:
    """A page cut at headings and blank lines into (title, text) pieces of about
    `CHUNK_CHARS`; a heading names the pieces under it (`FAQ > Do you integrate …`)."""
    pieces: list[tuple[str, str]] = []
    heading = ""
    buffer: list[str] = []

    def flush() -> None:
        text = "\n\n".join(buffer).strip()
        if text:
            pieces.append((f"{title} > {heading}" if heading else title, text))
        buffer.clear()

    for block in re.split(r"\n\s*\n", body.replace("\r\n", "\n")):
        lines = block.strip().split("\n")
        match = _HEADING.match(lines[0]) if lines and lines[0] else None
        if match is not None:
            flush()
            heading = match.group(1)
            lines = lines[1:]
        paragraph = "\n".join(lines).strip()
        if not paragraph:
            continue
        if buffer and sum(len(b) for b in buffer) + len(paragraph) > CHUNK_CHARS:
            flush()
        buffer.append(paragraph)
    flush()
    return pieces


def passages_of(
    pages: Sequence[Page], shortcuts: Sequence[Shortcut], exchanges: Sequence[Exchange]
) -> list[Passage]:
    found: list[Passage] = []
    for page in pages:
        for i, (title, text) in enumerate(chunk_page(page.title, page.body)):
            found.append(Passage("page", f"{page.id}#{i}", title, text))
    for sc in shortcuts:
        found.append(Passage("shortcut", sc.id, f"/{sc.name}", sc.text))
    for ex in exchanges:
        question = ex.question if len(ex.question) <= TITLE_CHARS else ex.question[:199] + "…"
        found.append(Passage("transcript", f"{ex.conversation_id}#{ex.seq}", question, ex.answer))
    return found


class OrgIndex:
    """A BM25 index over one org's passages (immutable once built)."""

    def __init__(self, passages: Sequence[Passage]) -> None:
        self.passages = list(passages)
        corpus = [tokens(f"{p.title} {p.text}") for p in self.passages]
        self._retriever: Any = None
        if any(corpus):
            self._retriever = bm25s.BM25()
            self._retriever.index(corpus, show_progress=False)

    def search(self, query: str, *, k: int, skip: Callable[[Passage], bool]) -> list[Passage]:
        """The best `k` passages that share a word with `query`, best first."""
        words = tokens(query)
        if self._retriever is None or not words:
            return []
        n = min(len(self.passages), k * 4 + 8)
        docs, scores = self._retriever.retrieve([words], k=n, show_progress=False, n_threads=0)
        found: list[Passage] = []
        for doc, score in zip(docs[0], scores[0], strict=True):
            passage = self.passages[int(doc)]
            if float(score) <= 0 or skip(passage):
                continue
            found.append(
                Passage(passage.kind, passage.id, passage.title, passage.text, float(score))
            )
            if len(found) == k:
                break
        return found


@dataclass
class _Entry:
    index: OrgIndex
    rev: int
    last_message_id: int
    built_at: float


@dataclass
class KnowledgeIndex:
    """Per-org indexes, least recently used dropped past `MAX_ORGS`.

    Staleness is checked against the store on every search (the org's knowledge
    revision, bumped in the transaction of each change, and its newest message id), so
    a change made through any node is seen by every node.
    """

    clock: Callable[[], float] = time.monotonic
    _entries: OrderedDict[str, _Entry] = field(default_factory=OrderedDict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    builds: int = 0

    def invalidate(self, org_id: str) -> None:
        self._entries.pop(org_id, None)

    def _fresh(self, entry: _Entry | None, rev: int, last_message_id: int) -> bool:
        if entry is None or entry.rev != rev:
            return False
        if entry.last_message_id == last_message_id:
            return True
        return self.clock() - entry.built_at < TRANSCRIPT_REFRESH_SECONDS

    async def index_for(self, rt: Runtime, org_id: str) -> OrgIndex:
        async with rt.db.read() as conn:
            rev = await store.knowledge_rev(conn, org_id=org_id)
            last_id = await store.last_message_id(conn, org_id=org_id)
        entry = self._entries.get(org_id)
        if self._fresh(entry, rev, last_id):
            assert entry is not None
            self._entries.move_to_end(org_id)
            return entry.index
        lock = self._locks.setdefault(org_id, asyncio.Lock())
        async with lock:
            entry = self._entries.get(org_id)
            if self._fresh(entry, rev, last_id):
                assert entry is not None
                return entry.index
            async with rt.db.read() as conn:
                rev = await store.knowledge_rev(conn, org_id=org_id)
                last_id = await store.last_message_id(conn, org_id=org_id)
                pages = await store.list_pages(conn, org_id=org_id)
                shortcuts = await store.list_shortcuts(
                    conn, org_id=org_id, user_id=None, scope="org"
                )
                exchanges = await store.recent_exchanges(conn, org_id=org_id)
            started = time.perf_counter()
            passages = passages_of(pages, shortcuts, exchanges)
            index = await asyncio.to_thread(OrgIndex, passages)
            self.builds += 1
            log.info(
                "knowledge index built: %d passages in %.0f ms",
                len(passages),
                (time.perf_counter() - started) * 1000,
            )
            self._entries[org_id] = _Entry(index, rev, last_id, self.clock())
            self._entries.move_to_end(org_id)
            while len(self._entries) > MAX_ORGS:
                dropped, _ = self._entries.popitem(last=False)
                self._locks.pop(dropped, None)
            return index

    async def search(
        self,
        rt: Runtime,
        *,
        org_id: str,
        query: str,
        k: int = 3,
        exclude_conversation: str | None = None,
    ) -> list[Passage]:
        """The org's `k` best passages for `query`; never another org's."""
        index = await self.index_for(rt, org_id)
        prefix = f"{exclude_conversation}#" if exclude_conversation else None

        def skip(p: Passage) -> bool:
            return prefix is not None and p.kind == "transcript" and p.id.startswith(prefix)

        return await asyncio.to_thread(index.search, query, k=k, skip=skip)


# -- pages (admins write, reps read) -------------------------------------------------------


def page_json(page: Page, *, body: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": page.id,
        "title": page.title,
        "format": page.format,
        "chars": len(page.body),
        "created_at": page.created_at.isoformat(),
        "updated_at": page.updated_at.isoformat(),
    }
    if body:
        data["body"] = page.body
    return data


async def add_page(
    rt: Runtime, index: KnowledgeIndex, *, actor: Actor, title: str, body: str, format: str
) -> Page:
    require_admin(actor)
    title, body = title.strip(), body.strip()
    if not title or not body:
        raise ServiceError("invalid", "A knowledge page needs a title and a body.")
    if len(body) > PAGE_CHARS:
        raise ServiceError("invalid", f"A knowledge page holds at most {PAGE_CHARS} characters.")
    async with rt.db.write() as conn:
        page = await store.create_page(
            conn,
            org_id=actor.org_id,
            title=title[:TITLE_CHARS],
            body=body,
            format=format,
            created_by=actor.user_id,
        )
    index.invalidate(actor.org_id)
    return page


async def list_pages(rt: Runtime, *, actor: Actor) -> list[Page]:
    async with rt.db.read() as conn:
        return await store.list_pages(conn, org_id=actor.org_id)


async def get_page(rt: Runtime, *, actor: Actor, page_id: str) -> Page:
    async with rt.db.read() as conn:
        page = await store.get_page(conn, org_id=actor.org_id, page_id=page_id)
    if page is None:
        raise ServiceError("not_found", "No such knowledge page.")
    return page


async def delete_page(rt: Runtime, index: KnowledgeIndex, *, actor: Actor, page_id: str) -> None:
    require_admin(actor)
    async with rt.db.write() as conn:
        if not await store.delete_page(conn, org_id=actor.org_id, page_id=page_id):
            raise ServiceError("not_found", "No such knowledge page.")
    index.invalidate(actor.org_id)
