"""Expand's sentence rules: a rep's shorthand notes (`Growth 899 per month`, `want demo
Thursday?`) as full sentences (`The Growth plan is 899 per month.`, `Would you like a
demo on Thursday?`). Word tables and word order only; every word of a note is kept."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from pounce.integrations.ai import lexicon as lx
from pounce.integrations.ai.tone import FULL_DAYS, SENTINEL

_DAYS: Final = frozenset(d.lower() for d in FULL_DAYS)
_RELATIVE_DAYS: Final = frozenset("today tomorrow tonight yesterday".split())
_MONTH_NAMES: Final = frozenset(
    "january february march april may june july august september october november december".split()
)
_TIME: Final = re.compile(r"^(?:\d{1,2}(?::\d\d)?(?:am|pm)|\d{1,2}:\d\d|noon|midnight)$", re.I)
_QUARTER: Final = re.compile(r"^(?:Q[1-4]|H[12])$")
_NUMBER: Final = re.compile(r"^(?:[$€£#+]?\d[\w.,:/%+-]*|#[\w-]+)$")
_NUMBER_ADJECTIVE: Final = re.compile(r"^\d+(?:\.\d+)?-[a-z]+$")  # 14-day, 30-minute
_DURATION: Final = frozenset(
    "second seconds minute minutes hour hours day days week weeks month months year years".split()
)
_NO_TIME_PREPOSITION_AFTER: Final = (
    lx.PREPOSITIONS
    | lx.BE
    | _DAYS
    | frozenset("this next every last each and or to until till from between the a by".split())
)
# A subordinator followed by an adjective alone: `if stuck` → `if you get stuck`.
_IF_ADJECTIVE: Final[dict[str, str]] = {
    "stuck": "you get stuck",
    "interested": "you're interested",
    "unsure": "you're unsure",
    "easier": "that's easier",
    "better": "that's better",
    "faster": "that's faster",
    "simpler": "that's simpler",
    "quicker": "that's quicker",
    "preferred": "you prefer",
}
GREETINGS: Final = frozenset("hi hey hello hiya howdy".split())
THANKS: Final = re.compile(r"^(?:thanks|thank you|many thanks)\b", re.I)
SORRY: Final = re.compile(r"^(?:sorry|apologies|my apologies)\b", re.I)
# Words that may open a note before its clause: `ok cool, I'll …`, `yes SSO via …`.
INTERJECTIONS: Final[dict[str, str]] = {
    "ok": "Okay",
    "okay": "Okay",
    "alright": "Alright",
    "yes": "Yes",
    "yeah": "Yes",
    "yep": "Yes",
    "yup": "Yes",
    "nope": "No",
    "sure": "Sure",
    "perfect": "Perfect",
    "cool": "Great",
    "awesome": "Great",
    "gotcha": "Got it",
    "noted": "Noted",
    "understood": "Understood",
    "absolutely": "Absolutely",
    "definitely": "Definitely",
}
_LEADING_ADVERBS: Final = frozenset("just also still only now currently actually".split())
_PARTICLES: Final = frozenset("back up out over with into about".split())
_PHRASAL_IN: Final = frozenset("log loop check sign fill chime".split())
_KNOWN: Final = (
    lx.SUBJECT_PRONOUNS
    | lx.DETERMINERS
    | lx.POSSESSIVES
    | lx.AUXILIARIES
    | lx.PREPOSITIONS
    | lx.CONJUNCTIONS
    | lx.ADVERBS
    | lx.ADJECTIVES
    | lx.UNCOUNTABLE
    | frozenset(lx.COUNTABLE)
    | lx.INTERJECTIONS
    | frozenset("please let what how when where why who sorry thanks thank hi hello hey".split())
)


@dataclass
class Sentence:
    """A sentence being written; `copula` says it is `X is Y` (a fragment may join it)."""

    words: list[str]
    end: str = "."
    copula: bool = False
    negative: bool = False

    def text(self) -> str:
        body = " ".join(self.words).replace(" ,", ",")
        body = body[:1].upper() + body[1:]
        return body.rstrip(",;: ") + self.end


@dataclass
class Message:
    """Expand's output so far: the greeting's name, whether the notes thank, the sentences."""

    name: str | None = None
    thanked: bool = False
    sentences: list[Sentence] = field(default_factory=list)
    prefix: str | None = None


# --- Word classes in context --------------------------------------------------------------


def _low(word: str) -> str:
    return word.lower().replace("\u2019", "'").strip(":")


def _is_sentinel(word: str) -> bool:
    return bool(SENTINEL.fullmatch(word.strip(".,:;!?")))


def _known(word: str) -> bool:
    low = _low(word)
    return low in _KNOWN or bool(lx.verb_forms(low)) or low.rstrip("s") in lx.COUNTABLE


def _is_name(word: str) -> bool:
    """Capitalised mid-sentence or an acronym: `Priya`, `HubSpot`, `SSO` (not `I`, `Your`)."""
    if not word[:1].isupper() or word == "I" or "'" in word:
        return False
    return _low(word) not in lx.SUBJECT_PRONOUNS | lx.DETERMINERS | lx.POSSESSIVES | lx.AUXILIARIES


def _is_value(word: str) -> bool:
    """A figure, date, time or link: what a `X is …` sentence can state."""
    low = _low(word)
    return bool(
        (_NUMBER.match(word) and not _NUMBER_ADJECTIVE.match(word))
        or _TIME.match(word)
        or _QUARTER.match(word)
        or low in _DAYS
        or low in _RELATIVE_DAYS
        or low in _MONTH_NAMES
        or _is_sentinel(word)
    )


def _is_finite(word: str) -> bool:
    low = _low(word)
    return low in lx.AUXILIARIES or low in lx.NEGATIVE_AUXILIARIES or _contracted(low)


def _contracted(low: str) -> bool:
    """`I'm`, `we'll`, `it's`, `that's`: a subject and its verb in one word."""
    head, _, tail = low.partition("'")
    return tail in {"s", "re", "ve", "ll", "d", "m"} and head in lx.SUBJECT_PRONOUNS | {
        "that",
        "there",
        "what",
        "who",
        "here",
        "let",
    }


def _is_noun(word: str) -> bool:
    low = _low(word)
    base = low[:-1] if low.endswith("s") and low[:-1] in lx.COUNTABLE else low
    return base in lx.COUNTABLE or low in lx.UNCOUNTABLE


def _nounish(word: str) -> bool:
    """A word that can carry on a noun phrase: a known noun, or an unknown plain word."""
    low = _low(word)
    if _is_noun(word):
        return True
    if not low.isalpha() or _is_name(word) or _is_value(word) or _TIME.match(word):
        return False
    return not (_known(word) or low in {"morning", "afternoon", "evening", "night", "max"})


def _plural_noun(word: str) -> bool:
    low = _low(word)
    if low in lx.UNCOUNTABLE or not low.endswith("s") or low.endswith(("ss", "us", "is")):
        return False
    return low[:-1] in lx.COUNTABLE or _nounish(word) or low.endswith("ies")


def _can_be_finite_verb(words: list[str], i: int) -> bool:
    """`words[i]` as the main verb: `locks` in `price locks`, not `plans` in `all plans`."""
    word = words[i]
    if _is_finite(word):
        return True
    if i == 0:
        return False
    before = _low(words[i - 1])
    if lx.is_verb(word, "base") and not lx.is_verb(word, "s", "past"):
        # `nonprofits get 50% off`, `users need …`: a base verb after a plural subject.
        return _plural_noun(words[i - 1]) and not _is_noun(word)
    if not lx.is_verb(word, "s", "past"):
        return False
    noun_too = _is_noun(word) or _low(word).rstrip("s") in lx.COUNTABLE
    if before in lx.PREPOSITIONS:
        return False
    determined = before in lx.DETERMINERS | lx.POSSESSIVES or bool(_NUMBER.match(words[i - 1]))
    if determined and noun_too:
        return False  # `all plans`, `1000 requests`; but `refund of $120 goes out`
    if before in lx.ADJECTIVES and (noun_too or before not in {"annual", "monthly", "yearly"}):
        return False  # `unlimited exports`; but `annual saves 20%`
    if lx.is_verb(word, "participle") and not lx.is_verb(word, "s") and _passive_ahead(words, i):
        return False
    return True


def _passive_ahead(words: list[str], i: int) -> bool:
    """A participle with no object after it: `contract sent via …`, `invite sent`."""
    if i + 1 >= len(words):
        return True
    after = _low(words[i + 1])
    return after in lx.PREPOSITIONS or _is_value(words[i + 1]) or after in lx.ADVERBS


def _main_verb(words: list[str]) -> int | None:
    """Where the main clause's finite verb is, if the note has one (not after `if`)."""
    for i in range(len(words)):
        if _low(words[i]) in lx.SUBORDINATORS and i > 0:
            return None
        if _can_be_finite_verb(words, i):
            later = i + 2 < len(words) and _nounish(words[i + 1])
            if later and not _is_finite(words[i]) and lx.is_verb(words[i + 2], "past"):
                continue  # `password reset link sent …`: `reset` is part of the noun
            return i
    return None


