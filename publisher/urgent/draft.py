"""What a confirmation carries from its preview, so that what is sent is exactly what was previewed.

A step's addresses (the portal page, the link in the Weibo text, WeChat's 阅读原文), its keys
and the time its texts show all derive from one moment. A preview fixes that moment and
fingerprints what each channel would publish; the confirmation hands both back, and the step
is recorded for the same moment only if it still prepares to the same fingerprint. Otherwise
(the address was taken meanwhile, the incident moved on, the preview is too old) nothing is
recorded and staff see the new preview to confirm.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from channels.base import Payload
from publisher.urgent.post import UrgentRejected

PREVIEW_VALID = timedelta(minutes=10)  # an older preview shows a time too far from the post's
CLOCK_SKEW = timedelta(minutes=1)  # a preview made on another node's clock may be this early
AT_FIELD, FINGERPRINT_FIELD = "preview_at", "preview_fingerprint"  # the confirmation's fields


class PreviewOutdated(UrgentRejected):
    """What the step would publish now is not what was previewed; nothing was recorded."""

    def __init__(self, reason_zh: str, reason_en: str) -> None:
        super().__init__([f"{reason_zh}，请核对新的预览后再次确认 / {reason_en}; check the new "
                          "preview and confirm again"])
        self.reason_zh, self.reason_en = reason_zh, reason_en


@dataclass(frozen=True)
class Draft:
    """A preview's moment and the fingerprint of what it showed."""

    at: datetime
    fingerprint: str

    def fields(self) -> dict[str, str]:
        """The confirmation form's hidden fields."""
        return {AT_FIELD: self.at.isoformat(), FINGERPRINT_FIELD: self.fingerprint}

    @classmethod
    def from_fields(cls, values: Mapping[str, str]) -> Draft | None:
        """The draft a confirmation handed back; None without one (a post never previewed);
        PreviewOutdated for one that cannot be read."""
        at, print_ = values.get(AT_FIELD, ""), values.get(FINGERPRINT_FIELD, "")
        if not at and not print_:
            return None
        try:
            moment = datetime.fromisoformat(at)
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None or len(print_) != 64:
            raise PreviewOutdated("预览信息无法识别", "the preview's details cannot be read")
        return cls(moment, print_)


def fingerprint(key: str, items: Iterable[tuple[str, str, Payload]]) -> str:
    """SHA-256 of the step's release key and, for each (channel, action, payload), every text
    the payload carries (titles, bodies, links, paths); not the files and tables beside them."""
    shown = sorted(
        [channel, action, payload.kind,
         {k: v for k, v in payload.data.items() if isinstance(v, str)}]
        for channel, action, payload in items)
    text = json.dumps([key, shown], ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def moment(draft: Draft | None, now: datetime) -> datetime:
    """The moment a step is recorded for: its preview's, while that is recent; else now."""
    if draft is None:
        return now
    if draft.at > now + CLOCK_SKEW or now - draft.at > PREVIEW_VALID:
        minutes = int(PREVIEW_VALID.total_seconds() // 60)
        raise PreviewOutdated(f"预览已超过 {minutes} 分钟，时间和地址已更新",
                              f"the preview is more than {minutes} minutes old; its time and "
                              "address were brought up to date")
    return draft.at


def check(draft: Draft | None, key: str, items: Iterable[tuple[str, str, Payload]]) -> None:
    """PreviewOutdated unless the step prepares to what its preview showed."""
    if draft is not None and fingerprint(key, items) != draft.fingerprint:
        raise PreviewOutdated("发布内容或地址与预览不一致（可能已被其他发布占用或事件已有新进展）",
                              "what would be published (or where) differs from the preview: "
                              "another post may have taken its address, or the incident moved "
                              "on")
