"""Spelling and grammar fixes with Harper, its spelling suggestions re-ranked by word frequency."""

from __future__ import annotations

import re
import threading
from functools import cache
from typing import Final

from harper import Language, Lint, Linter, SuggestionKind

from pounce.integrations.ai import lexicon
from pounce.integrations.ai.tone import SENTINEL_MASK, match_case

# Harper's lints whose first suggestion we apply: these kinds whole, and these rules of
# other kinds. Others are opinions (style, word choice) or misfire on chat text, such
# as ItsPossessive turning a correct "it's ready" into "its ready": a fix must never
# change a word that was right.
SAFE_KINDS: Final = frozenset({"BoundaryError", "Capitalization", "Repetition", "Typo"})
UNSAFE_RULES: Final = frozenset({"SplitWords"})  # pipedrive → pipe drive
SAFE_RULES: Final = frozenset(
    {
        "AdjectiveDoubleDegree",  # more better → better
        "AnA",  # a apple → an apple
        "Everyday",  # everyday we work → every day
        "EveryTime",  # everytime → every time
        "HyphenateNumberDay",  # 14 day trial → 14-day trial
        "Intact",  # in tact → intact
        "ItsContraction",  # its a great day → it's
        "ModalOf",  # should of → should have
        "OkToOkay",  # ok → okay
        "RoadMap",  # roadmap → road map
        "PronounInflectionBe",  # we was → we were
        "PronounVerbAgreement",  # we has → we have
        "TheirToThere",  # their is → there is
        "ThenThan",  # better then → better than
        "ToTwoToo",  # going too the store → to
    }
)
# A suggestion must be this much more common (Zipf scale: 1 = ten times) than the word
# it replaces, and common in its own right, or the "misspelling" is likely a name.
# Short words have many close neighbours, so they need a bigger gain.
MIN_GAIN: Final = 1.5
MIN_GAIN_SHORT: Final = 2.0
MIN_ZIPF: Final = 3.0
_VOWELS: Final = frozenset("aeiouy")


def zipf(word: str) -> float:
    """How common an English word is: 0 (unknown) to about 8 (`the`)."""
    # Imported on first use: wordfreq and its language data cost 0.1 s at every start,
    # and only the copilot's proofreading needs them.
    from wordfreq import zipf_frequency

    return float(zipf_frequency(word, "en"))