def lower_known(word: str) -> str:
    """`Checked` → `checked` at the start of a note; names and plan names stay."""
    if word[:1].isupper() and word[1:].islower() and _known(word):
        if _low(word) in lx.PLAN_NAMES and not _is_noun(word):
            return word
        return word.lower()
    return word


# --- Articles, times and plans ------------------------------------------------------------

_NO_ARTICLE_AFTER: Final = (
    lx.DETERMINERS
    | lx.POSSESSIVES
    | lx.MODALS
    | lx.NEGATIVE_AUXILIARIES
    | lx.DO
    | frozenset("per each every by of one please not i we they he she let's".split())
)
_FIXED: Final = frozenset(
    "on request|on site|in person|by email|via email|by phone|on time|in touch|per seat|"
    "per user|at home|on demand|in advance|by default|on call|upon request|in place|"
    "on board|at cost|for free|in stock|on hold|at checkout|by invoice|via invoice|"
    "in beta|on sale|via chat|by chat|via text|by text|by mail|in writing|on file".split("|")
)


def add_articles(words: list[str], *, before: str = "") -> list[str]:
    """`want demo` → `want a demo`, `on roadmap` → `on the roadmap`: a singular countable
    noun gets an article when it follows a verb, a preposition or nothing, and no
    determiner, figure or other noun is in front of it. `before` is the word before."""
    out: list[str] = []
    determined = _low(before) in lx.DETERMINERS | lx.POSSESSIVES or bool(_NUMBER.match(before))
    i = 0
    while i < len(words):
        j = i
        while j < len(words) - 1 and (
            _modifier(words[j]) or (_nounish(words[j]) and _head_noun(words, j + 1))
        ):
            j += 1
        head = next((k for k in range(j, i - 1, -1) if _head_noun(words, k)), None)
        if head is not None:
            prev = out[-1] if out else before
            if not determined and _needs_article(words, i, head, prev):
                out.append(_article_for(words, i, head, prev))
            out.extend(words[i : head + 1])
            i = head + 1
            determined = False
            continue
        word = words[i]
        low = _low(word)
        if (
            low in lx.DETERMINERS
            or low in lx.POSSESSIVES
            or _NUMBER.match(word)
            or word.endswith("'s")
        ):
            determined = True
        elif (
            low in lx.PREPOSITIONS
            or low in lx.CONJUNCTIONS
            or word.endswith(",")
            or lx.is_verb(low, "s", "past", "participle")
            or _is_finite(word)
            or (lx.is_verb(low, "base") and not (out and _low(out[-1]) in lx.DETERMINERS))
        ):
            determined = False
        out.append(word)
        i += 1
    return out


