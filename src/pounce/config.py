"""Settings read from `POUNCE_*` environment variables and `.env`."""

from __future__ import annotations

import os
import secrets
from email.utils import parseaddr
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pounce.integrations.mail import parse_smtp_url
from pounce.realtime.clientaddr import parse_entries

PLACEHOLDER_SECRETS = frozenset(
    {"", "changeme", "change-me", "secret", "placeholder", "xxx", "your-secret-key"}
)


class ConfigError(ValueError):
    """The configuration is unusable; the message says which setting and why."""


class Settings(BaseSettings):
    """Everything the server needs to start; built once by the CLI or a test."""

    model_config = SettingsConfigDict(env_prefix="POUNCE_", env_file=".env", extra="ignore")

    var_dir: Path = Path("var")
    database_url: str = ""
    redis_url: str | None = None
    secret_key: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str | None = None
    unanswered_seconds: float = Field(default=90.0, gt=0)
    transfer_accept_seconds: float = Field(default=60.0, gt=0)
    session_days: int = Field(default=14, ge=1)
    # Test servers only: passwords hashed with argon2's cheapest parameters, which a
    # stolen database would give up at once. The server warns at start when it is set.
    insecure_fast_password_hashing: bool = False
    cookie_secure: bool = False
    json_logs: bool = False
    messenger_compression: bool = False
    # WebSocket keepalive and the most a slow client may have waiting before 4429
    ws_ping_interval: float = Field(default=20.0, gt=0, le=3600)
    ws_ping_timeout: float = Field(default=20.0, gt=0, le=3600)
    ws_send_buffer_bytes: int = Field(default=4 << 20, ge=16 << 10, le=1 << 30)
    # History a socket may have replayed: a burst, then bytes per second (a visitor, over
    # all their sockets, twice that).
    ws_replay_burst_bytes: int = Field(default=1 << 20, ge=64 << 10, le=1 << 30)
    ws_replay_bytes_per_second: int = Field(default=64 << 10, ge=1 << 10, le=1 << 30)
    # Sockets one client address may hold open; more get HTTP 429 before the upgrade.
    ws_max_sockets_per_address: int = Field(default=200, ge=1, le=1_000_000)
    # New visitors (browsers without a visitor token) one client address may bring a minute.
    new_visitors_per_address_per_minute: int = Field(default=60, ge=1, le=1_000_000)
    # Abuse limits per visitor and per client address until an org's admin sets its own
    # (0: no limit): visitor messages a minute, new conversations an hour.
    abuse_messages_per_minute: int = Field(default=60, ge=0, le=1_000_000)
    abuse_conversations_per_hour: int = Field(default=20, ge=0, le=1_000_000)
    # A connection that has not sent a whole request head by then gets 408 and is closed.
    header_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    # Peers (addresses, CIDR networks, or *) whose forwarding header is believed, and
    # which header that is: X-Forwarded-For (+ X-Forwarded-Proto) or Forwarded (RFC 7239).
    forwarded_allow_ips: str = "127.0.0.1"
    forwarded_header: Literal["x-forwarded-for", "forwarded"] = "x-forwarded-for"
    run_migrations_on_start: bool = True
    sqlite_synchronous: str = "FULL"
    # Under load a commit waits this long so that more messages share it (0: never).
    commit_delay_ms: float = Field(default=1.0, ge=0, le=20)
    # The AI copilot's OpenAI-compatible provider; unset means the offline copilot.
    ai_base_url: str | None = None
    ai_model: str | None = None
    ai_api_key: SecretStr | None = None
    ai_timeout_seconds: float = Field(default=20.0, gt=0, le=300)
    # Visitor enrichment (ports.Enrichment), through the outbox when an email is left or
    # identified: "builtin" (the company from a work email's domain; no account), "http"
    # (a company-data service at enrichment_url, docs/deploy.md) or "off".
    enrichment: Literal["builtin", "http", "off"] = "builtin"
    enrichment_url: str | None = None
    enrichment_key: SecretStr | None = None  # sent as a Bearer token, never logged
    enrichment_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # A MaxMind-format database file (GeoLite2-City, GeoIP2, DB-IP lite, …): a visitor's
    # country and city from their client address, looked up through the outbox.
    geoip_db: Path | None = None
    # Email (ports.Mailer): the SMTP server, smtp://user:pass@host:port[?starttls] or
    # smtps://…; unset means email is off. The sender address of every email.
    smtp_url: SecretStr | None = None
    smtp_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    mail_from: str | None = None
    # The outbox (services/outbox.py): rows claimed per round, how long a claim lasts
    # before another worker may take the row, retries (exponential backoff with jitter
    # from the base delay, at most the cap) before a row is parked as failed, and how
    # many undelivered rows one org may have.
    outbox_batch_size: int = Field(default=20, ge=1, le=1000)
    outbox_lease_seconds: float = Field(default=120.0, ge=1, le=86400)
    outbox_max_attempts: int = Field(default=8, ge=1, le=100)
    outbox_retry_base_seconds: float = Field(default=10.0, gt=0, le=3600)
    outbox_retry_cap_seconds: float = Field(default=3600.0, gt=0, le=86400)
    outbox_max_pending_per_org: int = Field(default=10_000, ge=1, le=10_000_000)

    @field_validator("redis_url", "ai_base_url", "ai_model")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("smtp_url", mode="before")
    @classmethod
    def _smtp_url(cls, value: object) -> object:
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if text is None or (isinstance(text, str) and not text.strip()):
            return None
        if isinstance(text, str):
            parse_smtp_url(text)  # raises ValueError saying what is wrong
        return value

    @field_validator("mail_from")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if not value or not value.strip():
            return None
        _, address = parseaddr(value)
        if "@" not in address or any(c in value for c in "\r\n"):
            raise ValueError("must be an email address, e.g. Pounce <chat@example.com>")
        return value.strip()

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _addresses_or_networks(cls, value: str) -> str:
        parse_entries(value)  # raises ValueError naming the bad entry
        return value

    @field_validator("forwarded_header", mode="before")
    @classmethod
    def _lower_header(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("sqlite_synchronous")
    @classmethod
    def _known_sync_mode(cls, value: str) -> str:
        value = value.upper()
        if value not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError("must be one of OFF, NORMAL, FULL, EXTRA")
        return value

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.var_dir / 'pounce.db').resolve()}"

    def resolved_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def public_origin(self) -> str:
        """This server's origin as browsers see it (scheme://host[:port], lower case)."""
        url = self.resolved_public_url()
        scheme, _, rest = url.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0]}".lower()

    def resolved_secret_key(self) -> str:
        """The configured key, or one generated once and kept under `var_dir`."""
        if self.secret_key is not None:
            key = self.secret_key.strip()
            if key.lower() in PLACEHOLDER_SECRETS or len(key) < 16:
                raise ConfigError(
                    "POUNCE_SECRET_KEY is a placeholder or shorter than 16 characters; "
                    "set a long random value or unset it to have one generated"
                )
            return key
        path = self.var_dir / "secret_key"
        if path.exists():
            stored = path.read_text().strip()
            if len(stored) >= 16:
                return stored
        self.var_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        # Write then rename, so a crash never leaves an empty or partial key behind.
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        return key

    def resolved_mail_from(self) -> str:
        """The sender of emails: POUNCE_MAIL_FROM, or no-reply@ this server's host."""
        if self.mail_from:
            return self.mail_from
        host = self.public_origin().split("://", 1)[1].split(":", 1)[0]
        return f"Pounce <no-reply@{host if '.' in host else host + '.invalid'}>"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url().startswith("sqlite")
