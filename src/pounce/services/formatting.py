"""The one safe renderer for chat messages, shortcuts and bot texts: Markdown subset to HTML."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from typing import Final
from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

__all__ = [
    "ALLOWED_ATTRIBUTES",
    "ALLOWED_TAGS",
    "ALLOWED_URL_SCHEMES",
    "IMAGE_URL_SCHEMES",
    "LINK_REL",
    "LINK_TARGET",
    "render_markdown",
]

ALLOWED_TAGS: Final[frozenset[str]] = frozenset({"p", "br", "strong", "em", "a", "img", "code"})
ALLOWED_ATTRIBUTES: Final[dict[str, frozenset[str]]] = {
    "a": frozenset({"href", "target", "rel"}),
    "img": frozenset({"src", "alt", "loading", "class"}),
}
ALLOWED_URL_SCHEMES: Final[frozenset[str]] = frozenset({"http", "https", "mailto"})
IMAGE_URL_SCHEMES: Final[frozenset[str]] = frozenset({"http", "https"})
LINK_TARGET: Final = "_blank"
LINK_REL: Final = "noopener noreferrer nofollow"
IMAGE_CLASS: Final = "msg-img"
IMAGE_LOADING: Final = "lazy"
BARE_IMAGE_ALT: Final = "image"

_IMAGE_EXTENSIONS: Final = (".gif", ".png", ".jpg", ".jpeg", ".webp")
_GIPHY_MEDIA_PATH: Final = re.compile(r"/media/[A-Za-z0-9_-]+/giphy\.gif", re.IGNORECASE)
_LINK_PREFIXES: Final = ("http://", "https://", "mailto:")
_IMAGE_PREFIXES: Final = ("http://", "https://")


def _has_prefix(url: str, prefixes: tuple[str, ...]) -> bool:
    """True when ``url`` (trimmed, case-folded) starts with one prefix and has more after it."""
    lowered = url.strip().lower()
    return any(lowered.startswith(p) and len(lowered) > len(p) for p in prefixes)


def _is_link_url(url: str) -> bool:
    """True for http(s):// and mailto: URLs only (no relative, no protocol-relative)."""
    return _has_prefix(url, _LINK_PREFIXES)


def _is_image_src(url: str) -> bool:
    """True for absolute http(s) URLs only."""
    return _has_prefix(url, _IMAGE_PREFIXES)