def _modifier(word: str) -> bool:
    low = _low(word)
    if low in lx.DETERMINERS or low in lx.POSSESSIVES or _is_sentinel(word):
        return False
    return (
        (low in lx.ADJECTIVES and low not in {"back", "up"})
        or (_is_noun(word) and not low.endswith("s"))
        or _is_name(word)
        or bool(_NUMBER_ADJECTIVE.match(word))
    )


def _head_noun(words: list[str], i: int) -> bool:
    low = _low(words[i])
    if low not in lx.COUNTABLE or words[i].endswith(":"):
        return False
    after = words[i + 1] if i + 1 < len(words) else ""
    if after and (re.match(r"^(?:#|[A-Z]+-?\d)", after) or _NUMBER.match(after)):
        return False  # `invoice #INV-2209`, `version 2`
    if (
        after
        and (_nounish(after) or (_is_name(after) and not _is_value(after)))
        and not (words[i].endswith(","))
    ):
        return False  # a modifier of the next word: `demo link`, `admin rights`
    return not (after and _low(after) == "of" and low in lx.GROUP_NOUNS)


def _needs_article(words: list[str], start: int, head: int, prev: str) -> bool:
    low_prev = _low(prev)
    if low_prev in _NO_ARTICLE_AFTER or _NUMBER.match(prev) or prev.endswith("'s"):
        return False
    if low_prev == "to" and lx.is_verb(words[start], "base"):
        return False  # to add him
    if prev and _nounish(prev) and not lx.verb_forms(low_prev):
        return False  # credit card, order number
    if prev and (_is_name(prev) or low_prev in lx.ADJECTIVES):
        return False
    if f"{low_prev} {_low(words[head])}" in _FIXED and start == head:
        return False
    return not (low_prev in lx.BE and start == head and _low(words[head]) in {"trial"})


def _article_for(words: list[str], start: int, head: int, prev: str) -> str:
    low_prev = _low(prev)
    if any(_is_name(w) for w in words[start:head]) or not prev:
        return "the"
    if low_prev in {"on", "in", "to", "from", "into", "under", "at", "onto"} or low_prev.endswith(
        "ing"
    ):
        return "the"
    return "a" if lx.COUNTABLE[_low(words[head])] in {"a", "an"} else "the"


def add_time_prepositions(words: list[str]) -> list[str]:
    """`demo Thursday` → `demo on Thursday`, `tomorrow 2pm` → `tomorrow at 2pm`,
    `coming Q1` → `coming in Q1`; not after `is`, another preposition or a name."""
    out: list[str] = []
    for i, word in enumerate(words):
        low = _low(word)
        prev = _low(out[-1]) if out else ""
        after = _low(words[i + 1]) if i + 1 < len(words) else ""
        named = prev in {"black", "cyber", "good", "super", "giving", "easter"}
        free = bool(out) and prev not in _NO_TIME_PREPOSITION_AFTER and not named
        free = free and not out[-1].endswith(",") and prev not in {"available", "open"}
        if low in _DAYS and after == "to" and free:
            out.append("from")
        elif low in _DAYS and free and not _nounish(words[i + 1] if after else ""):
            out.append("on")
        elif low in _MONTH_NAMES and re.match(r"^\d", after) and free:
            out.append("on")
        elif _TIME.match(word) and out and prev not in lx.PREPOSITIONS | lx.BE:
            if after == "to" and prev not in {"from", "between"}:
                out.append("from")
            elif free or prev in _DAYS or prev in _RELATIVE_DAYS:
                out.append("at")
        elif _QUARTER.match(word) and free:
            out.append("in")
        out.append(word)
    return out


def mark_plans(words: list[str], *, at_start: bool = False) -> list[str]:
    """`on Enterprise` → `on the Enterprise plan`; with `at_start`, `starter is 29` →
    `the Starter plan is 29`; `Pro has API access` → `the Pro plan has API access`."""
    out: list[str] = []
    for i, word in enumerate(words):
        low = _low(word)
        after = _low(words[i + 1]) if i + 1 < len(words) else ""
        before = _low(out[-1]) if out else ""
        is_plan = low in lx.PLAN_NAMES and after not in {"plan", "plans", "tier", "tiers"}
        if is_plan and i == 0:
            is_plan = at_start or (
                word[:1].isupper()
                and (
                    after in lx.AUXILIARIES
                    or after in lx.NEGATIVE_AUXILIARIES
                    or lx.is_verb(after, "s")
                )
            )
        elif is_plan:
            is_plan = word[:1].isupper() and (
                before in {"on", "to", "with", "for", "in", "from", "than", "vs"}
                or before in lx.CONJUNCTIONS
            )
            nxt = words[i + 1] if after else ""
            is_plan = is_plan and not (nxt and (_nounish(nxt) or _is_name(nxt)))
        if is_plan:
            if before not in lx.DETERMINERS and before not in lx.POSSESSIVES:
                out.append("the")
            out.extend([word[:1].upper() + word[1:], "plan"])
        else:
            out.append(word)
    return out


def _billing(words: list[str]) -> list[str]:
    """`waived for annual` → `waived for annual billing`: the adjective alone means billing."""
    out: list[str] = []
    for i, word in enumerate(words):
        out.append(word)
        after = words[i + 1] if i + 1 < len(words) else ""
        if _low(word) in {"annual", "monthly", "yearly", "quarterly"} and (
            not after
            or _low(after) in lx.PREPOSITIONS | lx.CONJUNCTIONS | lx.AUXILIARIES
            or (lx.is_verb(after, "s") and not _plural_noun(after))
        ):
            out.append("billing")
    return out


