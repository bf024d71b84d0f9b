"""Failures of the store that callers handle, whatever the database."""

from __future__ import annotations


class StoreUnavailable(RuntimeError):
    """The database could not be reached; nothing was stored."""


class DuplicateClientId(RuntimeError):
    """Another process stored one of a batch's client ids meanwhile (retry one by one)."""
