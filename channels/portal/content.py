"""The portal's content rules: limits, metadata checks, and the payload's shape both ways."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from html.parser import HTMLParser
from pathlib import PurePath
from typing import Any

from channels.base import Attachment, Limits, Message, Payload
from channels.portal.catalogue import INDEX_NUMBER_PATTERN, RULE_TEXT
from channels.portal.errors import payload_invalid, rejected

KIND = "portal"
REQUIRED_METADATA = (
    "issuing_organ", "subject_category", "index_number", "published_date", "column",
    "column_name", "slug",
)
OPTIONAL_METADATA = ("signed_date", "document_number", "summary")
PANEL_METADATA = ("index_number", "subject_category", "issuing_organ", "signed_date",
                  "document_number", "published_date", "summary")
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]*")  # column ids and slugs: safe path parts
CONTENT_TYPE_PATTERN = re.compile(r"[\w.+-]+/[\w.+-]+")
RESERVED_SLUGS = frozenset({"index"})
XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff\ud800-\udfff]")


@dataclass(frozen=True)
class PortalLimits(Limits):
    """What the portal accepts."""

    title_max_chars: int | None = 200
    body_max_bytes: int = 2 * 1024 * 1024
    metadata_max_chars: int = 200
    summary_max_chars: int = 500
    column_name_max_chars: int = 50
    slug_max_chars: int = 80
    attachments_max: int = 20
    attachment_name_max_chars: int = 120
    excerpt_chars: int = 200


class _TextCollector(HTMLParser):
    """Collects the visible text of an HTML fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "template"):
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def text_excerpt(html: str, max_chars: int) -> str:
    """The first ``max_chars`` characters of a fragment's visible text, safe for XML."""
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    text = " ".join(XML_INVALID.sub(" ", "".join(collector.parts)).split())
    return text if len(text) <= max_chars else text[: max_chars - 1].rstrip() + "…"


def _text(field: str, value: str, max_chars: int, label_zh: str) -> str:
    if not value.strip():
        raise rejected(
            field, "required, non-empty", f"{label_zh}不能为空", f"{field} must not be empty"
        )
    if len(value) > max_chars:
        raise rejected(
            field, f"<= {max_chars} characters",
            f"{label_zh}过长（{len(value)} 字，上限 {max_chars} 字）",
            f"{field} is too long ({len(value)} characters, limit {max_chars})",
        )
    if XML_INVALID.search(value):
        raise rejected(field, "no control characters", f"{label_zh}含有控制字符",
                       f"{field} contains control characters")
    return value


def _name(field: str, value: str, max_chars: int, label_zh: str) -> str:
    _text(field, value, max_chars, label_zh)
    if not NAME_PATTERN.fullmatch(value) or value in RESERVED_SLUGS:
        raise rejected(
            field, f"{NAME_PATTERN.pattern}, not {sorted(RESERVED_SLUGS)}",
            f"{label_zh}只能由小写字母、数字、- 和 _ 组成：{value!r}",
            f"{field} may hold only lower-case letters, digits, - and _: {value!r}",
        )
    return value


def check_date(field: str, value: str, label_zh: str) -> str:
    """``value`` if it is a YYYY-MM-DD date, else ContentRejected naming ``field``."""
    try:
        ok = len(value) == 10 and date.fromisoformat(value).isoformat() == value
    except ValueError:
        ok = False
    if not ok:
        raise rejected(field, "YYYY-MM-DD", f"{label_zh}须为 YYYY-MM-DD 格式：{value!r}",
                       f"{field} must be a date YYYY-MM-DD: {value!r}")
    return value


def _metadata(raw: Mapping[str, str], limits: PortalLimits) -> dict[str, str]:
    labels = {
        "issuing_organ": "发布机构", "subject_category": "主题分类", "index_number": "索引号",
        "published_date": "发布日期", "column": "栏目", "column_name": "栏目名称",
        "slug": "页面标识", "signed_date": "成文日期", "document_number": "文号",
        "summary": "内容概述",
    }
    out: dict[str, str] = {}
    for key in (*REQUIRED_METADATA, *OPTIONAL_METADATA):
        value = raw.get(key)
        field = f"metadata.{key}"
        if value is not None and not isinstance(value, str):
            raise rejected(field, "text", f"元数据“{labels[key]}”须为文本",
                           f"metadata {key} must be text, not {type(value).__name__}")
        if value is None or (key in OPTIONAL_METADATA and not value.strip()):
            if key in REQUIRED_METADATA:
                raise rejected(field, "required", f"缺少必填元数据“{labels[key]}”",
                               f"required metadata {key} is missing")
            continue
        max_chars = {
            "summary": limits.summary_max_chars, "column_name": limits.column_name_max_chars,
            "slug": limits.slug_max_chars, "column": limits.slug_max_chars,
        }.get(key, limits.metadata_max_chars)
        out[key] = _text(field, value, max_chars, labels[key])
    if not INDEX_NUMBER_PATTERN.fullmatch(out["index_number"]):
        raise rejected("metadata.index_number", RULE_TEXT,
                       f"索引号不符合编制规则：{out['index_number']!r}",
                       f"the index number breaks the catalogue rule: {out['index_number']!r}")
    _name("metadata.column", out["column"], limits.slug_max_chars, "栏目")
    _name("metadata.slug", out["slug"], limits.slug_max_chars, "页面标识")
    for key in ("published_date", "signed_date"):
        if key in out:
            check_date(f"metadata.{key}", out[key], labels[key])
    return out


