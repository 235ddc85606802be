"""A delivery's own mark at the end of its post: how the bot tells its posts on the timeline apart.

Weibo takes no idempotency key and keeps no hidden field, and whether it refuses a repeated
text (and for how long) is unconfirmed. So each post ends with a short code derived from its
delivery's key (its SHA-256), ``〔3fa9c2d1〕``: a post found on the account's timeline is this delivery's
only when it carries this mark, and two deliveries with similar wording never post the same
text. Links are not used for it: Weibo may rewrite them to t.cn in the stored text.
"""

from __future__ import annotations

import hashlib
import re

MARK_HEX = 8  # hex characters of the delivery key shown: 32 bits, unique within an account
_MARK = re.compile(r"\s*〔([0-9a-f]{%d})〕\s*$" % MARK_HEX)  # noqa: UP031 - a regex template
PLACEHOLDER = "〔" + "0" * MARK_HEX + "〕"  # as long as any mark: reserves its room in prepare


def mark_for(key: str) -> str:
    """The mark of the delivery whose idempotency key is ``key`` (from its SHA-256)."""
    return f"〔{hashlib.sha256(key.encode()).hexdigest()[:MARK_HEX]}〕"


def mark_of(text: str) -> str | None:
    """The mark at the end of ``text`` (``〔3fa9c2d1〕``), or None."""
    found = _MARK.search(text)
    return f"〔{found.group(1)}〕" if found else None


def without_mark(text: str) -> str:
    """``text`` without a mark at its end."""
    return _MARK.sub("", text)


def with_mark(text: str, key: str) -> str:
    """``text`` ending with the mark of ``key`` (in place of any other mark at its end)."""
    return f"{without_mark(text)} {mark_for(key)}"
