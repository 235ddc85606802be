"""The emulated WordPress site's state and the REST error shapes it answers with."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

API = "/wp-json/wp/v2"
# what the media library takes, by the file's first bytes (WordPress checks the content)
MEDIA_TYPES = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n",
               "image/gif": b"GIF8"}
STATUSES = ("publish", "future", "draft", "pending", "private")
TRASHED_SUFFIX = "__trashed"
SLOW = "slow:"  # a fault "slow:2.5": the next create waits 2.5 s before it is handled


def error(status: int, code: str, message: str, **data: Any) -> tuple[int, dict[str, Any]]:
    return status, {"code": code, "message": message, "data": {"status": status, **data}}


def invalid(field_name: str, message: str, *, code: str = "rest_invalid_type",
            status: int | None = None) -> tuple[int, dict[str, Any]]:
    """WordPress's 400 for a bad parameter; ``status``: the detail's own (401 for a parameter
    an anonymous visitor may not use, as ``rest_forbidden_status``)."""
    detail: dict[str, Any] = {"code": code, "message": message}
    if status is not None:
        detail["data"] = {"status": status}
    return error(400, "rest_invalid_param", f"Invalid parameter(s): {field_name}",
                 params={field_name: message}, details={field_name: detail})


def fault_ok(fault: object) -> bool:
    """Whether ``fault`` is one the emulator knows (see ``WordPressState``)."""
    if isinstance(fault, int) and not isinstance(fault, bool):
        return True
    if not isinstance(fault, str):
        return False
    if fault.startswith(SLOW):
        try:
            return float(fault.removeprefix(SLOW)) >= 0
        except ValueError:
            return False
    return fault in ("drop", "hold")


@dataclass
class WordPressState:
    """The emulated site: users, posts, categories, and faults to answer next.

    ``faults`` items are an HTTP status (answered instead of the request), ``"drop"`` (the
    next post is created, then the connection closes without an answer: a crash mid-send)
    or ``"hold"`` (the post is created and the answer withheld until the emulator stops,
    so a drill can kill the sender mid-send) or ``"slow:SECONDS"`` (the next create waits that
    long before it is handled, outside the lock: a busy site). ``delay_seconds`` slows every
    request the same way. As in WordPress, a create's slug is made unique when the post is
    inserted (wp_unique_post_slug), so a slow create overtaken by a second one for the same
    slug ends as ``<slug>-2``. ``editors`` may write; other users get 403.
    With ``state_file`` every change is saved, so a restarted emulator keeps its posts.
    ``POST /_sandbox/faults`` ``{"faults": [...]}`` queues faults and ``GET /_sandbox/state``
    reports counts, for emulators running in another process.
    """

    users: dict[str, str] = field(default_factory=dict)
    editors: set[str] = field(default_factory=set)
    posts: dict[int, dict[str, Any]] = field(default_factory=dict)
    categories: dict[int, dict[str, Any]] = field(default_factory=dict)
    media: dict[int, dict[str, Any]] = field(default_factory=dict)  # uploads (no bytes kept)
    next_id: int = 1
    faults: list[int | str] = field(default_factory=list)
    delay_seconds: float = 0.0
    trash_enabled: bool = True
    trash_renames_slug: bool = True  # WordPress frees a trashed post's slug (slug__trashed)
    creates: int = 0  # POST /posts requests that made a post
    state_file: Path | None = None
    holding: threading.Event = field(default_factory=threading.Event)  # a "hold" began
    released: threading.Event = field(default_factory=threading.Event)  # set by stop()
    lock: threading.RLock = field(default_factory=threading.RLock)

    def add_user(self, username: str, password: str, *, editor: bool = True) -> None:
        """Accept ``username`` with this application password (spaces are ignored, as in WP)."""
        with self.lock:
            self.users[username] = password.replace(" ", "")
            if editor:
                self.editors.add(username)

    def posts_with_slug(self, slug: str) -> list[dict[str, Any]]:
        """Every post whose slug is ``slug`` or its trashed form."""
        with self.lock:
            return [p for p in self.posts.values()
                    if p["slug"] in (slug, slug + TRASHED_SUFFIX)]

    def take_id(self) -> int:
        with self.lock:
            number = self.next_id
            self.next_id += 1
            return number

    def save(self) -> None:
        if self.state_file is None:
            return
        with self.lock:
            raw = {"posts": list(self.posts.values()), "categories": list(self.categories.values()),
                   "media": list(self.media.values()),
                   "next_id": self.next_id, "creates": self.creates}
            temp = self.state_file.with_suffix(".tmp")
            temp.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
            temp.replace(self.state_file)

    def load(self) -> None:
        if self.state_file is None or not self.state_file.exists():
            return
        raw = json.loads(self.state_file.read_text(encoding="utf-8"))
        with self.lock:
            self.posts = {int(p["id"]): p for p in raw["posts"]}
            self.categories = {int(c["id"]): c for c in raw["categories"]}
            self.media = {int(m["id"]): m for m in raw.get("media", [])}
            self.next_id, self.creates = int(raw["next_id"]), int(raw["creates"])
