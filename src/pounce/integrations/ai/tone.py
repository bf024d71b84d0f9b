"""The offline copilot's rule tables: chat shorthand, sentences, greetings, contractions,
vocabulary and sign-offs per tone. Pure text in, text out."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Final

from pounce.integrations.ai.base import Tone

# Chat shorthand → standard English, applied to whole words, matched case-insensitively.
SHORTHAND: Final[dict[str, str]] = {
    "u": "you",
    "ur": "your",
    "urs": "yours",
    "r": "are",
    "pls": "please",
    "plz": "please",
    "thx": "thanks",
    "thnx": "thanks",
    "thks": "thanks",
    "tnx": "thanks",
    "ty": "thank you",
    "msg": "message",
    "msgs": "messages",
    "wil": "will",
    "tmrw": "tomorrow",
    "tmr": "tomorrow",
    "tmrow": "tomorrow",
    "2moro": "tomorrow",
    "2morrow": "tomorrow",
    "tdy": "today",
    "2day": "today",
    "tonite": "tonight",
    "2nite": "tonight",
    "b4": "before",
    "bc": "because",
    "bcuz": "because",
    "cuz": "because",
    "coz": "because",
    "btw": "by the way",
    "asap": "as soon as possible",
    "fyi": "for your information",
    "idk": "I don't know",
    "imo": "in my opinion",
    "tbh": "to be honest",
    "lmk": "let me know",
    "np": "no problem",
    "nvm": "never mind",
    "rn": "right now",
    "omw": "on my way",
    "ppl": "people",
    "abt": "about",
    "convo": "conversation",
    "mins": "minutes",
    "hrs": "hours",
    "appt": "appointment",
    "mtg": "meeting",
    "acct": "account",
    "mgr": "manager",
    "dept": "department",
    "approx": "approximately",
    "gr8": "great",
    "l8r": "later",
    "cya": "see you",
    "im": "I'm",
    "ive": "I've",
    "dont": "don't",
    "cant": "can't",
    "wont": "won't",
    "didnt": "didn't",
    "doesnt": "doesn't",
    "isnt": "isn't",
    "arent": "aren't",
    "wasnt": "wasn't",
    "couldnt": "couldn't",
    "wouldnt": "wouldn't",
    "shouldnt": "shouldn't",
    "thats": "that's",
    "whats": "what's",
    "theres": "there's",
    "youre": "you're",
    "theyre": "they're",
    "weve": "we've",
    "youll": "you'll",
    "sry": "sorry",
    "srry": "sorry",
    "avail": "available",
    "chk": "check",
    "til": "until",
    "vol": "volume",
    "eng": "engineering",
    "q's": "questions",
    "qs": "questions",
    "req": "request",
    "reqs": "requests",
    "ok": "okay",
    "kk": "okay",
    "pw": "password",
    "pwd": "password",
    "q": "question",
    "ea": "each",
    "incl": "including",
    "w/e": "whatever",
    "yday": "yesterday",
    "thru": "through",
    "mgmt": "management",
    "pkg": "package",
    "biz": "business",
}
# Abbreviations that keep their meaning in capitals too: `EOD` is shorthand, `ASAP` is not.
CAPS_SHORTHAND: Final[dict[str, str]] = {
    "eod": "the end of the day",
    "eow": "the end of the week",
    "cob": "the close of business",
}
# Shorthand that is not a plain word: `w/`, `49/mo`, ` & `, `20pct`.
_SYMBOLIC: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    (re.compile(r"(?<![\w/])w/o(?![\w/])", re.IGNORECASE), "without"),
    (re.compile(r"(?<![\w/])b/c(?![\w/])", re.IGNORECASE), "because"),
    (re.compile(r"(?<![\w/])w/in(?![\w/])", re.IGNORECASE), "within"),
    (re.compile(r"(?<![\w/])w/\s*(?=[A-Za-z0-9$\u27e6])", re.IGNORECASE), "with "),
    (re.compile(r"(?<![\w~])~\s*(?=[$\d])"), "about "),
    (re.compile(r"(?<=\w)\s*/\s*(?:mo|mth|month)\b", re.IGNORECASE), " per month"),
    (re.compile(r"(?<=\w)\s*/\s*(?:yr|year)\b", re.IGNORECASE), " per year"),
    (re.compile(r"(?<=\w)\s*/\s*(?:wk|week)\b", re.IGNORECASE), " per week"),
    (re.compile(r"(?<=\w)\s*/\s*(?:hr|hour)\b", re.IGNORECASE), " per hour"),
    (re.compile(r"(?<=\w)\s*/\s*(?:min|minute)\b", re.IGNORECASE), " per minute"),
    (re.compile(r"(?<=\w)\s*/\s*(user|seat|license|licence)\b", re.IGNORECASE), r" per \1"),
    (re.compile(r"\b(per|a|each|every|the)\s+(?:mo|mth)\b", re.IGNORECASE), r"\1 month"),
    (re.compile(r"\b(per|a|each|every|the)\s+yr\b", re.IGNORECASE), r"\1 year"),
    (re.compile(r"\b(per|a|each|every|the)\s+wk\b", re.IGNORECASE), r"\1 week"),
    (re.compile(r"\b(per|an|each|every|the)\s+hr\b", re.IGNORECASE), r"\1 hour"),
    (re.compile(r"(?<=\d)\s*(?:pct|percent)\b", re.IGNORECASE), "%"),
    (re.compile(r"(?<=\w) & (?=\w)"), " and "),
    (re.compile(r"(?<=\w) \+ (?=[A-Za-z])"), " and "),
    (re.compile(r"\bon[- ]prem\b", re.IGNORECASE), "on-premises"),
    (re.compile(r"\bno cc\b", re.IGNORECASE), "no credit card"),
)
# A figure's unit: `2 wks` → `2 weeks`, `1 hr` → `1 hour`, `30min` → `30 minutes`.
_UNITS: Final[dict[str, str]] = {
    "mo": "month",
    "mos": "month",
    "mth": "month",
    "mths": "month",
    "yr": "year",
    "yrs": "year",
    "wk": "week",
    "wks": "week",
    "hr": "hour",
    "hrs": "hour",
    "min": "minute",
    "mins": "minute",
    "sec": "second",
    "secs": "second",
    "req": "request",
    "reqs": "request",
    "day": "day",
    "days": "day",
    **{
        w: w.rstrip("s")
        for w in "hour hours minute minutes week weeks month months year years".split()
    },
}
_UNIT: Final = re.compile(
    r"(?<![\w.,])(\d+(?:\.\d+)?|\d+-\d+)\s*(" + "|".join(_UNITS) + r")\b(?!/)"
    r"(?P<after>\s+[A-Za-z]+)?",
    re.IGNORECASE,
)
# Words after a figure's unit that are not what it measures: `15 min max`, `2 hrs each`.
_NOT_MEASURED: Final = frozenset(
    "max min maximum minimum each total left ago later away before after per and or to a an "
    "the of from at by in on for with until till if is are was will can so then but".split()
)
# Weekdays and months as reps shorten them. Lower-case `mon`, `wed`, `sat`, `sun` and
# `mar` are words too: they count as dates only next to a time, a day or a date word.
WEEKDAYS: Final[dict[str, str]] = {
    "mon": "Monday",
    "tue": "Tuesday",
    "tues": "Tuesday",
    "wed": "Wednesday",
    "weds": "Wednesday",
    "thu": "Thursday",
    "thur": "Thursday",
    "thurs": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}
FULL_DAYS: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS: Final[dict[str, str]] = {
    "jan": "January",
    "feb": "February",
    "mar": "March",
    "apr": "April",
    "jun": "June",
    "jul": "July",
    "aug": "August",
    "sep": "September",
    "sept": "September",
    "oct": "October",
    "nov": "November",
    "dec": "December",
}
_AMBIGUOUS_DAYS: Final = frozenset({"mon", "wed", "sat", "sun", "tue"})
_TIME: Final = (
    r"(?:\d{1,2}(?::\d\d)?\s*(?:am|pm)|\d{1,2}:\d\d|noon|midnight|morning|afternoon|evening)"
)
_DAY_WORD: Final = re.compile(r"[A-Za-z]+")
_DAY_CONTEXT_BEFORE: Final = re.compile(
    r"(?:\b(?:on|by|until|till|til|from|before|after|this|next|every|last|thru|through|or|and|"
    r"to|from)|[-/])\s*$",
    re.IGNORECASE,
)

GREETING: Final[dict[Tone, str]] = {"casual": "Hey", "friendly": "Hi", "professional": "Hello"}
SIGN_OFF: Final[dict[Tone, str]] = {
    "casual": "Cheers!",
    "friendly": "Thanks!",
    "professional": "Best regards",
}
EXPAND_GREETING: Final[dict[Tone, str]] = {
    "casual": "Hey {name}!",
    "friendly": "Hi {name}!",
    "professional": "Hello{comma_name},",
}
EXPAND_THANKS: Final[dict[Tone, str]] = {
    "casual": "",
    "friendly": "Thanks for reaching out.",
    "professional": "thank you for reaching out.",
}
EXPAND_CLOSING: Final[dict[Tone, str]] = {
    "casual": "Let me know if you've got any other questions!",
    "friendly": "Let me know if there's anything else I can help with!",
    "professional": "Please let me know if you have any further questions.",
}

# Professional expands every contraction; casual contracts these pairs when a word follows.
CONTRACTIONS: Final[dict[str, str]] = {
    "i'm": "I am",
    "i've": "I have",
    "i'll": "I will",
    "i'd": "I would",
    "we're": "we are",
    "we've": "we have",
    "we'll": "we will",
    "we'd": "we would",
    "you're": "you are",
    "you've": "you have",
    "you'll": "you will",
    "you'd": "you would",
    "they're": "they are",
    "they've": "they have",
    "they'll": "they will",
    "it's": "it is",
    "that's": "that is",
    "there's": "there is",
    "here's": "here is",
    "what's": "what is",
    "who's": "who is",
    "can't": "cannot",
    "won't": "will not",
    "don't": "do not",
    "doesn't": "does not",
    "didn't": "did not",
    "isn't": "is not",
    "aren't": "are not",
    "wasn't": "was not",
    "weren't": "were not",
    "haven't": "have not",
    "hasn't": "has not",
    "couldn't": "could not",
    "wouldn't": "would not",
    "shouldn't": "should not",
}
CASUAL_CONTRACTIONS: Final[dict[str, str]] = {  # negations first: "will not" before "we will"
    "do not": "don't",
    "does not": "doesn't",
    "did not": "didn't",
    "is not": "isn't",
    "are not": "aren't",
    "cannot": "can't",
    "will not": "won't",
    "I am": "I'm",
    "I will": "I'll",
    "we are": "we're",
    "we will": "we'll",
    "you are": "you're",
    "you will": "you'll",
    "they are": "they're",
    "that is": "that's",
    "there is": "there's",
}
PROFESSIONAL_WORDS: Final[tuple[tuple[str, str], ...]] = (
    (
        r"\b(we|I)\s+got\s+(your|the)\s+(message|email|request|question|note|details|inquiry)\b",
        r"\1 have received \2 \3",
    ),
    (r"\b(sales|support|tech|account|billing|success|onboarding)\s+guy\b", r"\1 representative"),
    (r"\b(sales|support|tech|account|billing|success|onboarding)\s+guys\b", r"\1 team"),
    (r"\b(?:yeah|yep|yup|yea)\b", "yes"),
    (r"\bnope\b", "no"),
    (r"\bgonna\b", "going to"),
    (r"\bwanna\b", "want to"),
    (r"\bgotta\b", "have to"),
    (r"\b(?:kinda|sorta)\b", "somewhat"),
    (r"\blemme\b", "let me"),
    (r"\bawesome\b", "excellent"),
    (r"\bno worries\b", "no problem"),
    (r"\bthanks\b", "thank you"),
    (r",?\s*\b(?:lol|haha+|lmao)\b", ""),
)
CASUAL_WORDS: Final[tuple[tuple[str, str], ...]] = (
    (r"\bthank you\b", "thanks"),
    (r"\bcertainly\b", "sure"),
)
_GREETING_WORDS: Final = r"(?:hey there|hi there|hello there|hey|hi|hiya|hello|howdy|yo)"
_GREETING: Final = re.compile(
    rf"^(?P<greet>{_GREETING_WORDS})\b(?P<punct>\s*[,!.]*)\s*(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_NAME_AFTER_GREETING: Final = re.compile(
    r"^(?P<name>[A-Z][\w'-]*|\u27e6\d+\u27e7)(?P<punct>\s*[,!.]+)\s*"
)
_SUBORDINATORS: Final = re.compile(
    r"^(?:if|when|whenever|because|although|though|since|while|as|after|before|once|unless|"
    r"until|whether|even|so that)\b",
    re.IGNORECASE,
)
_SPLICE: Final = re.compile(
    r",\s+(?=(?:I|we|you|they|he|she|it|our|my|your|their|his|her|this|that|there)\s+\w+\s+\w)",
    re.IGNORECASE,
)
_SENTENCE_START: Final = re.compile(r"(^|[.!?]\s+|\n\s*(?:[-*+]\s+|\d+[.)]\s+)?)([a-z])")
_CLOSINGS: Final = re.compile(
    r"(?:best|kind|warm)?\s*regards|thanks|thank you|cheers|sincerely|talk soon|all the best|"
    r"have a (?:great|nice|good) (?:day|week|weekend)",
    re.IGNORECASE,
)
_PROTECT: Final = re.compile(
    r"`[^`\n]*`"  # inline code
    r"|!?\[[^\]\n]*\]\([^)\s]*\)"  # Markdown links and images
    r"|\{[^{}\n]+\}"  # shortcut placeholders, with or without a fallback
    r"|https?://[^\s<>]*[^\s<>.,;:!?)\"']"  # URLs, without trailing punctuation
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"  # emails
    r"|\b[\w-]+(?:\.[\w-]+)*\.(?:com|io|net|org|co|ai|dev|app|de|uk|eu)\b",  # bare domains
    re.IGNORECASE,
)
SENTINEL: Final = re.compile(r"\u27e6(\d+)\u27e7")
SENTINEL_MASK: Final = r"\u27e6\d+\u27e7"


def protect(text: str) -> tuple[str, list[str]]:
    """Swap code, links, URLs, emails and placeholders for numbered sentinels."""
    kept: list[str] = []

    def swap(match: re.Match[str]) -> str:
        kept.append(match.group(0))
        return f"\u27e6{len(kept) - 1}\u27e7"

    return _PROTECT.sub(swap, text), kept


def restore(text: str, kept: list[str]) -> str:
    return SENTINEL.sub(lambda m: kept[int(m.group(1))], text)


def match_case(source: str, replacement: str) -> str:
    """`U` → `You`, `u` → `you`: the replacement takes the source's first-letter case."""
    if source[:1].isupper() and replacement[:1].islower():
        return replacement[:1].upper() + replacement[1:]
    return replacement


