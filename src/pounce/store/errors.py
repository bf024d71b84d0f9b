"""Failures of the store that callers handle, whatever the database."""

from __future__ import annotations


class StoreUnavailable(RuntimeError):
    """The database could not be reached; nothing was stored."""


class DuplicateClientId(RuntimeError):
    """Another process stored one of a batch's client ids meanwhile (retry one by one)."""


class ClientIdReused(ValueError):
    """A message's client id is stored already for a different message (another
    conversation or another body); nothing was stored. A resend of the same message is
    no error: it is answered with the stored one (`store/appender.py::is_resend`)."""

    code = "id_reused"

    def __init__(
        self,
        message: str = (
            "This message id was already used for a different message; "
            "nothing was stored. Send it again with a new id."
        ),
    ) -> None:
        super().__init__(message)
