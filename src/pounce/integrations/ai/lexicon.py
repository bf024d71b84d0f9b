"""Word classes for the offline copilot: closed classes, common verbs with their forms,
and nouns of sales and support chat with the article each takes. Tables only."""

from __future__ import annotations

from functools import cache
from typing import Final, Literal

VerbForm = Literal["base", "s", "past", "participle", "ing"]

SUBJECT_PRONOUNS: Final = frozenset("i we you he she it they".split())
SINGULAR_SUBJECTS: Final = frozenset(
    "he she it this that everything everyone everybody nothing nobody someone somebody "
    "anyone anybody something anything".split()
)
OBJECT_PRONOUNS: Final = frozenset("me us you him her it them".split())
DETERMINERS: Final = frozenset(
    "the a an this that these those every each no all some any another both either neither "
    "more most much many few several such what which whatever".split()
)
POSSESSIVES: Final = frozenset("my our your his her its their".split())
PREPOSITIONS: Final = frozenset(
    "about above across after against along among around as at before behind below beside "
    "between beyond by during except for from in inside into like near of off on onto out "
    "outside over past per since than through throughout till to toward towards under until "
    "up upon via with within without".split()
)
CONJUNCTIONS: Final = frozenset("and or but so nor yet".split())
SUBORDINATORS: Final = frozenset(
    "if when whenever because although though since while once unless until whether as after "
    "before".split()
)
BE: Final = frozenset("am is are was were be been being".split())
HAVE: Final = frozenset("has have had".split())
DO: Final = frozenset("do does did".split())
MODALS: Final = frozenset("can could will would shall should may might must".split())
AUXILIARIES: Final = BE | HAVE | DO | MODALS
NEGATIVE_AUXILIARIES: Final = frozenset(
    "can't cannot won't don't doesn't didn't isn't aren't wasn't weren't haven't hasn't "
    "hadn't couldn't wouldn't shouldn't mustn't".split()
)
QUESTION_WORDS: Final = frozenset("what when where which who whom whose why how".split())
INTERJECTIONS: Final = frozenset(
    "ok okay cool great sure yes yeah yep yup no nope alright right perfect awesome nice "
    "gotcha understood noted done absolutely definitely totally well so oh ah hmm".split()
)
ADVERBS: Final = frozenset(
    "just also then still only already currently actually really now soon today tomorrow "
    "tonight yesterday later again anytime always never usually typically normally here there "
    "too yet instead asap quickly directly".split()
)

# Adjectives that start or make up a predicate: "free for 5 users", "GDPR compliant".
ADJECTIVES: Final = frozenset(
    "available free open closed live ready compliant certified included required needed "
    "possible optional unlimited new old extra full quick short long big small great happy "
    "glad able unable sure aware interested busy away online offline "
    "certain easy easier better faster cheaper simpler quicker sooner best fine good late "
    "early annual monthly yearly weekly daily mobile native custom dedicated standard "
    "secure encrypted private public similar different same other multiple single separate "
    "local remote eligible responsible familiar stuck done due valid invalid active inactive "
    "free-of-charge cheap expensive limited basic premium final current latest next last "
    "first second third whole entire specific exact additional personal quick-start ".split()
)
# An adjective that makes a whole predicate after a noun: "GDPR compliant", "SOC 2 certified".
PREDICATE_ADJECTIVES: Final = frozenset(
    "compliant certified approved ready friendly based native proof available included free "
    "open closed live required needed optional possible eligible valid due".split()
)

