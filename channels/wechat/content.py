"""Preparing an article: WeChat's limits, the allowed HTML, links as text, images listed for upload."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import nh3

from channels.base import ContentRejected

TITLE_MAX_CHARS = 32
AUTHOR_MAX_CHARS = 16
DIGEST_MAX_BYTES = 120
CONTENT_MAX_CHARS = 20_000  # strictly under
CONTENT_MAX_BYTES = 1_000_000  # strictly under
SOURCE_URL_MAX_BYTES = 1024

ALLOWED_TAGS = {
    "section", "p", "span", "strong", "b", "em", "i", "u", "a", "h1", "h2", "h3", "h4", "h5",
    "h6", "ul", "ol", "li", "blockquote", "pre", "code", "table", "thead", "tbody", "tfoot",
    "tr", "th", "td", "caption", "colgroup", "col", "img", "br", "hr", "sup", "sub",
}
ALLOWED_ATTRIBUTES = {
    "*": {"style"},
    "a": {"href"},
    "img": {"src", "alt", "data-ratio", "data-w"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "col": {"span"},
}
WECHAT_LINK_HOSTS = ("mp.weixin.qq.com",)

_TITLE = re.compile(r"\s*<title>(.*?)</title>\s*", re.S | re.I)
_LINK = re.compile(r"<a\b[^>]*?\bhref\s*=\s*([\"'])(.*?)\1[^>]*>(.*?)</a\s*>", re.S | re.I)
_IMG_SRC = re.compile(r"(<img\b[^>]*?\bsrc\s*=\s*)([\"'])(.*?)\2", re.S | re.I)
_TAG = re.compile(r"<[^>]+>")
_BLOCK_TAG = re.compile(
    r"</?(?:p|div|section|h[1-6]|li|ul|ol|tr|td|th|table|thead|tbody|br|hr|blockquote|pre)\b[^>]*>",
    re.I)
_SPACE = re.compile(r"\s+")


def rejected(field: str, limit: str, zh: str, en: str) -> ContentRejected:
    """A ContentRejected naming the field and the limit, with both staff texts."""
    return ContentRejected(f"{zh} / {en}", field=field, limit=limit,
                           explanation_zh=zh, explanation_en=en)


def split_title(body: str) -> tuple[str | None, str]:
    """A leading ``<title>`` in the rendered body is the WeChat title (at most 32 characters)."""
    match = _TITLE.match(body)
    if match is None:
        return None, body
    return html.unescape(_TAG.sub("", match.group(1))).strip(), body[match.end():]


def _is_wechat_link(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and parts.hostname in WECHAT_LINK_HOSTS


def links_as_text(body: str) -> str:
    """External ``<a href>`` become their text followed by the address; WeChat links stay."""

    def replace(match: re.Match[str]) -> str:
        url, text = html.unescape(match.group(2)), match.group(3)
        if _is_wechat_link(url):
            return match.group(0)
        plain = html.unescape(_TAG.sub("", text)).strip()
        if not url or url.startswith("#") or plain == url:
            return text
        return f"{text}（{html.escape(url)}）"

    return _LINK.sub(replace, body)


def sanitise(body: str) -> str:
    """Keep the tags WeChat shows, inline ``style`` only (no class, no ``<style>``, no script)."""
    return nh3.clean(body, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                     clean_content_tags={"script", "style", "iframe", "form", "video", "audio"},
                     url_schemes={"http", "https"}, link_rel=None, strip_comments=True,
                     attribute_filter=_keep_attribute)


def _keep_attribute(tag: str, name: str, value: str) -> str | None:
    """A link that survived ``links_as_text`` (unquoted href) keeps no outside address."""
    if tag == "a" and name == "href" and not _is_wechat_link(value):
        return None
    return value


def image_sources(body: str) -> list[str]:
    """Every distinct ``<img src>`` in document order."""
    seen: list[str] = []
    for match in _IMG_SRC.finditer(body):
        src = html.unescape(match.group(3))
        if src not in seen:
            seen.append(src)
    return seen


def rewrite_images(body: str, urls: dict[str, str]) -> str:
    """Replace each ``<img src>`` by its uploaded WeChat URL."""

    def replace(match: re.Match[str]) -> str:
        src = html.unescape(match.group(3))
        return f"{match.group(1)}{match.group(2)}{html.escape(urls.get(src, src))}{match.group(2)}"

    return _IMG_SRC.sub(replace, body)


def plain_text(body: str) -> str:
    """The visible text of an HTML fragment, spaces collapsed."""
    spaced = _BLOCK_TAG.sub(" ", body)
    return _SPACE.sub(" ", html.unescape(_TAG.sub("", spaced))).strip()


def clip_bytes(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` within ``max_bytes`` UTF-8 bytes, ending with … if cut."""
    if len(text.encode("utf-8")) <= max_bytes:
        return text
    budget = max_bytes - len("…".encode())
    out = []
    for char in text:
        size = len(char.encode("utf-8"))
        if size > budget:
            break
        out.append(char)
        budget -= size
    return "".join(out) + "…"


