"""Static front ends: the messenger and its loader, the console SPA and the demo site."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from pounce.services import visitors
from pounce.services.demo import DEMO_SITE_KEY
from pounce.services.runtime import Runtime

PACKAGE = Path(__file__).resolve().parent.parent
STATIC = PACKAGE / "static"
DEMO = PACKAGE / "demo_site"
DEMO_PAGES = {
    "": "index.html",
    "pricing": "pricing.html",
    "enterprise": "enterprise.html",
    "blog": "blog.html",
}

router = APIRouter(include_in_schema=False)


def _file(path: Path, *, cache: str = "no-cache") -> FileResponse:
    if not path.is_file():
        raise HTTPException(
            404 if path.parent.exists() else 503,
            "Not found." if path.parent.exists() else "The front end is not built: run `make`.",
        )
    return FileResponse(path, headers={"Cache-Control": cache})


def _inside(base: Path, rel: str) -> Path:
    target = (base / rel).resolve()
    if base.resolve() not in target.parents and target != base.resolve():
        raise HTTPException(404, "Not found.")
    return target


@router.get("/")
async def root() -> Response:
    return RedirectResponse("/app/")


@router.get("/messenger/loader.js")
async def loader() -> Response:
    response = _file(STATIC / "loader" / "loader.js", cache="public, max-age=300")
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@router.get("/messenger/frame.html")
async def messenger_frame(request: Request) -> Response:
    """The messenger iframe; only pages of the site's allowed origins may embed it."""
    rt: Runtime = request.app.state.runtime
    site_key = request.query_params.get("site_key", "")[:64]
    site = await visitors.find_site(rt, site_key) if site_key else None
    if site is None:
        raise HTTPException(404, "Unknown site key.")
    ancestors = " ".join(["'self'", *(o for o in site.allowed_origins if o != "*")])
    if "*" in site.allowed_origins:
        ancestors = "*"
    response = _file(STATIC / "messenger" / "frame.html")
    response.headers["Content-Security-Policy"] = (
        f"frame-ancestors {ancestors}; default-src 'self'; img-src https: http: data:; "
        "style-src 'self' 'unsafe-inline'; connect-src 'self' ws: wss:; media-src 'self' blob:; "
        "object-src 'none'; base-uri 'none'"
    )
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    return response


@router.get("/messenger/assets/{rest:path}")
async def messenger_assets(rest: str) -> Response:
    base = STATIC / "messenger" / "assets"
    return _file(_inside(base, rest), cache="public, max-age=31536000, immutable")


@router.get("/app")
async def console_redirect() -> Response:
    return RedirectResponse("/app/")


@router.get("/app/{rest:path}")
async def console(rest: str) -> Response:
    base = STATIC / "console"
    if rest.startswith("assets/"):
        return _file(_inside(base, rest), cache="public, max-age=31536000, immutable")
    candidate = _inside(base, rest) if rest else base / "index.html"
    if rest and candidate.is_file():
        return _file(candidate)
    response = _file(base / "index.html")
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src https: http: data:; style-src 'self' 'unsafe-inline'; "
        "connect-src 'self' ws: wss:; media-src 'self' blob:; object-src 'none'; "
        "base-uri 'none'; frame-ancestors 'none'"
    )
    return response


@router.get("/demo")
async def demo_redirect() -> Response:
    return RedirectResponse("/demo/")


@router.get("/demo/{page:path}")
async def demo(page: str) -> Response:
    page = page.strip("/")
    if page.endswith((".css", ".svg", ".png", ".jpg")):
        return _file(_inside(DEMO, page), cache="public, max-age=300")
    name = DEMO_PAGES.get(page.removesuffix(".html").removesuffix("index"))
    if name is None:
        raise HTTPException(404, "No such demo page.")
    html = (DEMO / name).read_text(encoding="utf-8")
    return HTMLResponse(html.replace("__POUNCE_SITE_KEY__", DEMO_SITE_KEY))