def _distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (adjacent swaps count one)."""
    rows = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        rows[i][0] = i
    for j in range(len(b) + 1):
        rows[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            rows[i][j] = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                rows[i][j] = min(rows[i][j], rows[i - 2][j - 2] + 1)
    return rows[len(a)][len(b)]


def _sentence_start(text: str, index: int) -> bool:
    before = text[:index].rstrip(" *_\t")
    return not before or before[-1] in ".!?\n"


def spelling_fix(text: str, lint: Lint) -> str | None:
    """The replacement for a misspelled word, or None when it should stay as typed.

    Never changes a word that is correct: names and acronyms (`HubSpot`, `Zendesk` in
    the middle of a sentence, `SSO`), words with digits, and short or vowel-less
    tokens are left alone. A suggestion that only changes the case (`shopify` →
    `Shopify`) is taken; otherwise Harper's suggestions are re-ranked by frequency and
    the best is taken only if it is close in spelling and far more common.
    """
    word = lint.problem_text
    candidates = [s.replacement_text for s in lint.suggestions if s.kind == SuggestionKind.REPLACE]
    if not candidates or not word.isalpha():
        return None
    if any(ch.isupper() for ch in word[1:]):
        return None
    if word[0].isupper() and not _sentence_start(text, lint.span.start):
        return None
    for candidate in candidates:
        if candidate.lower() == word.lower():
            return candidate
    lower = word.lower()
    if len(word) <= 3 or not _VOWELS & set(lower):
        return None
    limit = 1 if len(word) <= 5 else 2
    close = [
        c
        for c in candidates
        if c.replace("'", "").isalpha()
        and c[0].lower() == lower[0]
        and _distance(lower, c.lower()) <= limit
    ]
    if not close:
        return None
    best = max(close, key=zipf)  # max() keeps Harper's order among equals
    gain = MIN_GAIN_SHORT if len(word) <= 5 else MIN_GAIN
    if zipf(best) < MIN_ZIPF or zipf(best) - zipf(word) < gain:
        return None
    return best[0].upper() + best[1:] if word[0].isupper() else best


def _replacement(text: str, rule: str, lint: Lint) -> str | None:
    if lint.lint_kind == "Spelling":
        return spelling_fix(text, lint)
    if rule in UNSAFE_RULES or (lint.lint_kind not in SAFE_KINDS and rule not in SAFE_RULES):
        return None
    if not lint.suggestions or lint.suggestions[0].kind != SuggestionKind.REPLACE:
        return None
    return lint.suggestions[0].replacement_text


_SINGULAR_PRONOUN: Final = re.compile(
    r"(?P<before>(?:^|[.!?;:,\n]\s*|\b(?:and|but|so|because|if|when|since|while|as|though|"
    r"although|once|unless)\s+))"
    r"(?P<subject>he|she|it|everything|everyone|everybody|someone|somebody|nothing|nobody|"
    r"anyone|anybody|something|anything)\s+(?P<verb>[A-Za-z']+)\b",
    re.IGNORECASE,
)


_ITS_VERB: Final = re.compile(
    r"\b(?P<its>[Ii]ts)\s+(?=(?:a|an|the|not|been|so|also|just|already|still|ready|available|"
    r"free|fine|okay|live|done|down|up|on|off|possible|included|going|\w+ed\s+(?:in|on|to|for|"
    r"with|by|via|at|from)\b|\w+ing\b))"
)


_LETS: Final = re.compile(r"\b[Ll]ets(?=\s+(?P<verb>[a-z]+)\b)")


def agree(text: str) -> str:
    """Subject-verb agreement after a singular pronoun, which Harper does not fix:
    `It have all models` → `It has all models`, `he dont` → `he doesn't`; and `its`
    before a verb or an article: `its included in your plan` → `it's included …`."""
    text = _ITS_VERB.sub(lambda m: m.group("its")[0] + "t's ", text)
    text = _LETS.sub(
        lambda m: (
            m.group(0)[0] + "et's" if lexicon.is_verb(m.group("verb"), "base") else m.group(0)[:4]
        ),
        text,
    )

    def swap(match: re.Match[str]) -> str:
        verb = match.group("verb")
        lower = verb.lower().replace("\u2019", "'")
        if lower in {"don't", "dont"}:
            fixed = "doesn't"
        elif lower == "do" and re.match(r"\s+not\b", match.string[match.end() :]):
            fixed = "does"
        elif lower in {"are", "am"}:
            fixed = "is"
        elif lower == "were" or lower == "weren't":
            return match.group(0)  # "if it were", subjunctive
        elif lower == "aren't":
            fixed = "isn't"
        elif lower == "haven't":
            fixed = "hasn't"
        elif any(form == "base" for _, form in lexicon.verb_forms(lower)) and not any(
            form == "past" for _, form in lexicon.verb_forms(lower)
        ):
            fixed = lexicon.third_person(lower)
        else:
            return match.group(0)
        start = match.start("verb") - match.start()
        return match.group(0)[:start] + match_case(verb, fixed)

    return _SINGULAR_PRONOUN.sub(swap, text)


class Proofreader:
    """One Harper linter for the process (building it loads a dictionary, ~1-3 s).

    Harper's linter is not thread-safe, so calls are serialised on a lock; callers on
    the event loop run `fix` in a worker thread.
    """

    def __init__(self) -> None:
        self._linter: Linter | None = None
        self._lock = threading.Lock()

    def _get(self) -> Linter:
        if self._linter is None:
            self._linter = Linter()
        return self._linter

    def warm(self) -> None:
        with self._lock:
            self._get()
            zipf("warm")

    def fix(self, text: str, *, passes: int = 2, capitals: bool = True) -> str:
        """Apply the spelling and grammar fixes Harper is sure of; sentinels are skipped.
        `capitals=False` leaves capitalisation as typed (for notes not yet in sentences)."""
        with self._lock:
            linter = self._get()
            for _ in range(passes):
                by_rule = linter.organized_lints(
                    text, language=Language.MARKDOWN, regex_mask=SENTINEL_MASK
                )
                if not capitals:
                    by_rule = {
                        rule: [lint for lint in lints if lint.lint_kind != "Capitalization"]
                        for rule, lints in by_rule.items()
                    }
                fixed = self._apply(text, by_rule)
                if fixed == text:
                    break
                text = fixed
        return text

    @staticmethod
    def _apply(text: str, by_rule: dict[str, list[Lint]]) -> str:
        edits: list[tuple[int, int, str]] = []
        for rule, lints in by_rule.items():
            for lint in lints:
                replacement = _replacement(text, rule, lint)
                if replacement is not None:
                    edits.append((lint.span.start, lint.span.end, replacement))
        last_start = len(text) + 1
        for start, end, replacement in sorted(edits, reverse=True):
            if end > last_start:
                continue  # overlapping edits: keep the later one, fix the rest next pass
            text = text[:start] + replacement + text[end:]
            last_start = start
        return text


@cache
def shared_proofreader() -> Proofreader:
    """The process's proofreader (Harper's dictionary is big; build it once)."""
    return Proofreader()
