"""The REST API's OpenAPI document: what FastAPI derives from the routes, plus what it
cannot say by itself. A write needs the session cookie *and* the CSRF header (FastAPI
lists security schemes as alternatives), and a 422 answers with the one error model,
`Problem`, like every other refusal (FastAPI documents its own default shape).

`pounce openapi` writes it to `docs/openapi.json`; the console's REST types are
generated from that file (`make web`), and a test keeps the file current."""

from __future__ import annotations

import json
from typing import Any, Final

from fastapi import FastAPI

from pounce.api.deps import CSRF_HEADER, SAFE_METHODS
from pounce.api.errors import DESCRIPTIONS

SESSION: Final = "session"
CSRF: Final = "csrf"
_PROBLEM: Final = {"$ref": "#/components/schemas/Problem"}
_FASTAPI_422: Final = ("HTTPValidationError", "ValidationError")


def refine(doc: dict[str, Any]) -> dict[str, Any]:
    """Make `doc` (as FastAPI generated it) say what the API does; changes it in place."""
    components = doc.setdefault("components", {})
    schemes = components.setdefault("securitySchemes", {})
    schemes[CSRF] = {
        "type": "apiKey",
        "in": "header",
        "name": CSRF_HEADER,
        "description": "Every write carries the session's `csrf_token` (else 403).",
    }
    for operations in doc.get("paths", {}).values():
        for method, operation in operations.items():
            needs: dict[str, list[str]] = {}
            for requirement in operation.get("security", []):
                needs.update(requirement)
            if SESSION in needs and method.upper() not in SAFE_METHODS:
                needs[CSRF] = []
            if needs:
                operation["security"] = [needs]
            invalid = operation.get("responses", {}).get("422")
            if invalid is not None:
                invalid["description"] = DESCRIPTIONS[422]
                invalid["content"] = {"application/json": {"schema": dict(_PROBLEM)}}
    schemas = components.get("schemas", {})
    for name in _FASTAPI_422:
        schemas.pop(name, None)
    return doc


def install(app: FastAPI) -> None:
    """Serve the refined document at the app's `openapi_url` (built once, on first use)."""
    build = app.openapi  # FastAPI's: builds the document once and caches it on the app
    refined: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        if not refined:
            refined.append(refine(build()))
        return refined[0]

    app.openapi = openapi  # type: ignore[method-assign]


def dumps(doc: dict[str, Any]) -> str:
    """The document as `docs/openapi.json` holds it."""
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