def phrase(words: list[str], *, before: str = "") -> list[str]:
    """The words of a clause with plans named, articles and time prepositions added."""
    return add_articles(_billing(mark_plans(words)), before=before)


# --- Sentences --------------------------------------------------------------------------


def _plural(words: list[str]) -> bool:
    """Whether a subject noun phrase is plural: `extra hours`, `no fees`, `docs`."""
    lows = [_low(w) for w in words]
    if "and" in lows:
        return True
    if "of" in lows:
        lows = lows[: lows.index("of")]
        words = words[: len(lows)]
    if not lows:
        return False
    head = lows[-1]
    if head in lx.UNCOUNTABLE:
        return head == "docs"
    return _plural_noun(words[-1]) or head in {"people", "children"}


def _be(words: list[str], *, event: bool = False) -> str:
    plural = _plural(words)
    if event:
        return "were" if plural else "was"
    return "are" if plural else "is"


def _definite(subject: list[str]) -> list[str]:
    """A subject with its article: `trial` → `the trial`, `SOC 2 report` → `the SOC 2
    report`; an adjective alone becomes a noun phrase (`annual` → `annual billing`)."""
    if not subject:
        return subject
    first = _low(subject[0])
    if first in lx.DETERMINERS or first in lx.POSSESSIVES or _NUMBER.match(subject[0]):
        return add_articles(subject)
    if len(subject) == 1 and first in {"annual", "monthly", "yearly", "quarterly"}:
        return [subject[0], "billing"]
    lows = [_low(w) for w in subject]
    core = subject[: lows.index("of")] if "of" in lows else subject
    if any(w.startswith("#") or re.match(r"^[A-Z]+-\d", w) for w in subject):
        return subject  # `invoice #INV-2209`
    head = [w for w in core if not _is_value(w)][-1:] or core[-1:]
    unknown = _nounish(lower_known(head[0])) and not _plural_noun(head[0]) and not _is_noun(head[0])
    if (_low(head[0]) in lx.COUNTABLE and _low(head[0]) not in lx.UNCOUNTABLE) or unknown:
        if not (len(subject) == 1 and _is_name(subject[0]) and _low(subject[0]) != "api"):
            return ["the", lower_known(subject[0]), *subject[1:]]
    return subject


def render(part: str, *, question: bool, previous: Sentence | None) -> Sentence | None:
    """One comma-separated phrase of a note as a sentence, or None when it joined
    `previous` (`then log in again`, `and back Monday 9am`, `up to 3 seats`)."""
    words = _expand_if(part.split())
    if not words:
        return None
    words[0] = lower_known(words[0])
    low = [_low(w) for w in words]

    if previous is not None:
        if low[0] in {"then", "and", "or", "but", "if", "so"}:
            previous.words[-1] += "," if low[0] != "if" else ""
            previous.words.extend(add_time_prepositions(phrase(words)))
            previous.end = "?" if question else previous.end
            return None
        if low[:2] == ["up", "to"] and _main_verb(words) is None:
            previous.words[-1] += ","
            previous.words.extend(["for", *add_time_prepositions(phrase(words))])
            return None
        if previous.copula and not previous.negative and _predicate_fragment(words):
            previous.words.extend(["and", *add_time_prepositions(phrase(words))])
            return None

    shaped, copula = _shape(words, low, question=question)
    sentence = add_time_prepositions(shaped)
    lows = {_low(w) for w in sentence}
    return Sentence(
        sentence,
        end="?" if question or _asks(sentence) else ".",
        copula=copula,
        negative=bool(lows & (lx.NEGATIVE_AUXILIARIES | {"not", "no"})),
    )


def _asks(words: list[str]) -> bool:
    """`can you share your order number` is a question without its `?`."""
    return (
        len(words) > 1
        and _low(words[0]) in lx.MODALS | lx.DO | {"is", "are"}
        and _low(words[1]) in {"you", "i", "we"}
    )


def _expand_if(words: list[str]) -> list[str]:
    out: list[str] = []
    for word in words:
        if out and _low(out[-1]) == "if" and _low(word) in _IF_ADJECTIVE:
            out.extend(_IF_ADJECTIVE[_low(word)].split())
        else:
            out.append(word)
    return out


def _predicate_fragment(words: list[str]) -> bool:
    """A predicate with no subject or verb (`back Monday 9am`, `24/7 on Premium`,
    `GDPR compliant`): it joins a sentence `X is …` with `and`."""
    if _main_verb(words) is not None:
        return False
    first = _low(words[0])
    if first in lx.PREPOSITIONS or first in {"back", "open", "closed", "available", "online"}:
        return True
    if _is_value(words[0]) and not _is_sentinel(words[0]):
        return len(words) > 1 and _low(words[1]) in lx.PREPOSITIONS
    return (
        len(words) <= 3
        and _low(words[-1]) in lx.PREDICATE_ADJECTIVES
        and all(_is_name(w) for w in words[:-1])
    )


