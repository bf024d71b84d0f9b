"""The one error type use cases raise; the API maps it to HTTP or an error frame."""

from __future__ import annotations

from typing import Any

HTTP_STATUS = {
    "not_found": 404,
    "forbidden": 403,
    "blocked": 403,
    "not_authenticated": 401,
    "already_taken": 409,
    "conflict": 409,
    "not_owner": 403,
    "closed": 409,
    "invalid": 422,
    "rate_limited": 429,
    "outbox_full": 429,
    "email_off": 409,
    "no_email": 409,
    "visitor_online": 409,
    "id_reused": 409,
    "unavailable": 503,
}


class ServiceError(Exception):
    """A refusal with a machine `code` and a human `message`."""

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 400)


class Undeliverable(Exception):
    """An outbox delivery that can never succeed (its conversation is gone, email was
    turned off): the row is parked as failed at once instead of retried."""
