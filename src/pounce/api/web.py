"""Static front ends: the messenger and its loader, the console SPA and the demo site.

Hashed assets are immutable and sent pre-compressed (brotli or gzip, built beside each
file by web/scripts/compress.mjs) as Accept-Encoding allows; HTML and the loader
revalidate with an ETag on every use."""

from __future__ import annotations

import hashlib
import mimetypes
import stat
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from pounce.api import sockets
from pounce.services import blocks, visitors
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
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# Our preference among the encodings a client accepts equally: the smaller first.
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))
TEXT_TYPES = ("text/", "application/javascript", "application/json", "image/svg+xml")

router = APIRouter(include_in_schema=False)


def accepted_encodings(header: str | None) -> list[str]:
    """The content codings of an Accept-Encoding header that the client takes, best first
    (by q-value, then our preference); "identity" is among them unless refused."""
    q: dict[str, float] = {}
    for item in (header or "").split(","):
        name, _, params = item.strip().partition(";")
        name = name.strip().lower()
        if not name:
            continue
        weight = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    weight = 0.0
        q["gzip" if name == "x-gzip" else name] = weight
    star = q.get("*")
    taken = []
    for rank, name in enumerate([*(name for name, _ in ENCODINGS), "identity"]):
        # "*" stands for every coding not named; identity is acceptable unless refused.
        unnamed = star if star is not None else (1.0 if name == "identity" else 0.0)
        weight = q.get(name, unnamed)
        if weight > 0:
            taken.append((-weight, rank, name))
    return [name for _, _, name in sorted(taken)]


@dataclass(frozen=True, slots=True)
class Loaded:
    body: bytes
    etag: str