def _shape(words: list[str], low: list[str], *, question: bool) -> tuple[list[str], bool]:
    """The note's words as a sentence with a subject and a verb; (words, is `X is Y`)."""
    first = low[0]
    label = next((k for k, w in enumerate(words[:-1]) if w.endswith(":")), None)
    if label is not None and low[label + 1] in lx.QUESTION_WORDS:
        asked, copula = _shape(words[label + 1 :], low[label + 1 :], question=question)
        return [*words[: label + 1], *asked], copula  # `Quick question: how many …?`
    if first in {"how", "what", "which"} and _main_verb(words) is None and len(words) > 2:
        k = 2 if low[1] in {"many", "much"} else 1
        np_end = k + len(_split_noun_phrase(words[k:])[0])
        if np_end < len(words):  # `how many reps on your team` → `… reps are on …`
            verb = _be(words[k:np_end])
            return [*words[:np_end], verb, *phrase(words[np_end:], before=verb)], False
    if first in _LEADING_ADVERBS and len(words) > 1:
        shaped, copula = _shape(words[1:], low[1:], question=question)
        return _place_adverb(words[0].lower(), shaped), copula
    if first == "please":
        rest = [w for w in words[1:] if _low(w) != "please"]
        return ["Please", *_verb_first(rest)], False
    if first == "let":
        return [words[0], *phrase(words[1:], before="let")], False
    if low[-1] == "please" and len(words) > 1:
        if question or _asks(words):
            shaped, copula = _shape(words[:-1], low[:-1], question=True)
            shaped[-1] += ","
            return [*shaped, "please"], copula
        return _shape(["please", *words[:-1]], ["please", *low[:-1]], question=False)

    # A subject pronoun opens a clause: keep it, or ask with do/be.
    if first in lx.SUBJECT_PRONOUNS or first == "there" or _contracted(first):
        if (
            question
            and len(words) > 1
            and first in lx.SUBJECT_PRONOUNS
            and not _is_finite(words[1])
        ):
            return _question_for_subject(words), False
        return [words[0], *phrase(words[1:], before=first)], len(low) > 1 and low[1] in lx.BE

    # An auxiliary first: a question (`can you share …`) or a dropped subject (`can do …`).
    if first in lx.AUXILIARIES or first in lx.NEGATIVE_AUXILIARIES:
        nxt = words[1] if len(words) > 1 else ""
        if _low(nxt) in lx.SUBJECT_PRONOUNS | lx.DETERMINERS | lx.POSSESSIVES or (
            _is_name(nxt) and first not in lx.BE
        ):
            return [words[0], *phrase(words[1:], before=first)], False
        subject = _dropped_subject(first)
        return [subject, words[0], *phrase(words[1:], before=first)], first in lx.BE
    if low[:2] == ["going", "to"]:
        return ["I'm", "going", "to", *phrase(words[2:], before="to")], False
    if low[:2] == ["want", "to"]:
        return ["Would", "you", "like", "to", *phrase(words[2:], before="to")], False

    if _leading_verb(words, low):
        return _verb_clause(words, low, question=question), False
    return _noun_clause(words, low, question=question)


def _place_adverb(adverb: str, words: list[str]) -> list[str]:
    """`just email proof …` → `Please just email proof …`; `also` opens the sentence."""
    if adverb in {"also", "actually", "currently", "now"}:
        return [adverb.capitalize() + ",", *words]
    if words and (
        _low(words[0]) in lx.SUBJECT_PRONOUNS | {"please"} or _contracted(_low(words[0]))
    ):
        if len(words) > 1 and _is_finite(words[1]):
            return [words[0], words[1], adverb, *words[2:]]
        return [words[0], adverb, *words[1:]]
    return [adverb, *words]


def _verb_first(words: list[str]) -> list[str]:
    """A request's verb and its object: `sign contract` → `sign the contract`."""
    if not words:
        return words
    return [lower_known(words[0]), *phrase(words[1:], before=_low(words[0]))]


def _dropped_subject(aux: str) -> str:
    """Who a note leaves out before its auxiliary: `will send` → I, `can do` → we."""
    if aux in {"will", "won't", "would", "shall", "did", "didn't", "am"}:
        return "I"
    if aux in {"is", "isn't", "was", "wasn't", "has", "hasn't", "does", "doesn't"}:
        return "It"
    return "We"


def _question_for_subject(words: list[str]) -> list[str]:
    """`you free Thursday?` → `Are you free Thursday?`; `you use Slack?` → `Do you use …?`"""
    subject, nxt = _low(words[0]), words[1]
    who = "I" if subject == "i" else subject
    if lx.is_verb(nxt, "base") and not lx.is_verb(nxt, "past"):
        aux = "Does" if subject in lx.SINGULAR_SUBJECTS else "Do"
        return [aux, who, *_verb_first(words[1:])]
    be = {"i": "Am", "he": "Is", "she": "Is", "it": "Is"}.get(subject, "Are")
    return [be, who, *phrase(words[1:], before="are")]


def _leading_verb(words: list[str], low: list[str]) -> bool:
    """Whether the note opens with its verb (`integrates with …`, `email proof to …`)
    rather than a noun (`email came from …`, `demo link: …`, `price locks …`)."""
    first = low[0]
    forms = {form for _, form in lx.verb_forms(first)}
    if not forms:
        return False
    if words[0].endswith(":") or (len(words) > 1 and words[1].endswith(":")):
        return False
    if words[0][:1].isupper() and low[0] in lx.PLAN_NAMES:
        return False
    nxt = low[1] if len(low) > 1 else ""
    if nxt in {"plan", "plans", "tier"}:
        return False
    if forms == {"ing"}:
        # `migrating from Intercom takes …` is a subject; `onboarding call` a noun phrase.
        return not (
            _is_noun(words[0]) or _main_verb(words) is not None or (nxt and _nounish(words[1]))
        )
    if not _is_noun(words[0]):
        return True
    if nxt in lx.OBJECT_PRONOUNS or nxt in lx.DETERMINERS or nxt in lx.POSSESSIVES:
        return True
    if len(words) > 1 and _is_sentinel(words[1]):
        return True
    if len(words) > 1 and (_main_verb(words) is not None or lx.is_verb(words[1], "participle")):
        return False
    return bool(nxt) and nxt not in lx.PREPOSITIONS and not _is_value(words[1])


