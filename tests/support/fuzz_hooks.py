"""Schemathesis hooks for tests/integration/test_openapi_fuzz.py (`SCHEMATHESIS_HOOKS`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import schemathesis

from pounce.integrations.ai.base import BASE_URL_CHARS, check_base_url

# A closed local port: an AI provider URL the fuzzer makes up points here before it is
# saved, so the server under test never sends a request off this machine.
UNREACHABLE = "127.0.0.1:9"


@schemathesis.hook
def map_body(context: schemathesis.HookContext, body: Any) -> Any:
    operation = context.operation
    if operation is None or operation.path != "/api/v1/ai-settings":
        return body
    url = body.get("base_url") if isinstance(body, dict) else None
    if isinstance(url, str):
        try:
            check_base_url(url)
        except ValueError:
            return body  # refused by the server; nothing is saved
        parts = urlsplit(url)
        local = urlunsplit((parts.scheme, UNREACHABLE, parts.path, "", ""))
        body["base_url"] = local[:BASE_URL_CHARS]
    return body
