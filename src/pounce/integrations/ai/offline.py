"""The offline copilot: no network, no key, no model. Suggest returns stored answers,
Tune and Expand apply rule tables and Harper's grammar fixes. Deterministic."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Final

from pounce.integrations.ai import notes
from pounce.integrations.ai import tone as rules
from pounce.integrations.ai.base import (
    OFFLINE,
    Chunk,
    CopilotRequest,
    CopilotResult,
    Done,
    Operation,
    StreamEvent,
    Tone,
    run,
)
from pounce.integrations.ai.grammar import Proofreader, agree, shared_proofreader
from pounce.integrations.ai.notes import Message

SUGGESTIONS: Final = 3
NO_ANSWER: Final = "No stored answer matches this question yet."
_ITEM_SPLIT: Final = re.compile(r"\s*(?:\n|;|\u2022)\s*")
_BULLET: Final = re.compile(r"^\s*(?:[-*+\u2022]|\d+[.)])\s+")


class OfflineCopilot:
    """Honest and deterministic: it never writes a fact that is not in the org's knowledge."""

    def __init__(self, proofreader: Proofreader | None = None) -> None:
        self.proofreader = proofreader or shared_proofreader()

    @property
    def name(self) -> str:
        return OFFLINE

    async def suggest(self, request: CopilotRequest) -> CopilotResult:
        """The best stored answer; the top three with their sources for the rep to pick."""
        top = tuple(request.passages[:SUGGESTIONS])
        if not top:
            return CopilotResult(text="", source=OFFLINE, note=NO_ANSWER)
        return CopilotResult(text=top[0].text, source=OFFLINE, sources=top)

    async def expand(self, request: CopilotRequest) -> CopilotResult:
        text = await asyncio.to_thread(
            self.expand_text, request.text, request.tone, request.visitor_name
        )
        return CopilotResult(text=text, source=OFFLINE)

    async def tune(self, request: CopilotRequest) -> CopilotResult:
        text = await asyncio.to_thread(self.tune_text, request.text, request.tone)
        return CopilotResult(text=text, source=OFFLINE)

    async def stream(self, op: Operation, request: CopilotRequest) -> AsyncIterator[StreamEvent]:
        result = await run(self, op, request)
        if result.text:
            yield Chunk(result.text)
        yield Done(result)

    def _clean(self, text: str) -> str:
        """Shorthand, spelling and grammar, sentence breaks and capitals (links kept intact)."""
        masked, kept = rules.protect(text)
        masked = agree(rules.tidy_spacing(rules.expand_shorthand(masked)))
        masked = self.proofreader.fix(masked)
        masked = rules.split_comma_splices(masked)
        masked = rules.capitalise_sentences(masked)
        return rules.restore(masked, kept)

    def tune_text(self, text: str, tone: Tone) -> str:
        """Fix the draft, then apply the tone's greeting, vocabulary, contractions, sign-off."""
        masked, kept = rules.protect(text)
        masked = agree(rules.tidy_spacing(rules.expand_shorthand(masked)))
        masked = notes.definite_subjects(masked)
        masked = self.proofreader.fix(masked)
        masked = rules.split_comma_splices(masked)
        masked = rules.apply_tone(masked, tone, sign_off=False)
        masked = rules.capitalise_sentences(masked)
        masked = rules.end_sentence(masked)
        masked = rules.add_sign_off(masked, tone)
        return rules.restore(masked, kept)

    def expand_text(self, draft: str, tone: Tone, visitor_name: str | None = None) -> str:
        """Notes → opening (with the visitor's first name if known) + one or more full
        sentences per note + closing. Every figure, name, date and link is kept."""
        masked, kept = rules.protect(draft)
        message = Message(name=_safe_name(visitor_name))
        for item in _items(masked):
            text = agree(rules.tidy_spacing(rules.expand_shorthand(item)))
            text = self.proofreader.fix(text, capitals=False)
            for unit, end in notes.units(text):
                notes.compose(message, unit, end=end)
        if not message.sentences:
            return ""
        sentences = []
        for sentence in message.sentences:
            written = rules.apply_tone(sentence.text(), tone, sign_off=False)
            sentences.append(rules.capitalise_sentences(rules.end_sentence(written)))
        name = message.name
        opening = rules.EXPAND_GREETING[tone].format(
            name=name or "there", comma_name=f" {name}" if name else ""
        )
        if not message.thanked:
            sentences.insert(0, rules.EXPAND_THANKS[tone])
        if opening.endswith(","):  # "Hello Kim, thank you …" or "Hello Kim."
            if sentences[0].startswith("Thank"):
                sentences[0] = sentences[0][0].lower() + sentences[0][1:]
            elif not sentences[0].startswith("thank"):
                opening = opening[:-1] + "."
        parts = [opening, *sentences]
        last = message.sentences[-1]
        if last.end != "?" and not re.match(r"(?i)(?:please )?let me know", " ".join(last.words)):
            parts.append(rules.EXPAND_CLOSING[tone])
        body = " ".join(p for p in parts if p)
        body = self.proofreader.fix(body)
        return rules.restore(body, kept)


def _items(notes: str) -> list[str]:
    """Note lines, bullets or `;`-separated items."""
    items: list[str] = []
    for raw in _ITEM_SPLIT.split(notes.strip()):
        line = _BULLET.sub("", raw).strip(" ,")
        if any(ch.isalnum() for ch in line):
            items.append(line)
    return items


def _safe_name(visitor_name: str | None) -> str | None:
    """The visitor's first name when it looks like one (it is visitor-controlled text)."""
    if not visitor_name:
        return None
    first = visitor_name.strip().split()[0] if visitor_name.strip() else ""
    if re.fullmatch(r"[^\W\d_][\w'-]{0,39}", first):
        return first[:1].upper() + first[1:]
    return None