def _verb_clause(words: list[str], low: list[str], *, question: bool) -> list[str]:
    """A note that opens with its verb: a request, a question, or a dropped I, we or it."""
    first = low[0]
    forms = {f for _, f in lx.verb_forms(first)}
    base = lx.lemma(first) or first
    nxt = low[1] if len(low) > 1 else ""
    body = [first, *phrase(words[1:], before=first)]
    if question:
        if "base" in forms:
            if base in {"want", "like"}:
                return ["Would", "you", "like", *body[1:]]
            return ["Do", "you", *body]
        if "past" in forms:
            return ["Did", "you", base, *body[1:]]
        if "ing" in forms:
            return ["Are", "you", *body]
        return ["Does", "it", base, *body[1:]]
    if "s" in forms and first != base:
        return ["It", *body]
    if ("past" in forms or "participle" in forms) and first != base:
        objective = (
            nxt in lx.OBJECT_PRONOUNS | lx.DETERMINERS | lx.POSSESSIVES | _PARTICLES
            or (nxt == "in" and base in _PHRASAL_IN)
            or (bool(nxt) and (_is_name(words[1]) or _nounish(words[1])))
        )
        if objective or first not in lx.EVENT_PARTICIPLES:
            return ["I", *body]
        return ["It", "was", *body]
    if "ing" in forms and first != base:
        return ["We're", *body]
    if nxt == "you":
        return ["I'll", *body]
    if nxt in {"me", "us"}:
        return ["Please", *body]
    if base in {"need", "want", "prefer"}:
        return ["If", "you", *body]
    if base in lx.SERVICE_VERBS:
        return ["We", *body]
    return ["Please", *body]


def _noun_clause(words: list[str], low: list[str], *, question: bool) -> tuple[list[str], bool]:
    """A note that opens with a noun phrase, an adjective, a figure or a preposition."""
    first = low[0]
    if low[-1] == "here" and _is_name(words[0]) and len(words) > 1:
        return ["This", "is", *words[:-1]], True  # `Tom from sales here`
    if first in {"max", "min", "maximum", "minimum"} and len(words) > 1:
        limit = "maximum" if first.startswith("max") else "minimum"
        np, value = _split_noun_phrase(words[1:])
        if np and value and _is_value_start(value):  # `max file size 25MB`
            return ["The", limit, *np, _be(np), *phrase(value, before="is")], True
        return ["There", "is", "a", limit, "of", *phrase(words[1:], before="of")], True
    if first in lx.PREPOSITIONS and first != "up":
        return ["It", "is", *phrase(words, before="is")], True
    if low[:2] == ["up", "to"]:
        return ["It", "is", "for", *phrase(words, before="for")], True

    verb_at = _main_verb(words)
    if verb_at is not None and verb_at > 0:
        verb = _low(words[verb_at])
        after = words[verb_at + 1 :]
        start_is_plan = verb_at == 1 and (
            _is_value_start(after) or (verb in lx.BE and _is_value_start(after[:1]))
        )
        head = mark_plans(words[: verb_at + 1], at_start=start_is_plan)[:-1]
        subject = _definite(_billing(head))
        tail = [words[verb_at], *phrase(after, before=verb)]
        if question and not _is_finite(words[verb_at]):
            aux = "Do" if _plural(subject) else "Does"
            base = lx.lemma(words[verb_at]) or words[verb_at]
            return [aux, *_lower_first(subject), base, *tail[1:]], False
        return [*subject, *tail], verb in lx.BE

    if question:
        return _noun_question(words, low), False

    if _times_then_noun(words):
        return [words[-1], "is", "available", *words[:-1]], True
    subject, predicate = _split_noun_phrase(words)
    if not subject:
        if _NUMBER.match(words[0]) and not _NUMBER_ADJECTIVE.match(words[0]):
            return _figure(words), True
        if first in lx.ADJECTIVES or first in lx.ADVERBS:
            return ["It", "is", *phrase(words, before="is")], True
        return ["There", "is", *phrase(words)], True
    if len(subject) == 1 and _low(subject[0]) in lx.ADJECTIVES - {"annual", "monthly"}:
        # `free for up to 5 users`, `valid 24 hours` → `It is valid for 24 hours`
        extra = ["for"] if _duration(predicate) and _NUMBER.match(predicate[0]) else []
        return ["It", "is", lower_known(subject[0]), *extra, *phrase(predicate, before="is")], True
    if predicate and _low(predicate[0]) == "here":
        np = _definite(subject)
        if _low(np[0]) not in lx.DETERMINERS:
            np = ["the", *np]
        return [*np, _be(subject), *predicate], True
    if not predicate:
        return ["There", _be(subject), *phrase(subject, before="is")], True
    plan_start = _is_value_start(predicate)
    subject = mark_plans(subject, at_start=plan_start)
    if (
        plan_start
        and len(subject) == 1
        and _is_name(subject[0])
        and not re.match(r"^[A-Z0-9]{2,}$", subject[0])
        and not _known(subject[0])
    ):
        subject = ["the", subject[0], "plan"]  # `Growth 899 per month`
    np = _definite(subject)
    nxt = _low(predicate[0])
    rest = phrase(predicate[1:], before=nxt)
    if lx.is_verb(nxt, "participle", "past") and not _is_noun(predicate[0]):
        return [*np, _be(subject, event=nxt in lx.EVENT_PARTICIPLES), nxt, *rest], True
    if lx.is_verb(nxt, "ing") and not _is_noun(predicate[0]):
        return [*np, _be(subject), nxt, *rest], True
    if nxt in lx.ADJECTIVES or nxt in lx.PREDICATE_ADJECTIVES:
        if len(predicate) == 1 and nxt in lx.PREDICATE_ADJECTIVES and all(map(_is_name, subject)):
            return ["We", "are", *subject, *predicate], True  # `GDPR compliant`
        return [*np, _be(subject), nxt, *rest], True
    if _is_value_start(predicate):
        value = _with_extras(phrase(predicate, before="is"))
        if predicate[0].startswith("#") and _low(subject[-1]) != "number":
            np = [*np, "number"]
        if _duration(predicate) and not any(_low(w) in lx.PLAN_NAMES for w in subject):
            return [*np, "takes" if not _plural(subject) else "take", *value], True
        return [*np, _be(subject), *value], True
    if nxt in lx.PREPOSITIONS:
        if _low(subject[0]) == "no":
            return ["There", _be(subject), *subject, *phrase(predicate)], True
        return [*np, _be(subject), "available", *phrase(predicate, before="available")], True
    return ["There", _be(subject), *phrase([*subject, *predicate])], True


