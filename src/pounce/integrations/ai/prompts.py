"""Chat-completion messages for each copilot operation."""

from __future__ import annotations

from typing import Final

from pounce.integrations.ai.base import CopilotRequest, Operation, Tone

TONE_GUIDE: Final[dict[Tone, str]] = {
    "casual": "casual, as with a returning customer (the most informal)",
    "friendly": "friendly, as with a prospect (semi-formal)",
    "professional": "professional, as with a C-level executive (the most formal)",
}
HISTORY_TURNS: Final = 8
TURN_CHARS: Final = 600
PASSAGE_CHARS: Final = 1500


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _system(request: CopilotRequest) -> str:
    company = f" at {request.company_name}" if request.company_name else ""
    rep = f" named {request.rep_name}" if request.rep_name else ""
    return (
        f"You help a sales rep{rep}{company} write live-chat messages to a website visitor. "
        "Reply with the message text only: no quotes, no preamble, no notes to the rep. "
        "Never invent prices, dates, features or promises that are not in the knowledge "
        "or the rep's text. Keep links and placeholders such as {visitor.first_name} "
        f"exactly as written. Tone: {TONE_GUIDE[request.tone]}."
    )


def _history(request: CopilotRequest) -> str:
    turns = request.history[-HISTORY_TURNS:]
    if not turns:
        return ""
    lines = [f"{t.author.capitalize()}: {_clip(t.text, TURN_CHARS)}" for t in turns]
    return "Conversation so far:\n" + "\n".join(lines) + "\n\n"


def _knowledge(request: CopilotRequest) -> str:
    if not request.passages:
        return "Knowledge: (none found)\n\n"
    lines = [
        f"[{i}] ({p.kind}: {p.title}) {_clip(p.text, PASSAGE_CHARS)}"
        for i, p in enumerate(request.passages, 1)
    ]
    return "Knowledge:\n" + "\n".join(lines) + "\n\n"


def messages(op: Operation, request: CopilotRequest) -> list[dict[str, str]]:
    """The system and user messages for `op`."""
    if op == "suggest":
        task = (
            _knowledge(request)
            + _history(request)
            + f"Write the rep's reply to the visitor's latest question: {request.text!r}. "
            "Use only the knowledge above; if it does not answer the question, say that "
            "you will find out and get back to them."
        )
    elif op == "expand":
        name = f", greeting them as {request.visitor_name}" if request.visitor_name else ""
        task = (
            _history(request)
            + f"Turn the rep's notes into one complete chat message to the visitor{name}. "
            f"Notes:\n{request.text}"
        )
    else:
        task = (
            _history(request)
            + "Rewrite the rep's draft: fix spelling and grammar and apply the tone. Keep "
            f"its meaning and facts.\nDraft:\n{request.text}"
        )
    return [{"role": "system", "content": _system(request)}, {"role": "user", "content": task}]


def clean_completion(text: str) -> str:
    """A model's reply without surrounding whitespace or quotes."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'“”":
        text = text[1:-1].strip()
    return text
