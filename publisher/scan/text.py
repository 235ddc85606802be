"""The texts a prepared payload would publish, field by field, as plain text (markup removed)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping
from typing import Any

# payload keys that hold no published words: keys, paths, files, flags, dates, addresses
SKIP = frozenset({
    "release", "release_key", "slug", "path", "cover", "images", "published_at", "urgent", "kind",
    "column", "section", "paired_with", "signed_date", "published_date", "comment", "attachments",
    "content_source_url", "link", "picture", "index_number", "identifier", "sent", "msg_type",
    "effective_date", "subject_category", "organ_code",
})
_INLINE = re.compile(r"</?(?:a|b|i|u|em|strong|span|font|sup|sub|small|big|abbr|code|mark|q|s)"
                     r"(?:\s[^>]*)?/?>", re.IGNORECASE)
_TAG = re.compile(r"<!--.*?-->|<!\[CDATA\[|\]\]>|<\?[^>]*\?>|<[^>]+>", re.DOTALL)
_BREAKS = re.compile(r"\n\s*\n+")
_HREF = re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_URL = re.compile(r"https?://[^\s<>\"'，。；）)】]+")


def plain(value: str) -> str:
    """A field's words: markup removed (inline tags joined, others a line break), entities
    decoded; plain text comes back as it is."""
    if "<" not in value or ">" not in value:
        return html.unescape(value) if "&" in value else value
    text = _TAG.sub("\n", _INLINE.sub("", value))
    return _BREAKS.sub("\n", html.unescape(text)).strip()


def texts(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(field, plain text) for every text a payload publishes: ``title``, ``content``,
    ``metadata.issuing_organ``, ``cap.xml`` …"""
    for key, value in data.items():
        if key in SKIP:
            continue
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, str):
            if value.strip():
                yield name, plain(value)
        elif isinstance(value, Mapping):
            yield from texts(value, name)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, Mapping):
                    yield from texts(item, f"{name}[{index}]")
                elif isinstance(item, str) and item.strip():
                    yield f"{name}[{index}]", plain(item)


def links(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field, URL) of every link a payload carries: anchors and pictures in markup, and
    addresses written out in text, each once."""
    found: dict[str, str] = {}
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        prefix, node = stack.pop()
        if isinstance(node, Mapping):
            stack += [(f"{prefix}.{k}" if prefix else str(k), v) for k, v in node.items()
                      if k not in ("images", "cover", "picture", "release", "path", "slug")]
        elif isinstance(node, list):
            stack += [(f"{prefix}[{i}]", v) for i, v in enumerate(node)]
        elif isinstance(node, str):
            for url in [*_HREF.findall(node), *_URL.findall(node)]:
                url = html.unescape(url)
                if url.startswith(("http://", "https://")):
                    found.setdefault(url, prefix)
    return [(where, url) for url, where in found.items()]