def _lower_first(words: list[str]) -> list[str]:
    return [lower_known(words[0]), *words[1:]] if words else words


_APPROXIMATELY: Final = frozenset(
    "about around approximately roughly under over only just almost nearly".split()
)


def _is_value_start(words: list[str]) -> bool:
    """A predicate that states a figure: `899 per month`, `up to 5`, `about 10 minutes`."""
    if not words:
        return False
    if _low(words[0]) in _APPROXIMATELY and len(words) > 1:
        return _is_value(words[1])
    return _is_value(words[0]) or _low(words[0]) in {"up", "from"}


def _duration(words: list[str]) -> bool:
    """`about 10 minutes`, `2 weeks`: a figure of time (what something takes)."""
    return any(
        _NUMBER.match(w) and k + 1 < len(words) and _low(words[k + 1]) in _DURATION
        for k, w in enumerate(words[:3])
    )


def _times_then_noun(words: list[str]) -> bool:
    """`Monday to Friday 8am to 6pm CET support`: times, then what they are the times of."""
    if len(words) < 2 or not _nounish(words[-1]):
        return False
    return all(
        _is_value(w) or _low(w) in {"to", "and", "from"} or re.match(r"^[A-Z]{2,4}$", w)
        for w in words[:-1]
    )


def _split_noun_phrase(words: list[str]) -> tuple[list[str], list[str]]:
    """The noun phrase a note opens with, and the rest: (`api rate limit`, `1000 …`)."""
    for k, word in enumerate(words):
        if word.endswith(":"):
            label = [*words[:k], word.rstrip(":")]
            if _low(label[-1]) == "here":
                return label[:-1], ["here:", *words[k + 1 :]]
            return label, words[k + 1 :]
    i = 0
    while i < len(words):
        word, low = words[i], _low(words[i])
        name_number = (
            i > 0 and _is_name(words[i - 1]) and i + 1 < len(words) and _is_name(words[i + 1])
        )
        if _is_value(word) and not name_number and (i > 0 or not _NUMBER_ADJECTIVE.match(word)):
            break
        if i > 0 and (low in lx.PREPOSITIONS or low == "here"):
            break
        if (
            i > 0
            and low in lx.PREDICATE_ADJECTIVES
            and not (i + 1 < len(words) and _nounish(words[i + 1]))
        ):
            break
        if i > 0 and lx.is_verb(word, "participle", "past", "ing") and not _is_noun(word):
            compound = i + 2 < len(words) and _nounish(words[i + 1])
            if not (compound and lx.is_verb(words[i + 2], "past")):
                break  # but `password reset link sent`: `reset` is part of the noun
        i += 1
    return words[:i], words[i:]


def _with_extras(words: list[str]) -> list[str]:
    """`79 per month unlimited seats` → `79 per month, with unlimited seats`."""
    out: list[str] = []
    for i, word in enumerate(words):
        out.append(word)
        after = words[i + 1] if i + 1 < len(words) else ""
        if (
            i > 0
            and _low(words[i - 1]) in {"per", "a", "each"}
            and after
            and (_low(after) in lx.ADJECTIVES or _nounish(after))
            and _low(after) not in {"billed", "each"}
        ):
            out[-1] = word + ","
            out.append("with")
    return out


def _figure(words: list[str]) -> list[str]:
    """A note that is a figure: `15 minutes max` → `It takes 15 minutes max`,
    `12 x $40 = $480 per month` → `That is 12 x $40, or $480 per month`."""
    if "=" in words:
        k = words.index("=")
        return ["That", "is", *words[: k - 1], words[k - 1] + ",", "or", *words[k + 1 :]]
    if len(words) > 1 and _low(words[1]) in _DURATION:
        return ["It", "takes", *words]
    return ["That", "is", *phrase(words, before="is")]


def _noun_question(words: list[str], low: list[str]) -> list[str]:
    """`any questions?` → `Do you have any questions?`; `team of 12?` → `Are you a team
    of 12?`; `onboarding call with Dana Tuesday?` → `Would an onboarding call … work
    for you?`"""
    if low[0] in {"any", "some"}:
        return ["Do", "you", "have", *words]
    if low[0] in lx.GROUP_NOUNS:
        return ["Are", "you", "a", lower_known(words[0]), *words[1:]]
    if low[0] in lx.ADJECTIVES and len(words) <= 3:
        return ["Are", "you", *words]
    np = phrase(words, before="would")
    if _low(np[0]) not in lx.DETERMINERS and any(_low(w) in lx.COUNTABLE for w in words[:3]):
        np = ["a", *np]
    return ["Would", *np, "work", "for", "you"]


# --- Notes → sentences -------------------------------------------------------------------

_SEPARATORS: Final = re.compile(
    r",\s+|\s+(?:->|=>|\u2192)\s+|\s+-\s+|(?<=\u27e7)\s+(?=(?:please|let|thanks|thank)\b)",
    re.IGNORECASE,
)


_SPOKEN: Final = re.compile(r"\b(gonna|wanna|gotta)\b", re.IGNORECASE)
_WRITTEN: Final = {"gonna": "going to", "wanna": "want to", "gotta": "have to"}


