"""One error shape for every refusal of the REST API (`Problem`), the handlers that send it
and the helper that documents it per route, so the OpenAPI document and the answers agree."""

from __future__ import annotations

import re
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from pounce.services.errors import ServiceError
from pounce.store.db import StoreUnavailable

# The `code` of a refusal that carries only an HTTP status.
STATUS_CODES: Final[dict[int, str]] = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    503: "unavailable",
}

DESCRIPTIONS: Final[dict[int, str]] = {
    400: "The request body could not be read (not JSON, or not UTF-8).",
    401: "Not signed in, or a wrong email or password.",
    403: "Missing or wrong X-CSRF-Token header on a write, or the rep's role may not do this.",
    404: "No such item in the rep's org.",
    409: "Conflicts with the current state (a duplicate name or email, a closed conversation).",
    413: "The upload is too large.",
    415: "The body's media type is not accepted here.",
    422: "The parameters or body do not match the schema; `errors` says where.",
    429: "Too many attempts; `Retry-After` says when to retry.",
    503: "The database is unreachable; retry shortly.",
}


class Issue(BaseModel):
    """One validation problem: where (`loc`), what (`msg`) and its kind (`type`)."""

    model_config = ConfigDict(extra="forbid")

    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """Every error answer of the API. `detail` is for people, `code` for programs."""

    model_config = ConfigDict(extra="forbid")

    detail: str
    code: str
    errors: list[Issue] | None = Field(default=None, description="422: each problem found.")
    retry_after_seconds: int | None = Field(default=None, description="429: when to retry.")


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses` entry documenting `statuses` with the one error model."""
    return {s: {"model": Problem, "description": DESCRIPTIONS[s]} for s in statuses}


def problem(
    status: int,
    detail: str,
    *,
    code: str | None = None,
    issues: list[Issue] | None = None,
    retry_after: int | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        detail=detail,
        code=code or STATUS_CODES.get(status, "error"),
        errors=issues,
        retry_after_seconds=retry_after,
    )
    headers = dict(headers or {})
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


def service_error_response(exc: ServiceError) -> JSONResponse:
    retry = exc.extra.get("retry_after_seconds")
    return problem(
        exc.http_status,
        exc.message,
        code=exc.code,
        retry_after=int(retry) if isinstance(retry, int | float) else None,
    )


def _where(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if len(parts) > 1 and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:]
    return ".".join(parts)


def validation_response(exc: RequestValidationError) -> JSONResponse:
    """422 with each problem; the offending input is never echoed (it may be a password)."""
    issues = [
        Issue(
            loc=[p if isinstance(p, int) else str(p) for p in e.get("loc", ())],
            msg=str(e.get("msg", "")),
            type=str(e.get("type", "")),
        )
        for e in exc.errors()
    ]
    detail = "; ".join(f"{_where(i.loc)}: {i.msg}" if i.loc else i.msg for i in issues)
    return problem(422, detail or "Invalid request.", issues=issues)


Methods = tuple[re.Pattern[str], int, frozenset[str]]


def _method_table(app: FastAPI) -> list[Methods]:
    """Per documented path: a pattern, its number of parameters and its methods."""
    table: list[Methods] | None = getattr(app.state, "method_table", None)
    if table is None:
        table = []
        for path, operations in app.openapi()["paths"].items():
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path))
            methods = {m.upper() for m in operations}
            if "GET" in methods:
                methods.add("HEAD")
            table.append((re.compile(pattern), path.count("{"), frozenset(methods)))
        app.state.method_table = table
    return table


def allowed_methods(request: Request) -> list[str]:
    """The methods of the documented path this request's path is (for `Allow` on a 405).
    As in OpenAPI, a concrete path wins over a templated one (`/shortcuts/menu` over
    `/shortcuts/{shortcut_id}`)."""
    path = request.url.path
    matches = [
        (n, methods)
        for pattern, n, methods in _method_table(request.app)
        if pattern.fullmatch(path)
    ]
    if not matches:
        return []
    fewest = min(n for n, _ in matches)
    return sorted(set().union(*(methods for n, methods in matches if n == fewest)))


def install(app: FastAPI) -> None:
    """Send every refusal of `app` as a `Problem`."""

    @app.exception_handler(ServiceError)
    async def _service_error(_request: Request, exc: ServiceError) -> JSONResponse:
        return service_error_response(exc)

    @app.exception_handler(StoreUnavailable)
    async def _store_down(_request: Request, _exc: StoreUnavailable) -> JSONResponse:
        return problem(503, "The database is unreachable; retry shortly.")

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405 and (allowed := allowed_methods(request)):
            headers["Allow"] = ", ".join(allowed)
        return problem(exc.status_code, str(exc.detail), headers=headers)
