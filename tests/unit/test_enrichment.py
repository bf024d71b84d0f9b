"""The built-in enrichment: a company from a work email's domain, never from free mail."""

from __future__ import annotations

import pytest

from pounce.integrations.enrichment import EmailDomain, company_of


@pytest.mark.parametrize(
    ("email", "company"),
    [
        ("ann@acme.com", "Acme"),
        ("ann@mail.acme-analytics.co.uk", "Acme Analytics"),
        ("bo@initech.com.au", "Initech"),
        ("cy@sub.globex.io", "Globex"),
        ("dee@gmail.com", None),
        ("dee@GMAIL.com", None),
        ("eve@yahoo.co.uk", None),
        ("fay@proton.me", None),
        ("gus@localhost", None),
        ("no-at-sign", None),
    ],
)
def test_company_of(email: str, company: str | None) -> None:
    assert company_of(email) == company


async def test_lookup_says_where_it_came_from() -> None:
    found = await EmailDomain().lookup(email="ann@acme.com", ip=None)
    assert found == {"company": "Acme", "source": "email domain", "confidence": "0.5"}
    assert await EmailDomain().lookup(email="ann@gmail.com", ip="127.0.0.1") == {}
    assert await EmailDomain().lookup(email=None, ip=None) == {}