def _word_table(table: dict[str, str]) -> Callable[[str], str]:
    words = sorted(table, key=len, reverse=True)
    pattern = re.compile(
        r"(?<![\w'\u2019/&])(" + "|".join(re.escape(w) for w in words) + r")(?![\w'\u2019/&])",
        re.IGNORECASE,
    )

    def apply(text: str) -> str:
        def swap(match: re.Match[str]) -> str:
            word = match.group(1)
            # An all-caps word longer than a letter (ASAP, BTW) is left as the rep wrote it.
            if len(word) > 1 and word.isupper():
                return word
            return match_case(word, table[word.lower()])

        return pattern.sub(swap, text)

    return apply


_shorthand = _word_table(SHORTHAND)
_CAPS: Final = re.compile(
    r"(?<![\w'\u2019/])(" + "|".join(CAPS_SHORTHAND) + r")(?![\w'\u2019/])", re.IGNORECASE
)


def _unit(match: re.Match[str]) -> str:
    """`2 wks` → `2 weeks`; a singular unit before a noun makes a compound (`14 day free
    trial` → `14-day free trial`); a plural one takes `of` (`2 hrs free training` →
    `2 hours of free training`)."""
    figure, typed, unit = match.group(1), match.group(2), _UNITS[match.group(2).lower()]
    after = match.group("after") or ""
    measured = after and after.strip().lower() not in _NOT_MEASURED
    singular = {"mo", "mth", "yr", "wk", "hr", "min", "sec", "day", "hour", "minute", "week"}
    if measured and typed.lower() in singular | {"month", "year"}:
        if "-" not in figure:
            return f"{figure}-{unit}{after}"
    plural = f"{figure} {unit}" if figure == "1" else f"{figure} {unit}s"
    noun_follows = bool(re.match(r"\s+[A-Za-z]{3,}", match.string[match.end() :]))
    if measured and noun_follows and after.strip().lower() in {"free", "paid", "extra", "live"}:
        return f"{plural} of{after}"
    return plural + after


