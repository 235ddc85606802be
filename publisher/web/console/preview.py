"""Each channel's message as that channel will show it, read back from a delivery's payload."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from markupsafe import escape

from channels.base import Payload
from channels.portal.tables import scroll_regions
from channels.weibo.settings import WeiboLimits
from channels.weibo.text import Counter
from publisher.app import App
from publisher.logs import get_logger
from publisher.store.models import Delivery

log = get_logger("publisher.web")

PREVIEW_CSS = "/static/preview.css"  # a plain base under a message's own (inline) styles
SUMMARY_CHARS = 160


@dataclass(frozen=True)
class Preview:
    """What one delivery will show: a look (``wechat``, ``weibo``, ``portal``, ``gazette`` or
    ``plain``), its title, labelled facts, plain text, a length counter and an HTML document.

    ``document`` is served on its own (``/deliveries/ID/preview``, a CSP allowing styles only,
    sandboxed) into an ``<iframe sandbox>``: its HTML is our rendered template, but it carries
    data from bureaus' files, so it never becomes part of a console page nor runs a script.
    """

    delivery_id: int
    channel: str
    kind: str
    action: str
    state: str
    look: str
    title: str = ""
    facts: list[tuple[str, str]] = field(default_factory=list)  # (message key, value)
    text: str | None = None
    length: int | None = None
    limit: int | None = None
    document: str | None = None
    link: str | None = None

    @property
    def over(self) -> bool:
        return self.length is not None and self.limit is not None and self.length > self.limit


def document(title: str, body_html: str, look: str) -> str:
    """A whole HTML document around a message body, for a sandboxed frame (its tables in
    focusable scroll regions, as the portal shows them)."""
    return ("<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<link rel=\"stylesheet\" href=\"{PREVIEW_CSS}\"><title>{escape(title)}</title>"
            f"</head><body class=\"{look}\">{scroll_regions(body_html)}</body></html>")


def of(app: App, row: Delivery) -> Preview:
    """The preview of one delivery's payload (a plain one for kinds without a look of their
    own, or a payload it cannot read)."""
    raw: Mapping[str, Any] = row.payload or {}
    data: Mapping[str, Any] = raw.get("data") or {}
    base: dict[str, Any] = {"delivery_id": row.id, "channel": row.channel, "kind": row.kind,
                            "action": row.action, "state": row.state}
    try:
        made = _by_kind(app, row, data, base)
    except (KeyError, TypeError, ValueError) as exc:  # an older payload shape: show it plainly
        log.warning("console.preview_unreadable", delivery_id=row.id, error=type(exc).__name__)
        made = None
    return made or Preview(**base, look="plain", title=str(data.get("title") or ""),
                           text=_text(data.get("body") or data.get("status") or ""))


def _by_kind(app: App, row: Delivery, data: Mapping[str, Any], base: dict[str, Any]
             ) -> Preview | None:
    kind = row.kind
    if kind == "wechat":
        title = str(data["title"])
        facts = [("preview.author", str(data.get("author") or "")),
                 ("preview.digest", str(data.get("digest") or ""))]
        return Preview(**base, look="wechat", title=title, facts=facts,
                       document=document(title, str(data.get("content") or ""), "wechat"),
                       link=str(data.get("content_source_url") or "") or None)
    if kind == "weibo":
        text = str(data["status"])
        settings = app.loaded.config.channels[row.channel].settings \
            if row.channel in app.loaded.config.channels else {}
        limit = WeiboLimits().comment_max_chars if data.get("comment") else \
            int(settings.get("limit", Counter.limit))
        counter = Counter(limit=limit, https_as_link=bool(settings.get("https_counts_as_link")))
        facts = [("preview.picture", str((data.get("picture") or {}).get("name") or ""))] \
            if data.get("picture") else []
        return Preview(**base, look="weibo", text=text, length=counter.length(text),
                       limit=limit, facts=facts, link=str(data.get("link") or "") or None)
    if kind == "portal":
        title = str(data["title"])
        facts = [("preview.column", str(data.get("column_name") or data.get("column") or "")),
                 ("preview.path", str(data.get("path") or "")),
                 ("preview.summary", _short(str(data.get("summary") or ""))),
                 ("preview.attachments", "、".join(str(a.get("name")) for a in
                                                   data.get("attachments") or []))]
        return Preview(**base, look="portal", title=title, facts=facts,
                       document=document(title, str(data.get("body_html") or ""), "portal"))
    if kind == "gazette":
        title = str(data["title"])
        facts = [("preview.section", str(data.get("section") or "")),
                 ("preview.organ", str(data.get("organ") or "")),
                 ("preview.doc_no", str(data.get("doc_no") or "")),
                 ("preview.signed_date", str(data.get("signed_date") or "")),
                 ("preview.published_date", str(data.get("published_date") or ""))]
        return Preview(**base, look="gazette", title=title, facts=facts,
                       document=document(title, str(data.get("body_html") or ""), "gazette"))
    if kind == "wordpress":
        title = str(data["title"])
        facts = [("preview.summary", _short(str(data.get("excerpt") or ""))),
                 ("preview.path", str(data.get("slug") or ""))]
        return Preview(**base, look="portal", title=title, facts=facts,
                       document=document(title, str(data.get("content") or ""), "portal"))
    return None


def of_payload(app: App, channel: str, payload: Payload) -> Preview:
    """The preview of a payload not yet recorded (a period's data previewed before its release
    exists): shown as its delivery will be, ``delivery_id`` 0."""
    row = Delivery(id=0, channel=channel, kind=payload.kind, action="send", state="pending",
                   payload=payload.to_json())
    return of(app, row)


def summary(row: Delivery) -> str:
    """One line saying what a delivery sends: its title, or the start of its text."""
    data: Mapping[str, Any] = (row.payload or {}).get("data") or {}
    return _short(str(data.get("title") or data.get("status") or data.get("body") or ""))


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS - 1] + "…"


def _text(value: object) -> str:
    return value if isinstance(value, str) else str(value)
