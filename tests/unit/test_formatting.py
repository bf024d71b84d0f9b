"""Unit tests for the chat message renderer (pounce.services.formatting)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pounce.services import formatting
from pounce.services.formatting import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, render_markdown

A = '<a href="{}" target="_blank" rel="noopener noreferrer nofollow">'
IMG = '<img src="{}" alt="{}" loading="lazy" class="msg-img">'


def _image_link(url: str) -> str:
    return A.format(url) + IMG.format(url, "image") + "</a>"


EXPECTED: list[tuple[str, str, str]] = [
    ("bold", "**bold**", "<p><strong>bold</strong></p>"),
    ("italic", "*italic*", "<p><em>italic</em></p>"),
    ("italic underscore", "_italic_", "<p><em>italic</em></p>"),
    ("bold italic", "***both***", "<p><em><strong>both</strong></em></p>"),
    (
        "link",
        "[docs](https://example.com/a?b=1&c=2)",
        "<p>" + A.format("https://example.com/a?b=1&amp;c=2") + "docs</a></p>",
    ),
    (
        "image",
        "![a cat](https://example.com/cat.png)",
        "<p>" + IMG.format("https://example.com/cat.png", "a cat") + "</p>",
    ),
    (
        "clickable image",
        "[![a cat](https://example.com/cat.png)](https://example.com/cats)",
        "<p>"
        + A.format("https://example.com/cats")
        + IMG.format("https://example.com/cat.png", "a cat")
        + "</a></p>",
    ),
    (
        "bare url",
        "see https://example.com/pricing now",
        "<p>see "
        + A.format("https://example.com/pricing")
        + "https://example.com/pricing</a> now</p>",
    ),
    (
        "fuzzy bare domain",
        "example.com",
        "<p>" + A.format("http://example.com") + "example.com</a></p>",
    ),
    (
        "giphy url",
        "https://media.giphy.com/media/3o7TKSjRrfIPjeiVyM/giphy.gif",
        "<p>" + _image_link("https://media.giphy.com/media/3o7TKSjRrfIPjeiVyM/giphy.gif") + "</p>",
    ),
    (
        "i.giphy url",
        "https://i.giphy.com/3o7TKSjRrfIPjeiVyM.webp",
        "<p>" + _image_link("https://i.giphy.com/3o7TKSjRrfIPjeiVyM.webp") + "</p>",
    ),
    (
        "plain image url",
        "look https://example.com/img/Photo.JPEG",
        "<p>look " + _image_link("https://example.com/img/Photo.JPEG") + "</p>",
    ),
    (
        "image url with query",
        "https://example.com/a.gif?w=200",
        "<p>" + _image_link("https://example.com/a.gif?w=200") + "</p>",
    ),
    (
        "explicit link to an image keeps its text",
        "[the gif](https://example.com/a.gif)",
        "<p>" + A.format("https://example.com/a.gif") + "the gif</a></p>",
    ),
    ("line break", "line one\nline two", "<p>line one<br>line two</p>"),
    ("crlf line break", "line one\r\nline two", "<p>line one<br>line two</p>"),
    ("paragraphs", "one\n\ntwo", "<p>one</p><p>two</p>"),
    ("emoji", "thanks 🎉👍🏽", "<p>thanks 🎉👍🏽</p>"),
    (
        "mailto link",
        "[mail us](mailto:sales@example.com)",
        "<p>" + A.format("mailto:sales@example.com") + "mail us</a></p>",
    ),
    (
        "bare email",
        "sales@example.com",
        "<p>" + A.format("mailto:sales@example.com") + "sales@example.com</a></p>",
    ),
    ("javascript link", "[x](javascript:alert(1))", "<p>[x](javascript:alert(1))</p>"),
    (
        "data image",
        "![x](data:image/png;base64,AAAA)",
        "<p>![x](data:image/png;base64,AAAA)</p>",
    ),
    ("mailto image is its alt text", "![hi](mailto:a@example.com)", "<p>hi</p>"),
    ("protocol-relative link", "[x](//evil.example)", "<p>[x](//evil.example)</p>"),
    ("relative link", "[x](/admin)", "<p>[x](/admin)</p>"),
    ("inline code", "`<b>x</b>`", "<p><code>&lt;b&gt;x&lt;/b&gt;</code></p>"),
    ("raw html is text", "<b>hi</b>", "<p>&lt;b&gt;hi&lt;/b&gt;</p>"),
    ("heading is text", "# hi", "<p># hi</p>"),
    ("list is text", "- a\n- b", "<p>- a<br>- b</p>"),
    ("escaped star", r"\*not italic\*", "<p>*not italic*</p>"),
    ("empty", "", ""),
    ("whitespace", "  \n ", ""),
]


@pytest.mark.parametrize(
    ("body", "expected"), [(b, e) for _, b, e in EXPECTED], ids=[i for i, _, _ in EXPECTED]
)
def test_render_exact(body: str, expected: str) -> None:
    assert render_markdown(body) == expected


class _Checker(HTMLParser):
    """Collects every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_endtag(self, tag: str) -> None:
        assert tag in ALLOWED_TAGS, tag