def _weekday(text: str) -> str:
    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        lower = word.lower()
        if lower in WEEKDAYS:
            if lower in _AMBIGUOUS_DAYS and not word[0].isupper():
                before, after = text[: match.start()], text[match.end() :]
                near_time = re.match(rf"\s*(?:[-/]\s*)?(?:{_TIME}|[A-Za-z]+day\b)", after, re.I)
                if not (near_time or _DAY_CONTEXT_BEFORE.search(before)):
                    return word
            return WEEKDAYS[lower]
        if lower in MONTHS:
            before, after = text[: match.start()], text[match.end() :]
            dated = re.match(r"\.?\s*\d{1,2}(?:st|nd|rd|th)?\b", after) or re.search(
                r"\b\d{1,2}(?:st|nd|rd|th)?\s*$", before
            )
            if dated:
                return MONTHS[lower] + (" " if after[:1] == "." else "")
            if lower != "mar" and re.search(
                r"\b(?:in|since|until|by|from|for|of|during|before|after|this|next|last)\s*$",
                before,
                re.IGNORECASE,
            ):
                return MONTHS[lower]  # `invoice for Nov`, `since jan`
            return word
        full = next((d for d in FULL_DAYS if d.lower() == lower), None)
        return full or word

    text = re.sub(r"(?<![\w.@])[A-Za-z]+(?![\w@])", swap, text)
    return re.sub(
        r"\b(January|February|March|April|June|July|August|September|October|"
        r"November|December)\.\s+(?=\d)",
        r"\1 ",
        text,
    )