@lru_cache(maxsize=256)
def _load(path: Path, mtime_ns: int, size: int) -> Loaded:
    """A file's bytes and a strong ETag of them (the same on every node of a deploy);
    keyed by mtime and size so a rebuild is picked up. Bounded by the static tree."""
    body = path.read_bytes()
    return Loaded(body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


def _read(path: Path) -> Loaded | None:
    try:
        info = path.stat()
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    return _load(path, info.st_mtime_ns, info.st_size)


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


def _media_type(path: Path) -> str:
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"{kind}; charset=utf-8" if kind.startswith(TEXT_TYPES) else kind


def send_file(
    request: Request, path: Path, *, cache: str, headers: dict[str, str] | None = None
) -> Response:
    """`path`, or its pre-compressed copy the client accepts, with caching headers; 304
    when the client's copy (If-None-Match) is current."""
    if path.name.endswith((".br", ".gz")):
        raise HTTPException(404, "Not found.")
    plain = _read(path)
    if plain is None:
        built = path.parent.exists()
        raise HTTPException(
            404 if built else 503,
            "Not found." if built else "The front end is not built: run `make`.",
        )
    chosen, encoding = plain, None
    for name in accepted_encodings(request.headers.get("accept-encoding")):
        suffix = dict(ENCODINGS).get(name)
        variant = _read(path.with_name(path.name + suffix)) if suffix else None
        if variant is not None:
            chosen, encoding = variant, name
            break
        if name == "identity":
            break
    out = {
        "Cache-Control": cache,
        "ETag": chosen.etag,
        "Vary": "Accept-Encoding",
        **(headers or {}),
    }
    if encoding:
        out["Content-Encoding"] = encoding
    if _matches(request.headers.get("if-none-match"), chosen.etag):
        out.pop("Content-Encoding", None)
        return Response(status_code=304, headers=out)
    return Response(chosen.body, media_type=_media_type(path), headers=out)


def send_html(request: Request, body: bytes, *, headers: dict[str, str] | None = None) -> Response:
    """Generated HTML: revalidated by an ETag of its bytes."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    out = {"Cache-Control": REVALIDATE, "ETag": etag, **(headers or {})}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=out)
    return Response(body, media_type="text/html; charset=utf-8", headers=out)


def _inside(base: Path, rel: str) -> Path:
    target = (base / rel).resolve()
    if base.resolve() not in target.parents and target != base.resolve():
        raise HTTPException(404, "Not found.")
    return target


@router.get("/")
async def root() -> Response:
    return RedirectResponse("/app/")


@router.get("/messenger/loader.js")
async def loader(request: Request) -> Response:
    # Unhashed (sites paste a stable URL), so it revalidates on every use.
    return send_file(
        request,
        STATIC / "loader" / "loader.js",
        cache=REVALIDATE,
        headers={"Access-Control-Allow-Origin": "*"},
    )


@router.get("/messenger/embed")
async def messenger_embed(request: Request) -> Response:
    """May the messenger of `site_key` show on pages of origin `host`? The loader asks
    before it makes the frame, so a refused page shows nothing (advisory: the frame's
    frame-ancestors and the socket's origin check are what enforce it)."""
    rt: Runtime = request.app.state.runtime
    site_key = request.query_params.get("site_key", "")[:64]
    host = visitors.origin_of(request.query_params.get("host", "")[:300])
    token = request.query_params.get("visitor", "")[:1000] or None
    site = await visitors.find_site(rt, site_key) if site_key else None
    own = visitors.origin_of(rt.settings.resolved_public_url())
    if not rt.guard.watching:  # this node's copy of the IP blocks follows their changes
        await blocks.watch(rt, sockets.on_block)
    if site is None:
        answer: dict[str, object] = {"allowed": False, "reason": "unknown_site"}
    elif not visitors.origin_allowed(site, host, own_origin=own):
        answer = {"allowed": False, "reason": "origin"}
    elif await blocks.refused(
        rt,
        org_id=site.org_id,
        client_ip=request.client.host if request.client else None,
        token=token,
    ):
        answer = {"allowed": False, "reason": "blocked"}
    else:
        answer = {"allowed": True}
    return JSONResponse(
        answer,
        headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "no-store"},
    )


@router.get("/messenger/frame.html")
async def messenger_frame(request: Request) -> Response:
    """The messenger iframe; only pages of the site's allowed origins may embed it."""
    rt: Runtime = request.app.state.runtime
    site_key = request.query_params.get("site_key", "")[:64]
    site = await visitors.find_site(rt, site_key) if site_key else None
    if site is None:
        raise HTTPException(404, "Unknown site key.")
    client_ip = request.client.host if request.client else None
    if await blocks.ip_blocked(rt, site.org_id, client_ip):
        raise HTTPException(403, "This address is blocked.")
    ancestors = " ".join(["'self'", *(o for o in site.allowed_origins if o != "*")])
    if "*" in site.allowed_origins:
        ancestors = "*"
    return send_file(
        request,
        STATIC / "messenger" / "frame.html",
        cache=REVALIDATE,
        headers={
            "Content-Security-Policy": (
                f"frame-ancestors {ancestors}; default-src 'self'; img-src https: http: data:; "
                "style-src 'self' 'unsafe-inline'; connect-src 'self' ws: wss:; "
                "media-src 'self' blob:; object-src 'none'; base-uri 'none'"
            ),
            "Referrer-Policy": "strict-origin-when-cross-origin",
        },
    )


@router.get("/messenger/assets/{rest:path}")
async def messenger_assets(rest: str, request: Request) -> Response:
    base = STATIC / "messenger" / "assets"
    return send_file(request, _inside(base, rest), cache=IMMUTABLE)


@router.get("/app")
async def console_redirect() -> Response:
    return RedirectResponse("/app/")


@router.get("/app/{rest:path}")
async def console(rest: str, request: Request) -> Response:
    base = STATIC / "console"
    if rest.startswith("assets/"):
        return send_file(request, _inside(base, rest), cache=IMMUTABLE)
    candidate = _inside(base, rest) if rest else base / "index.html"
    if rest and candidate.is_file():
        return send_file(request, candidate, cache=REVALIDATE)
    return send_file(
        request,
        base / "index.html",
        cache=REVALIDATE,
        headers={
            "Content-Security-Policy": (
                "default-src 'self'; img-src https: http: data:; "
                "style-src 'self' 'unsafe-inline'; connect-src 'self' ws: wss:; "
                "media-src 'self' blob:; object-src 'none'; base-uri 'none'; "
                "frame-ancestors 'none'"
            )
        },
    )


@router.get("/demo")
async def demo_redirect() -> Response:
    return RedirectResponse("/demo/")


@router.get("/demo/{page:path}")
async def demo(page: str, request: Request) -> Response:
    page = page.strip("/")
    if page.endswith((".css", ".svg", ".png", ".jpg", ".ico")):
        return send_file(request, _inside(DEMO, page), cache=REVALIDATE)
    name = DEMO_PAGES.get(page.removesuffix(".html").removesuffix("index"))
    if name is None:
        raise HTTPException(404, "No such demo page.")
    html = (DEMO / name).read_text(encoding="utf-8")
    return send_html(request, html.replace("__POUNCE_SITE_KEY__", DEMO_SITE_KEY).encode())