def _attachment(index: int, attachment: Attachment, limits: PortalLimits) -> dict[str, str]:
    field = f"attachments[{index}].name"
    name = _text(field, attachment.name, limits.attachment_name_max_chars, "附件名")
    if PurePath(name).name != name or name.startswith(".") or "\\" in name:
        raise rejected(field, "a plain file name", f"附件名不能含路径：{name!r}",
                       f"attachment name must be a plain file name: {name!r}")
    if not CONTENT_TYPE_PATTERN.fullmatch(attachment.content_type):
        raise rejected(f"attachments[{index}].content_type", "type/subtype",
                       "附件类型无效", f"invalid content type {attachment.content_type!r}")
    return {"name": name, "content_type": attachment.content_type, "path": str(attachment.path)}


def prepare_data(message: Message, limits: PortalLimits) -> dict[str, Any]:
    """Check a message against the portal's rules and return the payload's data."""
    if message.body_format != "html":
        raise rejected("body_format", "html", "门户模板须生成 HTML",
                       f"the portal needs an html body, got {message.body_format!r}")
    title = _text("title", message.title, limits.title_max_chars or 200, "标题")
    body = message.body
    if not body.strip():
        raise rejected("body", "required, non-empty", "正文不能为空", "body must not be empty")
    try:
        size = len(body.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise rejected(
            "body", "valid Unicode", "正文含无效字符", "body holds invalid characters"
        ) from exc
    if size > limits.body_max_bytes:
        raise rejected("body", f"<= {limits.body_max_bytes} bytes UTF-8",
                       f"正文过大（{size} 字节，上限 {limits.body_max_bytes} 字节）",
                       f"body is too large ({size} bytes, limit {limits.body_max_bytes})")
    metadata = _metadata(message.metadata, limits)
    if len(message.attachments) > limits.attachments_max:
        raise rejected("attachments", f"<= {limits.attachments_max} files",
                       f"附件过多（上限 {limits.attachments_max} 个）",
                       f"too many attachments (limit {limits.attachments_max})")
    attachments = [_attachment(i, a, limits) for i, a in enumerate(message.attachments)]
    names = [a["name"] for a in attachments]
    if len(set(names)) != len(names):
        raise rejected("attachments", "unique names", "附件名重复", "attachment names repeat")
    column, slug = metadata.pop("column"), metadata.pop("slug")
    column_name = metadata.pop("column_name")
    return {
        "title": title,
        "body_html": body,
        "summary": metadata.get("summary") or text_excerpt(body, limits.excerpt_chars),
        "column": column,
        "column_name": column_name,
        "slug": slug,
        "path": f"{column}/{slug}.html",
        "metadata": metadata,
        "attachments": attachments,
        "release_key": message.release_key,
        "definition_id": message.definition_id,
        "urgent": message.urgent,
    }


@dataclass(frozen=True)
class PageSpec:
    """A portal payload read back for sending: every path part re-checked."""

    title: str
    body_html: str
    summary: str
    column: str
    column_name: str
    slug: str
    path: str
    metadata: dict[str, str]
    attachments: list[dict[str, str]]

    def digest(self) -> str:
        """A hash of what readers see, to tell a significant edit from a plain re-send."""
        seen = [self.title, self.body_html, self.column_name, self.metadata,
                [a["name"] for a in self.attachments]]
        canonical = json.dumps(seen, ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @classmethod
    def from_payload(cls, payload: Payload) -> PageSpec:
        if payload.kind != KIND:
            raise payload_invalid(f"kind is {payload.kind!r}, not {KIND!r}")
        data = payload.data
        try:
            texts = {k: data[k] for k in ("title", "body_html", "summary", "column",
                                          "column_name", "slug", "path")}
            metadata = dict(data["metadata"])
            attachments = [dict(a) for a in data["attachments"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise payload_invalid(f"{type(exc).__name__}: {exc}") from exc
        everything = [*texts.values(), *metadata.keys(), *metadata.values(),
                      *(v for a in attachments for v in (*a.keys(), *a.values()))]
        if not all(isinstance(v, str) for v in everything):
            raise payload_invalid("every text must be a string")
        for key in ("column", "slug"):
            if not NAME_PATTERN.fullmatch(texts[key]) or texts[key] in RESERVED_SLUGS:
                raise payload_invalid(f"unsafe {key} {texts[key]!r}")
        if texts["path"] != f"{texts['column']}/{texts['slug']}.html":
            raise payload_invalid(f"path {texts['path']!r} does not follow column/slug")
        for a in attachments:
            name = a.get("name", "")
            if not name or PurePath(name).name != name or name.startswith(".") or "\\" in name:
                raise payload_invalid(f"unsafe attachment name {name!r}")
            if "path" not in a or "content_type" not in a:
                raise payload_invalid("attachment without path or content_type")
        if "index_number" not in metadata or "published_date" not in metadata:
            raise payload_invalid("metadata lacks index_number or published_date")
        return cls(metadata=metadata, attachments=attachments, **texts)