def _day_ranges(text: str) -> str:
    """`Monday-Friday` → `Monday to Friday`, `Saturday/Sunday` → `Saturday and Sunday`."""
    days = "|".join(FULL_DAYS)
    text = re.sub(rf"\b({days})\s*-\s*({days})\b", r"\1 to \2", text)
    text = re.sub(rf"\b({days})\s*/\s*({days})\b", r"\1 and \2", text)
    return re.sub(rf"(?<!\w)({_TIME})\s*-\s*({_TIME})(?!\w)", r"\1 to \2", text, flags=re.I)


def _alternatives(text: str) -> str:
    """`Slack/Teams` → `Slack or Teams` (words only: not `24/7`, `and/or`, links)."""

    def swap(match: re.Match[str]) -> str:
        a, b = match.group(1), match.group(2)
        if a.lower() in {"and", "either", "w", "b"} or len(a) < 2 or len(b) < 2:
            return match.group(0)
        return f"{a} or {b}"

    return re.sub(r"(?<![\w/.])([A-Za-z][A-Za-z]+)/([A-Za-z][A-Za-z]+)(?![\w/])", swap, text)


# Acronyms reps type in lower case: `api` → `API`, `ios` → `iOS`.
ACRONYMS: Final[dict[str, str]] = {
    w.lower(): w
    for w in (
        "API SSO SAML CRM CSV PDF FAQ SLA GDPR HIPAA CCPA URL UI UX CEO CTO CFO ROI SaaS SDK "
        "JSON XML HTML CSS SQL AWS VPN 2FA MFA KPI DPA NDA SEO B2B B2C SMTP SSL TLS SMS iOS "
        "ETA SOC"
    ).split()
}
_ACRONYM: Final = re.compile(
    r"(?<![\w'\u2019/.@-])(" + "|".join(ACRONYMS) + r")(?![\w'\u2019/@]|\.\w)", re.IGNORECASE
)
_ZONE: Final = re.compile(
    r"(?<=\d(?:am|pm|AM|PM))(\s+)(est|edt|cet|cest|pst|pdt|gmt|utc|bst|cst|mst)\b", re.IGNORECASE
)