_BAD_PREFIXES = ("javascript:", "data:", "vbscript:")


def _squash(value: str) -> str:
    """Lowercase and drop whitespace/control characters, as lenient browsers would."""
    return "".join(ch for ch in value.lower() if ch > " " and ch != "\x7f")


def assert_safe(html: str) -> None:
    assert "<script" not in html.lower()
    checker = _Checker()
    checker.feed(html)
    checker.close()
    for tag, attrs in checker.tags:
        assert tag in ALLOWED_TAGS, (tag, html)
        allowed = ALLOWED_ATTRIBUTES.get(tag, frozenset())
        for name, value in attrs:
            assert name in allowed, (tag, name, html)
            assert value is not None, (tag, name, html)
            assert not _squash(value).startswith(_BAD_PREFIXES), (tag, name, value)
            if name == "href":
                assert value.lower().startswith(("http://", "https://", "mailto:")), value
            if name == "src":
                assert value.lower().startswith(("http://", "https://")), value
            if name == "target":
                assert value == "_blank"
            if name == "rel":
                assert value == "noopener noreferrer nofollow"
            if name == "loading":
                assert value == "lazy"
            if name == "class":
                assert value == "msg-img"
        if tag == "a":
            # nh3 may still drop an href its URL parser rejects (e.g. an invalid IDNA host);
            # the link then stays inert text, but target/rel are always there.
            names = {n for n, _ in attrs}
            assert {"target", "rel"} <= names, html


XSS_VECTORS: list[str] = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<img src=x onerror=alert(1)>",
    '<img src="https://example.com/a.png" onerror="alert(1)">',
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<iframe src=javascript:alert(1)></iframe>",
    "<iframe srcdoc='<script>alert(1)</script>'>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="https://example.com" onclick="alert(1)">x</a>',
    '<p style="background:url(javascript:alert(1))">x</p>',
    "<style>*{background:url(javascript:alert(1))}</style>",
    "<body onload=alert(1)>",
    "<object data=javascript:alert(1)>",
    "<embed src=javascript:alert(1)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<!--<img src=x onerror=alert(1)>-->",
    "<details open ontoggle=alert(1)>",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x]( javascript:alert(1) )",
    "[x](<javascript:alert(1)>)",
    "[x](javascript&#58;alert(1))",
    "[x](javascript&#x3A;alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](java\tscript:alert(1))",
    "[x](java%0ascript:alert(1))",
    "[x](\x00javascript:alert(1))",
    "[x](\u200bjavascript:alert(1))",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](file:///etc/passwd)",
    "[x](//evil.example)",
    "![x](javascript:alert(1))",
    '![x](x" onerror="alert(1))',
    '![x](https://example.com/a.png" onerror="alert(1))',
    '![x" onerror="alert(1)](https://example.com/a.png)',
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "![x](data:image/png;base64,AAAA)",
    "[![x](javascript:alert(1))](javascript:alert(1))",
    "[![x](https://example.com/a.png)](javascript:alert(1))",
    "[[x](javascript:alert(1))](https://example.com)",
    '[x](https://example.com "title" onmouseover=alert(1))',
    '[x](https://example.com"onmouseover="alert(1))',
    "[<img src=x onerror=alert(1)>](https://example.com)",
    "**<script>alert(1)</script>**",
    "`<script>alert(1)</script>`",
    "javascript:alert(1)",
    'https://example.com/"><script>alert(1)</script>',
    'https://example.com/a.png"onerror="alert(1)',
    "https://example.com/<svg/onload=alert(1)>.gif",
    "[x][1]\n\n[1]: javascript:alert(1)",
    "<a href='vbscript:msgbox(1)'>x</a>",
    '<a href="&#x6A;avascript:alert(1)">x</a>',
    "\uff1cscript\uff1ealert(1)\uff1c/script\uff1e",
    "<scri\u0000pt>alert(1)</script>",
    "[x](https://example.com/\u202e)",
    "<base href=javascript:/>",
    "<meta http-equiv=refresh content=0;url=javascript:alert(1)>",
    "<form action=javascript:alert(1)><button>x</button></form>",
    "<input autofocus onfocus=alert(1)>",
    "<<script>script>alert(1)<</script>/script>",
]


