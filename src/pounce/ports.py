"""Ports: what Pounce needs from the outside world, as small protocols.

`app.py` chooses the implementations, once, and hands them to the runtime; services
use only these interfaces. Calls that change something outside go through the outbox
(services/outbox.py): they run after the commit, with no transaction open, at least
once, and carry an idempotency `key` the receiver can use to drop a repeat.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol


class Clock(Protocol):
    """The time, in epoch seconds. Tests hand the runtime one they move by hand
    (tests/support/harness.py `Clock`), so timers and the outbox run without waiting."""

    def __call__(self) -> float: ...


class Mailer(Protocol):
    """Sends one email. The message carries its `Message-ID` (derived from the outbox
    row), which receivers use to recognise a repeat. Raises on any failure; the outbox
    retries. Real one: SMTP (`integrations/mail.py`, `POUNCE_SMTP_URL`); unset: no
    mailer, and email features say they are off."""

    async def send(self, message: EmailMessage) -> None: ...


class Calendar(Protocol):
    """A rep's calendar (CalDAV and the like): free time and booking a meeting."""

    async def free_busy(
        self, *, calendar: str, start: float, end: float
    ) -> list[tuple[float, float]]:
        """The busy intervals (epoch seconds) between `start` and `end`."""
        ...

    async def book(
        self,
        *,
        calendar: str,
        start: float,
        end: float,
        title: str,
        attendee_email: str,
        key: str,
    ) -> str:
        """Book a meeting; returns its id. The same `key` books it once."""
        ...


class Crm(Protocol):
    """A CRM (Salesforce and the like): leads and the conversations logged on them."""

    async def upsert_lead(self, *, email: str, fields: dict[str, str], key: str) -> str:
        """Create or update the lead with this email; returns the CRM's id for it."""
        ...

    async def log_conversation(self, *, lead_id: str, transcript: str, key: str) -> None:
        """Attach a conversation's transcript to a lead."""
        ...


class Telephony(Protocol):
    """Calls from the console (a rep calls a visitor back)."""

    async def call(self, *, from_number: str, to_number: str, key: str) -> str:
        """Start a call between two numbers; returns the provider's call id."""
        ...


class Enrichment(Protocol):
    """What is known about a visitor from outside (company from an email domain or an
    address). Read-only, so it is called directly, not through the outbox."""

    async def lookup(self, *, email: str | None, ip: str | None) -> dict[str, str]:
        """Attributes found (e.g. `company`, `country`); empty when nothing is known."""
        ...