def expand_shorthand(text: str) -> str:
    """`ur msg` → `your message`, `49/mo` → `49 per month`, `20pct` → `20%`,
    `2 wks` → `2 weeks`, `Thurs` → `Thursday`, `Mar 31` → `March 31`."""
    text = _shorthand(text)
    text = _CAPS.sub(lambda m: CAPS_SHORTHAND[m.group(1).lower()], text)
    for pattern, replacement in _SYMBOLIC:
        text = pattern.sub(replacement, text)
    text = _UNIT.sub(_unit, text)
    text = _shorthand(text)  # what `/` hid: `req/min` → `req per minute` → `request …`
    text = _weekday(text)
    text = _day_ranges(text)
    text = _ACRONYM.sub(lambda m: ACRONYMS[m.group(1).lower()], text)
    text = _ZONE.sub(lambda m: m.group(1) + m.group(2).upper(), text)
    return _alternatives(text)


def tidy_spacing(text: str) -> str:
    """Single spaces, no space before punctuation, one `!` or `?` at a time."""
    lines = []
    for line in text.split("\n"):
        line = re.sub(r"[ \t]+", " ", line).strip()
        line = re.sub(r"\s+([,.!?;:])", r"\1", line)
        line = re.sub(r"([!?])\1+", r"\1", line)
        line = re.sub(r",(?=[^\s\d])", ", ", line)
        lines.append(line)
    return "\n".join(lines).strip()


