"""Unit tests for settings and secret-key handling (pounce.config)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from pounce.config import PLACEHOLDER_SECRETS, ConfigError, Settings
from pounce.integrations.mail import parse_smtp_url


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("POUNCE_"):
            monkeypatch.delenv(name)


def make(**kwargs: Any) -> Settings:
    return Settings(_env_file=None, **kwargs)


# --------------------------------------------------------------------------- secret key


@pytest.mark.parametrize(
    "key",
    [
        *sorted(PLACEHOLDER_SECRETS),
        "CHANGEME",
        "  changeme  ",
        "Your-Secret-Key",
        "short",
        "x" * 15,
        " " + "x" * 15 + " ",
    ],
)
def test_placeholder_or_short_secret_refused(key: str, tmp_path: Path) -> None:
    settings = make(var_dir=tmp_path, secret_key=key)
    with pytest.raises(ConfigError, match="POUNCE_SECRET_KEY"):
        settings.resolved_secret_key()
    assert not (tmp_path / "secret_key").exists()


def test_configured_secret_used_stripped(tmp_path: Path) -> None:
    assert make(var_dir=tmp_path, secret_key="x" * 16).resolved_secret_key() == "x" * 16
    key = "  a-long-and-random-enough-key  "
    assert make(var_dir=tmp_path, secret_key=key).resolved_secret_key() == key.strip()
    assert not (tmp_path / "secret_key").exists()


def test_secret_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POUNCE_SECRET_KEY", "changeme")
    with pytest.raises(ConfigError):
        make(var_dir=tmp_path).resolved_secret_key()
    monkeypatch.setenv("POUNCE_SECRET_KEY", "k" * 32)
    assert make(var_dir=tmp_path).resolved_secret_key() == "k" * 32


def test_generated_secret_stored_and_reused(tmp_path: Path) -> None:
    var_dir = tmp_path / "nested" / "var"
    first = make(var_dir=var_dir).resolved_secret_key()
    path = var_dir / "secret_key"
    assert path.is_file()
    assert path.read_text() == first
    assert len(first) >= 32
    assert first.lower() not in PLACEHOLDER_SECRETS
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    second = make(var_dir=var_dir).resolved_secret_key()
    assert second == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_generated_secrets_differ_per_var_dir(tmp_path: Path) -> None:
    a = make(var_dir=tmp_path / "a").resolved_secret_key()
    b = make(var_dir=tmp_path / "b").resolved_secret_key()
    assert a != b


def test_stored_secret_read_stripped(tmp_path: Path) -> None:
    (tmp_path / "secret_key").write_text("stored-key-value-1234567890\n")
    assert make(var_dir=tmp_path).resolved_secret_key() == "stored-key-value-1234567890"


def test_blank_stored_secret_not_used(tmp_path: Path) -> None:
    (tmp_path / "secret_key").write_text("")
    try:
        key = make(var_dir=tmp_path).resolved_secret_key()
    except ConfigError:
        return
    assert len(key) >= 16


# --------------------------------------------------------------------------- database


def test_default_database_is_sqlite_under_var_dir(tmp_path: Path) -> None:
    settings = make(var_dir=tmp_path)
    url = settings.resolved_database_url()
    assert url == f"sqlite+aiosqlite:///{(tmp_path / 'pounce.db').resolve()}"
    assert settings.is_sqlite


def test_default_database_path_is_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    url = make(var_dir=Path("var")).resolved_database_url()
    assert url == f"sqlite+aiosqlite:///{tmp_path.resolve() / 'var' / 'pounce.db'}"


def test_configured_database_url(tmp_path: Path) -> None:
    pg = "postgresql+asyncpg://u:p@localhost/pounce"
    settings = make(var_dir=tmp_path, database_url=pg)
    assert settings.resolved_database_url() == pg
    assert not settings.is_sqlite


@pytest.mark.parametrize(
    ("given", "stored"),
    [("FULL", "FULL"), ("full", "FULL"), ("Normal", "NORMAL"), ("off", "OFF"), ("EXTRA", "EXTRA")],
)
def test_sqlite_synchronous_accepted(given: str, stored: str) -> None:
    assert make(sqlite_synchronous=given).sqlite_synchronous == stored


def test_sqlite_synchronous_default() -> None:
    assert make().sqlite_synchronous == "FULL"


@pytest.mark.parametrize("value", ["", "bogus", "FAST", "0", "full "])
def test_sqlite_synchronous_rejected(value: str) -> None:
    with pytest.raises(ValidationError, match="OFF, NORMAL, FULL, EXTRA"):
        make(sqlite_synchronous=value)


def test_sqlite_synchronous_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POUNCE_SQLITE_SYNCHRONOUS", "normal")
    assert make().sqlite_synchronous == "NORMAL"
    monkeypatch.setenv("POUNCE_SQLITE_SYNCHRONOUS", "sometimes")
    with pytest.raises(ValidationError):
        make()


# --------------------------------------------------------------------------- redis and others


def test_empty_redis_url_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    assert make().redis_url is None
    assert make(redis_url="").redis_url is None
    monkeypatch.setenv("POUNCE_REDIS_URL", "")
    assert make().redis_url is None
    monkeypatch.setenv("POUNCE_REDIS_URL", "redis://localhost:6379/0")
    assert make().redis_url == "redis://localhost:6379/0"


def test_redis_url_kept() -> None:
    assert make(redis_url="redis://r:6379/1").redis_url == "redis://r:6379/1"


def test_public_url() -> None:
    assert make().resolved_public_url() == "http://127.0.0.1:8000"
    assert make(host="0.0.0.0", port=9000).resolved_public_url() == "http://0.0.0.0:9000"
    assert make(public_url="https://chat.acme.test/").resolved_public_url() == (
        "https://chat.acme.test"
    )


@pytest.mark.parametrize(
    "kwargs",
    [{"port": 0}, {"port": 65536}, {"unanswered_seconds": 0}, {"session_days": 0}],
)
def test_out_of_range_values_rejected(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        make(**kwargs)


def test_environment_is_ignored_when_cleared() -> None:
    settings = make()
    assert settings.secret_key is None
    assert settings.database_url == ""
    assert settings.var_dir == Path("var")


def test_commit_delay_default_and_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    assert make().commit_delay_ms == 1.0
    monkeypatch.setenv("POUNCE_COMMIT_DELAY_MS", "0")
    assert make().commit_delay_ms == 0.0
    for bad in ("-1", "21", "soon"):
        monkeypatch.setenv("POUNCE_COMMIT_DELAY_MS", bad)
        with pytest.raises(ValidationError, match="commit_delay_ms"):
            make()


# --------------------------------------------------------------------------- email


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.test", ("mail.test", 25, None, None, False, None)),
        (
            "smtp://u%40x:p%3Aw@mail.test:587?starttls",
            ("mail.test", 587, "u@x", "p:w", False, True),
        ),
        ("smtp://mail.test?starttls=no", ("mail.test", 25, None, None, False, False)),
        ("smtps://u:p@mail.test", ("mail.test", 465, "u", "p", True, False)),
    ],
)
def test_smtp_urls(url: str, expected: tuple[object, ...]) -> None:
    s = parse_smtp_url(url)
    assert (s.host, s.port, s.username, s.password, s.tls, s.starttls) == expected
    assert "p:w" not in repr(s) and make(smtp_url=url).smtp_url is not None


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://mail.test", "scheme"),
        ("smtp://", "no host"),
        ("smtp://mail.test:99999", "port"),
        ("smtp://mail.test?tls=1", "unknown option"),
        ("smtp://mail.test?starttls=maybe", "yes or no"),
        ("smtps://mail.test?starttls", "TLS already"),
    ],
)
def test_bad_smtp_urls_are_refused_saying_why(url: str, why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        make(smtp_url=url)


def test_email_is_off_without_a_url_and_the_sender_defaults_to_the_public_host() -> None:
    assert make().smtp_url is None and make(smtp_url=" ").smtp_url is None
    assert make(public_url="https://chat.example.com").resolved_mail_from() == (
        "Pounce <no-reply@chat.example.com>"
    )
    assert make(mail_from="Acme <chat@acme.test>").resolved_mail_from() == "Acme <chat@acme.test>"
    with pytest.raises(ValidationError, match="email address"):
        make(mail_from="not an address")


@pytest.mark.parametrize(
    "field",
    [
        "outbox_batch_size",
        "outbox_max_attempts",
        "outbox_max_pending_per_org",
        "outbox_lease_seconds",
    ],
)
def test_outbox_limits_are_bounded(field: str) -> None:
    with pytest.raises(ValidationError):
        make(**{field: 0})