def units(text: str) -> list[tuple[str, str]]:
    """The sentences of a note and how each ends: `Want demo Thursday?` → (…, "?");
    spoken forms are written out (`gonna` → `going to`)."""
    text = _SPOKEN.sub(lambda m: _WRITTEN[m.group(1).lower()], text)
    found = []
    for piece in re.split(r"(?<=[.!?])\s+", text.strip()):
        end = piece[-1] if piece[-1:] in ".!?" else "."
        body = piece.rstrip(".!? ")
        if any(ch.isalnum() for ch in body):
            found.append((body, end))
    return found


def parts(unit: str) -> list[tuple[str, str]]:
    """A sentence's phrases, split at commas, arrows and dashes, each with the separator
    before it; a list of names (`Salesforce, HubSpot and Pipedrive`) stays one phrase."""
    pieces = _SEPARATORS.split(unit)
    separators = ["", *(m.group(0).strip() for m in _SEPARATORS.finditer(unit))]
    out: list[tuple[str, str]] = []
    for k, piece in enumerate(pieces):
        piece = piece.strip()
        if not piece:
            continue
        words = piece.split()
        listed = len(words) <= 4 and all(
            w[:1].isupper() or w.lower() in {"and", "or"} for w in words
        )
        more = any(w.lower() in {"and", "or"} for w in words) or k + 1 < len(pieces)
        if (
            out
            and separators[k] == ","
            and listed
            and more
            and out[-1][0].split()[-1][:1].isupper()
        ):
            out[-1] = (out[-1][0] + ", " + piece, out[-1][1])
        else:
            out.append((piece, separators[k]))
    return out


def compose(message: Message, unit: str, *, end: str) -> None:
    """Add one sentence of the notes to `message`, as one or more full sentences."""
    found = parts(unit)
    for k, (part, separator) in enumerate(found):
        last = k == len(found) - 1
        words = part.split()
        if separator in {"->", "=>", "\u2192"}:
            _arrow(message, words)
            continue
        low = [w.lower() for w in words]
        if low[0] in GREETINGS and not message.sentences:
            words = _greeting(message, words[1:])
            if not words:
                continue
            low = [w.lower() for w in words]
        if THANKS.match(" ".join(low)):
            message.thanked = True
            _formula(message, words, names=True, end="!" if end == "!" or not last else end)
            continue
        if SORRY.match(" ".join(low)):
            _formula(message, words, names=False, end=".")
            continue
        while words and low[0] in INTERJECTIONS:
            message.prefix = message.prefix or INTERJECTIONS[low[0]]
            words, low = words[1:], low[1:]
        if not words:
            continue
        previous = message.sentences[-1] if message.sentences else None
        sentence = render(" ".join(words), question=end == "?" and last, previous=previous)
        if sentence is None:
            continue
        if end == "!" and last:
            sentence.end = "!"
        if message.prefix:
            sentence.words = [message.prefix + ",", *_lower_first(sentence.words)]
            message.prefix = None
        message.sentences.append(sentence)
    if message.prefix:
        message.sentences.append(Sentence([message.prefix], end="."))
        message.prefix = None


def _greeting(message: Message, rest: list[str]) -> list[str]:
    """`hi Sarah, …`: the name goes to the message's greeting; the rest is a note."""
    if rest and rest[0].lower() == "there":
        return rest[1:]
    if rest and _is_name(rest[0]):
        message.name = message.name or rest[0].strip(",!")
        return rest[1:]
    return rest


def _formula(message: Message, words: list[str], *, names: bool, end: str) -> None:
    """Thanks and apologies as typed: `thanks for waiting` → `Thanks for waiting!`;
    `thanks Kim` → the name goes to the greeting."""
    rest = words[1:] if _low(words[0]) != "thank" else words[2:]
    head = words[: len(words) - len(rest)]
    if names and len(rest) == 1 and _is_name(rest[0]):
        if message.name is None and not message.sentences:
            message.name = rest[0]
            rest = []
        else:
            head[-1] += ","
    message.sentences.append(Sentence([*head, *phrase(rest, before="for")], end=end))


def _arrow(message: Message, words: list[str]) -> None:
    """`need more -> Business`: the condition, then what the arrow points to."""
    previous = message.sentences[-1] if message.sentences else None
    target = mark_plans(words)
    if len(words) == 1 and _low(words[0]) in lx.PLAN_NAMES:
        target = ["the", words[0][:1].upper() + words[0][1:], "plan"]
    if previous is not None and previous.words[:1] == ["If"]:
        previous.words[-1] += ","
        previous.words.extend([*target, "is", "the", "right", "fit"])
        return
    sentence = render(" ".join(words), question=False, previous=None)
    if sentence is not None:
        message.sentences.append(sentence)


def definite_subjects(text: str) -> str:
    """Tune's article fix: a sentence that opens with a bare singular noun as the subject
    of a verb gets `the` (`trial is 14 days` → `the trial is 14 days`, `setup fee waived`
    → `the setup fee waived`); names, figures, plural and mass nouns stay as typed."""
    out: list[str] = []
    for piece in re.split(r"((?:[.!?;]|\n)\s*)", text):
        words = piece.split(" ")
        first = words[0]
        if len(words) < 2 or not (_is_noun(first) or _nounish(lower_known(first))):
            out.append(piece)
            continue
        lows = [_low(w) for w in words]
        if (_is_name(first) and not _known(first)) or _leading_verb(words, lows):
            out.append(piece)
            continue
        verb_at = _main_verb(words)
        if verb_at:
            subject = words[:verb_at]
        else:
            subject, predicate = _split_noun_phrase(words)
            if not predicate or not lx.is_verb(predicate[0], "participle"):
                out.append(piece)
                continue
        definite = _definite(subject)
        if definite[:1] == ["the"] and len(definite) == len(subject) + 1:
            words = ["The" if first[:1].isupper() else "the", lower_known(first), *words[1:]]
        out.append(" ".join(words))
    return "".join(out)