def split_comma_splices(text: str) -> str:
    """`we got it, our team will call` → `we got it. our team will call`.

    Only where a new subject follows the comma and the clause before it has at least
    three words and does not open with a subordinator (`if you want, we can …`).
    """
    out: list[str] = []
    start = 0
    for match in _SPLICE.finditer(text):
        clause = re.split(r"[.!?\n]\s*", text[start : match.start()])[-1]
        clause = _GREETING.sub(lambda m: m.group("rest"), clause.strip())
        if len(clause.split()) >= 3 and not _SUBORDINATORS.match(clause):
            out.append(text[start : match.start()] + ". ")
            start = match.end()
    out.append(text[start:])
    return "".join(out)


def capitalise_sentences(text: str) -> str:
    """A capital letter at the start of the text, of each sentence and of each line."""
    text = _SENTENCE_START.sub(lambda m: m.group(1) + m.group(2).upper(), text)
    return re.sub(r"(?<![\w'\u2019])i(?=(?:'|\u2019)?(?:m|ve|ll|d)?\b)(?![\w])", "I", text)


def end_sentence(text: str) -> str:
    """A full stop after the last sentence when it has none (it may end in a figure
    with its unit: "20%", "40°")."""
    stripped = text.rstrip()
    if stripped and (stripped[-1].isalnum() or stripped[-1] in "\u27e7)*_%°"):
        return stripped + "."
    return stripped