# Verbs: base form, and the irregular forms (past, participle) where they differ.
_IRREGULAR: Final[dict[str, tuple[str, str]]] = {
    "be": ("was", "been"),
    "have": ("had", "had"),
    "do": ("did", "done"),
    "go": ("went", "gone"),
    "get": ("got", "gotten"),
    "make": ("made", "made"),
    "take": ("took", "taken"),
    "come": ("came", "come"),
    "give": ("gave", "given"),
    "see": ("saw", "seen"),
    "send": ("sent", "sent"),
    "know": ("knew", "known"),
    "think": ("thought", "thought"),
    "say": ("said", "said"),
    "tell": ("told", "told"),
    "speak": ("spoke", "spoken"),
    "find": ("found", "found"),
    "put": ("put", "put"),
    "set": ("set", "set"),
    "let": ("let", "let"),
    "begin": ("began", "begun"),
    "bring": ("brought", "brought"),
    "buy": ("bought", "bought"),
    "build": ("built", "built"),
    "choose": ("chose", "chosen"),
    "feel": ("felt", "felt"),
    "hold": ("held", "held"),
    "keep": ("kept", "kept"),
    "leave": ("left", "left"),
    "lose": ("lost", "lost"),
    "mean": ("meant", "meant"),
    "meet": ("met", "met"),
    "pay": ("paid", "paid"),
    "run": ("ran", "run"),
    "read": ("read", "read"),
    "sell": ("sold", "sold"),
    "show": ("showed", "shown"),
    "understand": ("understood", "understood"),
    "write": ("wrote", "written"),
    "hear": ("heard", "heard"),
    "spend": ("spent", "spent"),
    "cost": ("cost", "cost"),
    "cut": ("cut", "cut"),
    "hit": ("hit", "hit"),
    "forget": ("forgot", "forgotten"),
    "break": ("broke", "broken"),
    "fall": ("fell", "fallen"),
    "grow": ("grew", "grown"),
    "ship": ("shipped", "shipped"),
    "stop": ("stopped", "stopped"),
    "plan": ("planned", "planned"),
    "drop": ("dropped", "dropped"),
    "log": ("logged", "logged"),
    "chat": ("chatted", "chatted"),
    "refer": ("referred", "referred"),
    "prefer": ("preferred", "preferred"),
    "submit": ("submitted", "submitted"),
    "commit": ("committed", "committed"),
    "admit": ("admitted", "admitted"),
    "upset": ("upset", "upset"),
    "reset": ("reset", "reset"),
    "swap": ("swapped", "swapped"),
    "tag": ("tagged", "tagged"),
    "hop": ("hopped", "hopped"),
    "map": ("mapped", "mapped"),
    "fit": ("fit", "fit"),
}
_REGULAR: Final = (
    "accept access activate add adjust agree allow answer apply approve arrange ask assign "
    "attach auto-renew back bill block book call cancel change charge check clean clear click "
    "close compare confirm connect contact contain convert copy cover create credit deliver "
    "delete deploy discuss download edit email enable encrypt end enter escalate expire "
    "explain export extend fix follow forward handle happen help host import improve include "
    "install integrate invite invoice join jump last launch lock look loop love migrate miss "
    "move need offer open order pass pick place play post prepay price process provide "
    "publish purchase reach receive recommend record refresh refund release remove renew "
    "reply request require resolve restart review roll save schedule share sign start store "
    "support switch sync test text thank track train transfer try turn update upgrade upload "
    "use verify wait waive want watch work cover route handle enjoy hope like list appreciate "
    "happen consider respond return note notice finish fill suggest expect exceed rate "
    "remind reschedule qualify scale seat serve solve stay stream subscribe tweak unlock "
    "value visit wonder worry help guarantee operate comply onboard demo depend matter differ "
    "vary appear seem remain belong exist increase decrease reduce count fail succeed "
    "downgrade load crash lag affect replace mention own generate calculate ensure involve "
    "prevent protect limit display learn continue arrive handle unlock".split()
)
_BASE_VERBS: Final = frozenset(_REGULAR) | frozenset(_IRREGULAR)


def third_person(base: str) -> str:
    """`have` → `has`, `fix` → `fixes`, `try` → `tries`, `work` → `works`."""
    if base == "have":
        return "has"
    if base in {"be"}:
        return "is"
    if base in {"do", "go"}:
        return base + "es"
    if base.endswith(("s", "sh", "ch", "x", "z")):
        return base + "es"
    if base.endswith("y") and base[-2:-1] not in set("aeiou"):
        return base[:-1] + "ies"
    return base + "s"


def past(base: str) -> tuple[str, str]:
    """(past, participle): `send` → (`sent`, `sent`), `fix` → (`fixed`, `fixed`)."""
    if base in _IRREGULAR:
        return _IRREGULAR[base]
    if base.endswith("e"):
        form = base + "d"
    elif base.endswith("y") and base[-2:-1] not in set("aeiou"):
        form = base[:-1] + "ied"
    else:
        form = base + "ed"
    return form, form


def ing(base: str) -> str:
    """`make` → `making`, `stop` → `stopping`, `see` → `seeing`."""
    if base in {"be", "see", "agree", "free"}:
        return base + "ing"
    if base.endswith("ie"):
        return base[:-2] + "ying"
    if base.endswith("e") and not base.endswith("ee"):
        return base[:-1] + "ing"
    doubled = _IRREGULAR.get(base, ("", ""))[0]
    if doubled.endswith(base[-1] * 2 + "ed"):
        return base + base[-1] + "ing"
    return base + "ing"


@cache
def _forms() -> dict[str, frozenset[tuple[str, VerbForm]]]:
    table: dict[str, set[tuple[str, VerbForm]]] = {}
    for base in _BASE_VERBS:
        past_form, participle = past(base)
        for word, form in (
            (base, "base"),
            (third_person(base), "s"),
            (past_form, "past"),
            (participle, "participle"),
            (ing(base), "ing"),
        ):
            table.setdefault(word, set()).add((base, form))  # type: ignore[arg-type]
    return {word: frozenset(forms) for word, forms in table.items()}


def verb_forms(word: str) -> frozenset[tuple[str, VerbForm]]:
    """What a word can be as a verb: {(`send`, "past"), (`send`, "participle")} for `sent`."""
    return _forms().get(word.lower(), frozenset())