def test_xss_corpus_is_big_enough() -> None:
    assert len(XSS_VECTORS) >= 40


@pytest.mark.parametrize("body", XSS_VECTORS)
def test_xss_vector_is_neutralised(body: str) -> None:
    assert_safe(render_markdown(body))


FRAGMENTS = [
    "*",
    "**",
    "_",
    "[",
    "]",
    "](",
    ")",
    "![",
    "<",
    ">",
    "/",
    '"',
    "'",
    "`",
    "\\",
    "\n",
    " ",
    "&",
    "&#58;",
    "&#x6A;",
    "javascript:",
    "JaVaScRiPt:",
    "vbscript:",
    "data:",
    "mailto:",
    "http://",
    "https://",
    "//",
    "example.com",
    "a.png",
    ".gif",
    "onerror=",
    "alert(1)",
    "<script>",
    "<img src=x ",
    "<a href=",
    "style=",
    "\x00",
    "\u200b",
    "@",
]

markdownish = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), max_size=40).map(
    "".join
)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_fuzz_text_is_safe(body: str) -> None:
    assert_safe(render_markdown(body))


@settings(max_examples=300, deadline=None)
@given(markdownish)
def test_fuzz_markdownish_is_safe(body: str) -> None:
    assert_safe(render_markdown(body))


_FAST_ALPHABET = st.sampled_from(
    sorted(formatting._PLAIN_ASCII) + list("éü中😀👍🏽\u200d\ufe0f_*[]<>&@:~`\\\t\r\u00a0\u2028")
)
# Pieces near the fast path's edges: schemes, bracket pairs that make links, domains.
_EDGE_FRAGMENTS = st.sampled_from(
    [
        "http:",
        "HTTPS:",
        "ftp:",
        "mailto:",
        "//",
        "](",
        "]:",
        "][",
        "[]",
        "[x]",
        "[b:1:2]",
        "example.com",
        "a.b",
        "\n[x]: /u",
        "www",
        ":)",
        "Note: ",
        "1.2.3.4",
        "(",
        ")",
    ]
)
_FAST_TEXT = st.lists(st.one_of(_FAST_ALPHABET, _FAST_ALPHABET, _EDGE_FRAGMENTS), max_size=40).map(
    "".join
)


@settings(max_examples=3000, deadline=None)
@given(st.one_of(st.text(_FAST_ALPHABET, max_size=60), _FAST_TEXT))
def test_plain_fast_path_equals_the_full_renderer(body: str) -> None:
    fast = formatting.render_plain(body)
    if fast is not None:
        assert fast == formatting._CLEANER.clean(formatting._MD.render(body))


@pytest.mark.parametrize(
    "body",
    [
        "Hi there, how can I help?",
        "Sure!\nLet me check.",
        "Price is 3.5k per year",
        "ok 👍🏽",
        "Note: we open at 9:30",
        "Order [A-12] shipped",
    ],
)
def test_everyday_sentences_take_the_fast_path(body: str) -> None:
    assert formatting.render_plain(body) is not None
    assert formatting.render_markdown(body) == formatting._CLEANER.clean(
        formatting._MD.render(body)
    )


def test_placeholders_in_braces_are_not_linkified() -> None:
    html = render_markdown("Hi from {company.name}! see company.name")
    assert html.startswith('<p>Hi from {company.name}! see <a href="http://company.name"')
