"""The front ends go over the wire pre-compressed (brotli, gzip) as the client accepts,
hashed assets cached for good, HTML and the loader revalidated by ETag."""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from pathlib import Path

import brotli
import httpx
import pytest

from pounce.api.web import accepted_encodings
from tests.support.stack import Stack, drop_stack, in_ci, make_stack

STATIC = Path(__file__).resolve().parents[2] / "src" / "pounce" / "static"
IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not (STATIC / "messenger" / "frame.html").exists():
        if in_ci():
            pytest.fail("the front end is not built (make web)")
        pytest.skip("the front end is not built (make web)")
    stack: Stack = make_stack("embedded", tmp_path_factory.mktemp("static"))
    try:
        url = stack.start()
        stack.cli("demo")
        yield url
    finally:
        drop_stack(stack)


def fetch(url: str, accept: str | None, **headers: str) -> tuple[httpx.Response, bytes]:
    """The response and its body exactly as sent (still encoded)."""
    with httpx.Client() as c:
        del c.headers["accept-encoding"]  # httpx's default; None sends no header at all
        if accept is not None:
            c.headers["accept-encoding"] = accept
        with c.stream("GET", url, headers=headers) as res:
            return res, b"".join(res.iter_raw())


def messenger_assets(server: str) -> list[str]:
    """What the messenger frame loads: its hashed JS and CSS."""
    res, body = fetch(f"{server}/messenger/frame.html?site_key=sk_demo_acme", "identity")
    assert res.status_code == 200
    found = re.findall(r'(?:src|href)="(/messenger/assets/[^"]+)"', body.decode())
    assert any(a.endswith(".js") for a in found) and any(a.endswith(".css") for a in found)
    return found


@pytest.mark.parametrize(
    ("accept", "encoding", "decode"),
    [
        ("gzip, deflate, br, zstd", "br", brotli.decompress),
        ("gzip, deflate", "gzip", gzip.decompress),
        ("identity", None, lambda b: b),
        (None, None, lambda b: b),
    ],
)
def test_hashed_assets_go_compressed_and_immutable(
    server: str, accept: str | None, encoding: str | None, decode: object
) -> None:
    for asset in messenger_assets(server):
        plain = (STATIC / asset.removeprefix("/")).read_bytes()
        res, wire = fetch(server + asset, accept)
        assert res.status_code == 200
        assert res.headers.get("content-encoding") == encoding, asset
        assert res.headers["vary"] == "Accept-Encoding"
        assert res.headers["cache-control"] == IMMUTABLE
        assert int(res.headers["content-length"]) == len(wire)
        assert decode(wire) == plain  # type: ignore[operator]
        if encoding:
            assert len(wire) < len(plain) * 0.5, (asset, len(wire), len(plain))


def test_the_messenger_costs_a_third_on_the_wire(server: str) -> None:
    """Frame + JS + CSS: what a visitor's browser downloads for the messenger."""
    urls = [f"{server}/messenger/frame.html?site_key=sk_demo_acme"]
    urls += [server + a for a in messenger_assets(server)]
    sizes = {
        accept: sum(len(fetch(u, accept)[1]) for u in urls) for accept in ("identity", "gzip", "br")
    }
    assert sizes["br"] < sizes["gzip"] < sizes["identity"] / 2.5, sizes
    assert sizes["br"] < 18 * 1024, sizes


def test_q_values_choose_the_encoding(server: str) -> None:
    js = next(a for a in messenger_assets(server) if a.endswith(".js"))
    assert fetch(server + js, "br;q=0, gzip")[0].headers["content-encoding"] == "gzip"
    assert fetch(server + js, "br;q=0.5, gzip")[0].headers["content-encoding"] == "gzip"
    assert "content-encoding" not in fetch(server + js, "gzip;q=0, br;q=0")[0].headers
    assert "content-encoding" not in fetch(server + js, "deflate")[0].headers
    # The compressed copies are not resources of their own.
    assert fetch(server + js + ".br", "br")[0].status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/app/",
        "/messenger/frame.html?site_key=sk_demo_acme",
        "/messenger/loader.js",
        "/demo/",
        "/demo/favicon.svg",
    ],
)
def test_html_and_the_loader_revalidate(server: str, path: str) -> None:
    first, body = fetch(server + path, "gzip, br")
    assert first.status_code == 200 and body
    assert first.headers["cache-control"] == "no-cache"
    etag = first.headers["etag"]
    assert etag.startswith('"') and len(etag) > 10
    again, empty = fetch(server + path, "gzip, br", **{"If-None-Match": etag})
    assert again.status_code == 304 and empty == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == "no-cache"
    changed, body2 = fetch(server + path, "gzip, br", **{"If-None-Match": '"stale"'})
    assert changed.status_code == 200 and body2 == body


def test_the_loader_goes_compressed_to_any_site(server: str) -> None:
    res, wire = fetch(f"{server}/messenger/loader.js", "br")
    assert res.headers["content-encoding"] == "br"
    assert res.headers["access-control-allow-origin"] == "*"
    kind = res.headers["content-type"].split(";")[0]
    assert kind in {"text/javascript", "application/javascript"}
    assert brotli.decompress(wire) == (STATIC / "loader" / "loader.js").read_bytes()


def test_accept_encoding_parsing() -> None:
    assert accepted_encodings(None) == ["identity"]
    assert accepted_encodings("") == ["identity"]
    assert accepted_encodings("gzip, deflate, br, zstd") == ["br", "gzip", "identity"]
    assert accepted_encodings("br;q=0.5, gzip") == ["gzip", "identity", "br"]
    assert accepted_encodings("x-gzip") == ["gzip", "identity"]
    assert accepted_encodings("*") == ["br", "gzip", "identity"]
    assert accepted_encodings("br;q=0, *") == ["gzip", "identity"]
    assert accepted_encodings("*;q=0") == []
    assert accepted_encodings("gzip;q=0, identity;q=0") == []
    assert accepted_encodings("gzip;q=nonsense, br") == ["br", "identity"]
    assert accepted_encodings("GZIP;Q=0.9") == ["identity", "gzip"]