def is_verb(word: str, *forms: VerbForm) -> bool:
    return any(form in forms for _, form in verb_forms(word))


def lemma(word: str) -> str | None:
    found = verb_forms(word)
    return min(base for base, _ in found) if found else None


# Verbs a rep uses for what the company does ("(We) support SSO"); other bare verbs
# that open a note are read as a request to the visitor ("(Please) pick a slot").
SERVICE_VERBS: Final = frozenset(
    "support offer integrate provide ship host store accept sell have work charge bill cover "
    "handle allow include run build deliver guarantee serve operate process keep encrypt "
    "comply price do partner train onboard migrate import export sync scale".split()
)
# Verbs a rep uses for what they do themselves ("(I) checked with billing").
PERSONAL_VERBS: Final = frozenset(
    "check call email send book loop follow look reach get talk speak ask confirm forward "
    "schedule escalate update add share see hear find make set arrange text invite review "
    "note pass cancel refund reply respond resolve fix upgrade apply enable extend waive "
    "reset remove create meet tell think know wonder hope".split()
)
# Participles that report an event ("was sent"); others describe a state ("is included").
EVENT_PARTICIPLES: Final = frozenset(
    "sent paid fixed booked signed shipped added updated scheduled approved processed "
    "cancelled canceled refunded released resolved deployed created moved escalated "
    "forwarded received confirmed renewed upgraded reset removed changed done made "
    "submitted placed issued credited applied extended invited charged migrated".split()
)

# Nouns that take an article when they stand alone, and which one reads better.
COUNTABLE: Final[dict[str, str]] = {
    "demo": "a",
    "call": "a",
    "quote": "a",
    "discount": "a",
    "refund": "a",
    "trial": "a",
    "meeting": "a",
    "partner": "a",
    "question": "a",
    "proposal": "a",
    "estimate": "an",
    "session": "a",
    "webinar": "a",
    "workshop": "a",
    "ticket": "the",
    "invoice": "the",
    "contract": "the",
    "receipt": "the",
    "link": "the",
    "cache": "the",
    "browser": "the",
    "roadmap": "the",
    "report": "the",
    "page": "the",
    "form": "the",
    "app": "the",
    "account": "the",
    "dashboard": "the",
    "plan": "the",
    "price": "the",
    "fee": "the",
    "deal": "the",
    "invite": "the",
    "invitation": "the",
    "email": "the",
    "order": "the",
    "issue": "the",
    "bug": "the",
    "fix": "the",
    "update": "the",
    "upgrade": "the",
    "renewal": "the",
    "limit": "the",
    "folder": "the",
    "inbox": "the",
    "error": "the",
    "message": "the",
    "guide": "the",
    "document": "the",
    "file": "the",
    "setting": "the",
    "feature": "the",
    "integration": "the",
    "api": "the",
    "team": "the",
    "website": "the",
    "site": "the",
    "agreement": "the",
    "password": "the",
    "card": "the",
    "version": "the",
    "date": "the",
    "deadline": "the",
    "product": "the",
    "subscription": "the",
    "license": "the",
    "seat": "a",
    "slot": "a",
    "number": "the",
    "code": "the",
    "screenshot": "a",
    "video": "a",
    "checklist": "the",
    "onboarding": "",
    "portal": "the",
    "extension": "the",
    "widget": "the",
    "tool": "the",
    "tier": "the",
    "option": "the",
    "package": "the",
    "contact": "the",
    "user": "the",
    "customer": "the",
    "manager": "the",
    "rep": "a",
    "engineer": "an",
    "specialist": "a",
    "admin": "an",
    "request": "a",
    "map": "the",
    "road": "the",
    "model": "a",
    "sale": "a",
    "offer": "an",
    "change": "a",
    "week": "a",
    "month": "a",
    "year": "a",
    "day": "a",
    "hour": "an",
    "minute": "a",
    "setup": "the",
    "payment": "the",
}
# Nouns without an article in general statements ("Storage is 100GB", "Data is hosted").
UNCOUNTABLE: Final = frozenset(
    "pricing storage data support training access information billing software feedback help "
    "onboarding engineering security uptime shipping proof sales marketing compliance "
    "hosting bandwidth usage documentation docs analytics reporting traffic "
    "delivery availability sso".split()
)
# Nouns for a group the visitor may belong to: "team of 12?" asks "Are you a team of 12?"
GROUP_NOUNS: Final = frozenset(
    "team company org organisation organization group agency startup nonprofit business "
    "school shop store firm".split()
)
# Plan names SaaS companies use; a capitalised one (or one priced at the start of a note)
# is a plan: "on Enterprise" → "on the Enterprise plan".
PLAN_NAMES: Final = frozenset(
    "free starter basic pro plus team business growth premium enterprise scale standard "
    "essentials essential professional advanced ultimate lite personal startup unlimited "
    "elite".split()
)