def _replace_all(text: str, table: Iterable[tuple[str, str]]) -> str:
    for pattern, replacement in table:

        def swap(match: re.Match[str], template: str = replacement) -> str:
            return match_case(match.group(0), match.expand(template))

        text = re.sub(pattern, swap, text, flags=re.IGNORECASE)
    return text


def _expand_contractions(text: str) -> str:
    text = re.sub(r"\b(it|that|there|what|who)['\u2019]s been\b", r"\1 has been", text, flags=re.I)
    keys = sorted(CONTRACTIONS, key=len, reverse=True)
    pattern = re.compile(
        r"(?<![\w'\u2019])("
        + "|".join(re.escape(k).replace("'", "['\u2019]") for k in keys)
        + r")(?!\w)",
        re.IGNORECASE,
    )
    return pattern.sub(
        lambda m: match_case(m.group(1), CONTRACTIONS[m.group(1).lower().replace("\u2019", "'")]),
        text,
    )


def _contract(text: str) -> str:
    for full, short in CASUAL_CONTRACTIONS.items():
        # Only before another word: "yes, it is." must not become "yes, it's."
        pattern = r"\b" + full.replace(" ", r"\s+") + r"\b(?=\s+[A-Za-z])"

        def swap(match: re.Match[str], contracted: str = short) -> str:
            return match_case(match.group(0), contracted)

        text = re.sub(pattern, swap, text)
    return text


def set_greeting(text: str, tone: Tone) -> str:
    """Swap a leading `hey`/`hi`/`hello` for the tone's greeting, followed by a comma."""
    match = _GREETING.match(text)
    if match is None:
        return text
    greeting = GREETING[tone]
    rest = match.group("rest")
    named = _NAME_AFTER_GREETING.match(rest)
    if named is not None:
        punct = named.group("punct").strip()[:1]
        return f"{greeting} {named.group('name')}{punct} {rest[named.end() :]}".rstrip()
    if not rest:
        return greeting + ("." if tone == "professional" else "!")
    first_word = rest.split(" ", 1)[0]
    if first_word != "I" and not first_word[:1] == "\u27e6":
        rest = rest[:1].lower() + rest[1:]
    return f"{greeting}, {rest}"


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


def add_sign_off(text: str, tone: Tone) -> str:
    """The tone's sign-off after a message that does not end on a question or closing."""
    sentences = _sentences(text)
    if not sentences:
        return text
    last = sentences[-1]
    if last.endswith("?") or _CLOSINGS.search(last) or len(sentences) < 2:
        return text
    if tone != "professional" and re.search(r"\bthank", text, re.IGNORECASE):
        return text
    separator = "\n\n" if "\n" in text else " "
    return text + separator + SIGN_OFF[tone]


def apply_tone(text: str, tone: Tone, *, sign_off: bool = True) -> str:
    """Greeting, vocabulary, contractions and sign-off for one tone."""
    text = set_greeting(text, tone)
    if tone == "professional":
        text = _replace_all(text, PROFESSIONAL_WORDS)
        text = _expand_contractions(text)
        text = re.sub(r"!+", ".", text)
    elif tone == "casual":
        text = _replace_all(text, CASUAL_WORDS)
        text = _contract(text)
    text = tidy_spacing(text)
    if sign_off:
        text = add_sign_off(text, tone)
    return text
