"""docs/openapi.json is the REST API's document exactly as the code states it, and that
document gives every route an answer shape and every refusal the one error model."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from pounce.api.openapi import dumps
from pounce.cli import openapi_document as _build

openapi_document = functools.cache(_build)

DOC = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
PROBLEM = {"$ref": "#/components/schemas/Problem"}


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, operations in doc["paths"].items()
        for method, operation in operations.items()
    ]


def test_the_published_document_matches_the_code() -> None:
    assert DOC.read_text(encoding="utf-8") == dumps(openapi_document()), (
        "docs/openapi.json is stale: run `pounce openapi`"
    )


def test_every_answer_has_a_documented_shape() -> None:
    doc = openapi_document()
    operations = _operations(doc)
    assert len(operations) > 50
    for method, path, operation in operations:
        ok = {s: r for s, r in operation["responses"].items() if s.startswith("2")}
        assert len(ok) == 1, (method, path, ok)
        status, answer = next(iter(ok.items()))
        if status == "204":
            assert "content" not in answer, (method, path)
            continue
        [(media_type, content)] = answer["content"].items()
        schema = content["schema"]
        if media_type == "text/event-stream":
            assert path.endswith("/stream"), (method, path)
        else:
            assert media_type == "application/json", (method, path)
            assert schema.get("$ref", "").startswith("#/components/schemas/"), (method, path)


# Routes for people who are not signed in: signing in, the console's start probe, the
# first-run set-up and set-password links (the link's token is the credential).
PUBLIC = {
    ("POST", "/api/v1/session"),
    ("GET", "/api/v1/console/start"),
    ("POST", "/api/v1/setup"),
    ("POST", "/api/v1/set-password/check"),
    ("POST", "/api/v1/set-password"),
}


def test_every_refusal_is_a_problem() -> None:
    doc = openapi_document()
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    for method, path, operation in _operations(doc):
        refusals = {s: r for s, r in operation["responses"].items() if s[0] in "45"}
        assert {"401", "503"} <= set(refusals), (method, path)
        for status, answer in refusals.items():
            assert answer["content"] == {"application/json": {"schema": PROBLEM}}, (
                method,
                path,
                status,
            )
        writes = method not in {"GET", "HEAD"}
        if (method, path) not in PUBLIC:
            assert operation["security"] == (
                [{"session": [], "csrf": []}] if writes else [{"session": []}]
            ), (method, path)
            if writes:
                assert "403" in refusals, (method, path)
        if "{" in path:
            assert "404" in refusals, (method, path)
        has_input = "requestBody" in operation or operation.get("parameters")
        assert ("422" in refusals) == bool(has_input), (method, path)
        if "requestBody" in operation:
            assert "400" in refusals, (method, path)