@dataclass(frozen=True)
class Article:
    """The checked fields of one article, before images are uploaded."""

    title: str
    author: str
    digest: str
    content: str
    content_source_url: str
    images: tuple[str, ...]


def check(title: str, author: str, digest: str | None, content: str, source_url: str,
          allowed_image: Iterable[str]) -> Article:
    """Apply every limit; each violation is a ContentRejected naming the field and the limit."""
    title = title.strip()
    if not title:
        raise rejected("title", "non-empty", "标题为空", "the title is empty")
    if len(title) > TITLE_MAX_CHARS:
        raise rejected("title", f"{TITLE_MAX_CHARS} characters",
                       f"标题 {len(title)} 字，超过 {TITLE_MAX_CHARS} 字"
                       "（可在模板开头用 <title> 给出短标题）",
                       f"the title has {len(title)} characters, over {TITLE_MAX_CHARS} "
                       "(a template may give a shorter one in a leading <title>)")
    if len(author) > AUTHOR_MAX_CHARS:
        raise rejected("author", f"{AUTHOR_MAX_CHARS} characters",
                       f"作者超过 {AUTHOR_MAX_CHARS} 字", f"the author is over {AUTHOR_MAX_CHARS} characters")
    content = sanitise(links_as_text(content)).strip()
    if not plain_text(content) and "<img" not in content:
        raise rejected("content", "non-empty", "正文为空", "the content is empty")
    if len(content) >= CONTENT_MAX_CHARS:
        raise rejected("content", f"under {CONTENT_MAX_CHARS} characters",
                       f"正文 {len(content)} 字符，须少于 {CONTENT_MAX_CHARS}",
                       f"the content has {len(content)} characters; it must be under {CONTENT_MAX_CHARS}")
    if len(content.encode("utf-8")) >= CONTENT_MAX_BYTES:
        raise rejected("content", "under 1 MB", "正文须小于 1 MB", "the content must be under 1 MB")
    if digest is None:
        digest = clip_bytes(plain_text(content), DIGEST_MAX_BYTES)
    elif len(digest.encode("utf-8")) > DIGEST_MAX_BYTES:
        raise rejected("digest", f"{DIGEST_MAX_BYTES} bytes",
                       f"摘要超过 {DIGEST_MAX_BYTES} 字节（约 40 个汉字）",
                       f"the digest is over {DIGEST_MAX_BYTES} bytes (about 40 Chinese characters)")
    if len(source_url.encode("utf-8")) > SOURCE_URL_MAX_BYTES or (
            source_url and urlsplit(source_url).scheme not in ("http", "https")):
        raise rejected("content_source_url", "an http(s) URL of at most 1 KB",
                       "“阅读原文”链接须为 1 KB 以内的 http(s) 地址",
                       "the read-original link must be an http(s) URL of at most 1 KB")
    allowed = tuple(allowed_image)
    images = image_sources(content)
    for src in images:
        if src not in allowed and not _allowed_host(src, allowed):
            raise rejected("image", "a release file or an allow-listed host",
                           f"图片 {src[:80]} 既不是本次发布的文件，也不在允许的主机名单内",
                           f"image {src[:80]} is neither a file of this release nor on an "
                           "allow-listed host")
    return Article(title, author, digest, content, source_url, tuple(images))


def _allowed_host(src: str, allowed: tuple[str, ...]) -> bool:
    parts = urlsplit(src)
    return parts.scheme in ("http", "https") and any(
        entry.startswith("host:") and parts.hostname == entry[5:] for entry in allowed)