def _is_image_url(url: str) -> bool:
    """True when a bare (linkified) URL points at an image and should be shown inline."""
    if not _is_image_src(url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    path = parts.path
    if host == "i.giphy.com":
        return path not in ("", "/")
    if host == "media.giphy.com" and _GIPHY_MEDIA_PATH.fullmatch(path):
        return True
    return path.lower().endswith(_IMAGE_EXTENSIONS)


class _ChatMarkdown(MarkdownIt):
    """MarkdownIt whose link validator only admits http(s) and mailto destinations."""

    def validateLink(self, url: str) -> bool:
        return _is_link_url(url)


def _image_token(src: str, alt: str) -> Token:
    token = Token("image", "img", 0)
    token.attrs = {"src": src, "alt": ""}
    text = Token("text", "", 0)
    text.content = alt
    token.children = [text]
    token.content = alt
    return token


def _is_placeholder(children: list[Token], out: list[Token], i: int, token: Token) -> bool:
    """A linkified `{company.name}` is a shortcut placeholder, not the domain company.name."""
    if token.markup != "linkify" or i + 2 >= len(children) or not out:
        return False
    before, after = out[-1], children[i + 2]
    return (
        before.type == "text"
        and before.content.endswith("{")
        and after.type == "link_close"
        and i + 3 < len(children)
        and children[i + 3].type == "text"
        and children[i + 3].content.startswith("}")
    )


def _postprocess_links(state: StateCore) -> None:
    """Core rule: drop links with a refused href; a linkified image URL becomes an image link.

    ``validateLink`` already refuses bad destinations; dropping here is defence in depth.
    A bare image URL becomes ``<a href=URL ...><img src=URL ...></a>``.
    """
    for block in state.tokens:
        children = block.children
        if block.type != "inline" or not children:
            continue
        out: list[Token] = []
        kept: list[bool] = []  # one entry per open link: was its link_open kept?
        i = 0
        while i < len(children):
            token = children[i]
            if token.type == "link_open":
                href = str(token.attrGet("href") or "")
                if not _is_link_url(href) or _is_placeholder(children, out, i, token):
                    kept.append(False)
                    i += 1
                    continue
                if (
                    token.markup == "linkify"
                    and _is_image_url(href)
                    and i + 2 < len(children)
                    and children[i + 1].type == "text"
                    and children[i + 2].type == "link_close"
                ):
                    out.extend((token, _image_token(href, BARE_IMAGE_ALT), children[i + 2]))
                    i += 3
                    continue
                kept.append(True)
            elif token.type == "link_close" and kept and not kept.pop():
                i += 1
                continue
            out.append(token)
            i += 1
        block.children = out


def _render_link_open(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    href = escapeHtml(str(tokens[idx].attrGet("href") or ""))
    return f'<a href="{href}" target="{LINK_TARGET}" rel="{LINK_REL}">'


def _render_link_close(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return "</a>"


def _render_image(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env)
    src = str(token.attrGet("src") or "")
    if not _is_image_src(src):
        return escapeHtml(alt)
    return (
        f'<img src="{escapeHtml(src)}" alt="{escapeHtml(alt)}" '
        f'loading="{IMAGE_LOADING}" class="{IMAGE_CLASS}">'
    )


def _render_const(html: str) -> Callable[..., str]:
    def rule(
        self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        return html

    return rule


def _build_markdown() -> MarkdownIt:
    md = _ChatMarkdown("zero", {"html": False, "linkify": True, "breaks": True})
    md.enable(["emphasis", "link", "image", "linkify", "newline", "escape", "backticks"])
    md.core.ruler.after("linkify", "pounce_links", _postprocess_links)
    md.add_render_rule("link_open", _render_link_open)
    md.add_render_rule("link_close", _render_link_close)
    md.add_render_rule("image", _render_image)
    md.add_render_rule("paragraph_open", _render_const("<p>"))
    md.add_render_rule("paragraph_close", _render_const("</p>"))
    md.add_render_rule("softbreak", _render_const("<br>"))
    md.add_render_rule("hardbreak", _render_const("<br>"))
    return md


def _nh3_attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    if tag == "img" and attribute == "src":
        return value if _is_image_src(value) else None
    if tag == "a" and attribute == "href":
        return value if _is_link_url(value) else None
    return value


_FIXED_VALUES: Final[Mapping[str, Mapping[str, frozenset[str]]]] = {
    "a": {"target": frozenset({LINK_TARGET})},
    "img": {"loading": frozenset({IMAGE_LOADING}), "class": frozenset({IMAGE_CLASS})},
}

_MD: Final = _build_markdown()
_CLEANER: Final = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags={"script", "style"},
    # rel is written by nh3 itself (link_rel); target/loading/class are pinned to one value.
    attributes={
        tag: set(attrs - {"rel"} - set(_FIXED_VALUES.get(tag, {})))
        for tag, attrs in ALLOWED_ATTRIBUTES.items()
    },
    tag_attribute_values={
        tag: {attr: set(values) for attr, values in attrs.items()}
        for tag, attrs in _FIXED_VALUES.items()
    },
    attribute_filter=_nh3_attribute_filter,
    url_schemes=set(ALLOWED_URL_SCHEMES),
    url_relative="deny",
    link_rel=LINK_REL,
    strip_comments=True,
)


# linkify-it compiles its regexes lazily; pay that once at import, not on the first message.
_CLEANER.clean(_MD.render("https://example.com/a.png a@example.com **x**"))


_PLAIN_ASCII: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,?!'\"()%+=-;#/.:[]\n"
)
# `:` and brackets are plain unless they can start a link: a scheme linkify knows
# (http, https, ftp, mailto), an inline or reference link, or a reference definition.
_EXTRA_UNICODE: Final = frozenset("\u200d\ufe0f")
_DOT_BEFORE_WORD: Final = re.compile(r"\.[^\s.,?!'\")0-9]")


_PLAIN_ASCII_TEXT: Final = re.compile(
    "[" + re.escape("".join(sorted(_PLAIN_ASCII))).replace("\\\n", "\n") + "]*"
)


def _plain_chars(body: str) -> bool:
    if body.isascii():
        return _PLAIN_ASCII_TEXT.fullmatch(body) is not None
    return all(_plain_char(c) for c in body)


def _plain_char(ch: str) -> bool:
    if ch in _PLAIN_ASCII:
        return True
    if ch < "\x80":
        return False
    return ch in _EXTRA_UNICODE or unicodedata.category(ch)[0] in "LNS"


def render_plain(body: str) -> str | None:
    """The renderer's exact output for plain chat text, without parsing; None if not plain.

    Most chat messages are a sentence or two with no markup, and parsing them is most of
    the cost of storing a message. Plain means: letters, digits, emoji, simple
    punctuation, single spaces and single line breaks; no dot starting a word (which
    linkify may turn into a domain), no URL scheme and no bracket pair that could be a
    link. A property test checks this equals the full path.
    """
    if not body or body[0] in " \n" or body[-1] in " \n":
        return None
    if "  " in body or "\n\n" in body or " \n" in body or "\n " in body:
        return None
    if _DOT_BEFORE_WORD.search(body) or not _plain_chars(body):
        return None
    if ":" in body:
        lowered = body.lower()
        if "http:" in lowered or "https:" in lowered or "ftp:" in lowered or "mailto:" in lowered:
            return None
    if ("[" in body or "]" in body) and (
        "](" in body or "]:" in body or "][" in body or "[]" in body
    ):
        return None
    if body.lstrip("-=+#0123456789. ").startswith(("-", "=")) or body.startswith("#"):
        return None
    return "<p>" + body.replace("\n", "<br>") + "</p>"


def render_markdown(body: str) -> str:
    """Render a chat message's Markdown subset to sanitised HTML."""
    plain = render_plain(body)
    if plain is not None:
        return plain
    return _CLEANER.clean(_MD.render(body))
