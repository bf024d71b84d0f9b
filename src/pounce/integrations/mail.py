"""The SMTP `Mailer` (ports.Mailer), configured by a URL such as
`smtp://user:pass@host:587?starttls` or `smtps://host` (`POUNCE_SMTP_URL`)."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
_TRUE = {"", "1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True, slots=True)
class SmtpUrl:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool  # smtps: TLS from the first byte
    starttls: bool | None  # True: required; None: if the server offers it; False: never

    def __repr__(self) -> str:  # never print the password
        return f"SmtpUrl(host={self.host!r}, port={self.port}, user={self.username!r})"


def parse_smtp_url(url: str) -> SmtpUrl:
    """Parse and check an SMTP URL; ValueError says what is wrong."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError("the scheme must be smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError("the URL names no host")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError as exc:
        raise ValueError(f"bad port: {exc}") from None
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(query) - {"starttls"}
    if unknown:
        raise ValueError(f"unknown option(s): {', '.join(sorted(unknown))} (known: starttls)")
    starttls: bool | None = None
    if "starttls" in query:
        value = query["starttls"][-1].lower()
        if value in _TRUE:
            starttls = True
        elif value in _FALSE:
            starttls = False
        else:
            raise ValueError("starttls must be yes or no")
    if scheme == "smtps" and starttls:
        raise ValueError("smtps:// is TLS already; starttls is for smtp://")
    return SmtpUrl(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        tls=scheme == "smtps",
        starttls=False if scheme == "smtps" else starttls,
    )


class SmtpMailer:
    """One SMTP connection per message (deliveries are few and spread out)."""

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        self.server = parse_smtp_url(url)
        self.timeout = timeout

    async def send(self, message: EmailMessage) -> None:
        s = self.server
        await aiosmtplib.send(
            message,
            hostname=s.host,
            port=s.port,
            username=s.username,
            password=s.password,
            use_tls=s.tls,
            start_tls=s.starttls,
            timeout=self.timeout,
        )
