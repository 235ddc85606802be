"""What a WordPress post holds: the portal's content rules, the metadata panel, the owner mark."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from markupsafe import escape

from channels.base import Message, Payload
from channels.portal.content import PortalLimits, prepare_data
from channels.portal.errors import payload_invalid, rejected
from channels.portal.site import metadata_panel

KIND = "wordpress"
# An HTML comment at the top of the post's content naming the delivery that made it;
# WordPress keeps comments through kses, and ``context=edit`` returns them in ``content.raw``.
OWNER_MARK = "<!-- gov-publisher delivery={key} -->"
OWNER_PATTERN = re.compile(r"<!-- gov-publisher delivery=([0-9a-f]{8,64}) -->")


PICTURE_TYPES = ("image/jpeg", "image/png", "image/gif")  # what the media library takes here


@dataclass(frozen=True)
class WordPressLimits(PortalLimits):
    """The portal's limits; attachments are pictures, uploaded to the media library and shown
    where the body names them (``<img src="NAME">``)."""

    attachments_max: int = 4


def panel_html(metadata: Mapping[str, str]) -> str:
    """The gov.cn metadata panel (索引号, 发布机构 …) as an escaped HTML table."""
    rows = "".join(
        f"<tr><th scope=\"row\">{escape(label)}</th><td>{escape(value)}</td></tr>"
        for label, value in metadata_panel(dict(metadata))
    )
    return f"<table class=\"gov-meta\"><tbody>{rows}</tbody></table>\n"


def prepare_post(message: Message, limits: WordPressLimits) -> dict[str, Any]:
    """Check a message with the portal's rules and return the WordPress payload's data."""
    for index, attachment in enumerate(message.attachments):
        if attachment.content_type not in PICTURE_TYPES:
            raise rejected(f"attachments[{index}].content_type", ", ".join(PICTURE_TYPES),
                           f"WordPress 渠道只接受图片附件（{attachment.name}）",
                           f"the WordPress channel takes pictures only ({attachment.name})")
    data = prepare_data(message, limits)
    own = message.metadata.get("release_slug")  # a later step of an incident: a post of its own
    slug = own if isinstance(own, str) and own else data["slug"]
    return {
        "title": data["title"],
        "content": panel_html(data["metadata"]) + data["body_html"],
        "excerpt": data["summary"],
        "slug": slug,
        "pictures": [{"name": a["name"], "content_type": a["content_type"], "path": a["path"]}
                     for a in data["attachments"]],
        "column": data["column"],
        "column_name": data["column_name"],
        "metadata": data["metadata"],
        "release_key": message.release_key,
    }


@dataclass(frozen=True)
class PostSpec:
    """A WordPress payload read back for sending."""

    title: str
    content: str
    excerpt: str
    slug: str
    column: str
    column_name: str
    pictures: tuple[tuple[str, str, str], ...] = ()  # (name, content type, path)

    @classmethod
    def from_payload(cls, payload: Payload) -> PostSpec:
        if payload.kind != KIND:
            raise payload_invalid(f"kind is {payload.kind!r}, not {KIND!r}")
        try:
            fields = {name: payload.data[name] for name in
                      ("title", "content", "excerpt", "slug", "column", "column_name")}
        except (KeyError, TypeError) as exc:
            raise payload_invalid(f"{type(exc).__name__}: {exc}") from exc
        if not all(isinstance(value, str) and value for value in fields.values()):
            raise payload_invalid("every field must be a non-empty string")
        raw = payload.data.get("pictures") or []
        try:
            pictures = tuple((str(p["name"]), str(p["content_type"]), str(p["path"]))
                             for p in raw)
        except (KeyError, TypeError) as exc:
            raise payload_invalid(f"pictures: {type(exc).__name__}: {exc}") from exc
        return cls(**fields, pictures=pictures)

    def content_for(self, key: str, sources: Mapping[str, str] | None = None) -> str:
        """The post content carrying the delivery's owner mark; each picture's name in an
        ``src`` replaced by its address in the media library (``sources``)."""
        content = self.content
        for name, url in (sources or {}).items():
            content = content.replace(f'src="{escape(name)}"', f'src="{escape(url)}"')
        return OWNER_MARK.format(key=key) + "\n" + content


def owner_of(raw_content: str) -> str | None:
    """The delivery key marked in a post's raw content, if any."""
    match = OWNER_PATTERN.search(raw_content)
    return match.group(1) if match else None
