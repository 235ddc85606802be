"""Every delivery matched with what its emulator holds, every fire time with a row."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from channels.gazette.state import load_state
from publisher.cron import cron_trigger
from publisher.scheduler import fire_times
from publisher.store import Store
from publisher.store.models import BotState, Delivery, Release
from tests.support.campaign.plan import Plan, Result

ZONE = ZoneInfo("Asia/Shanghai")
SETTLED = ("published", "failed", "retracted", "queued")


def _portal_pages(folder: Path) -> list[dict[str, Any]]:
    """The static portal's article pages (not its indexes), as publications."""
    pages = []
    for page in sorted((folder / "site").glob("*/*.html")):
        if page.name.startswith("index"):
            continue
        text = page.read_text(encoding="utf-8", errors="replace")
        match = re.search(r"<title>(.*?)</title>", text, re.S)
        pages.append({"text": match.group(1) if match else text, "path": str(page),
                      "live": True})
    return pages


def _gazette_items(folder: Path) -> list[dict[str, Any]]:
    """The gazette's queued and published items (its state file), as publications."""
    state = load_state(folder / "site")
    issued = [item for issue in state.issues for item in issue.items]
    return [{"text": item.title, "id": item.item_id, "live": True, "queued": queued}
            for queued, items in ((True, state.queue), (False, issued)) for item in items]


def count(plan: Plan, store: Store, folder: Path, published: dict[str, list[dict[str, Any]]],
           cut: datetime, stopped_at: datetime, result: Result) -> None:
    """Match every delivery with what its emulator holds, and every fire time with a row."""
    published = {**published, "portal": _portal_pages(folder), "gazette": _gazette_items(folder)}
    with store.read() as session:
        releases = list(session.execute(select(Release)).scalars())
        deliveries = list(session.execute(select(Delivery)).scalars())
        first = session.get(BotState, "scheduler_first_started")
    by_release: dict[int, list[Delivery]] = {}
    for d in deliveries:
        by_release.setdefault(d.release_id, []).append(d)
        result.deliveries[d.state] += 1
    titles = [r.title for r in releases if r.title]
    claimed: dict[str, set[int]] = {kind: set() for kind in published}
    for r in releases:
        result.releases[r.state] += 1
        for d in by_release.get(r.id, []):
            items = published.get(d.kind, [])
            mine = [i for i, item in enumerate(items) if r.title and r.title in item["text"]]
            claimed.setdefault(d.kind, set()).update(mine)
            live = [items[i] for i in mine if items[i]["live"]]
            result.removed_copies[d.kind] += len(mine) - len(live)
            where = f"{r.key} × {d.channel} (delivery {d.id}, {d.state})"
            if len(live) > 1:
                result.violate("duplicates", f"{where}: {len(live)} live copies")
            if d.state == "published" and not live:
                result.violate("lost", f"{where}: recorded published, not at the emulator")
            elif d.state == "published" and all(item.get("queued") for item in live):
                result.violate("misrecorded", f"{where}: recorded published, only queued")
            elif d.state == "failed" and live:
                result.violate("unrecorded", f"{where}: recorded failed, live at the emulator")
            elif d.state == "failed" and not (d.reason or d.last_error):
                result.violate("no reason", f"{where}: failed without a recorded reason")
            elif d.state not in SETTLED and r.created_at <= cut:
                result.violate("unsettled", f"{where}: still {d.state}"
                               + (f" ({d.reason})" if d.reason else ""))
            elif d.state not in SETTLED and live:
                result.landed_outstanding.append(f"{d.id}:{d.channel}:{d.state}"
                                                 f"{':unconfirmed' if d.unconfirmed_at else ''}")
    for kind, items in published.items():
        for i, item in enumerate(items):
            if i not in claimed.get(kind, set()) and item["live"]:
                owner = next((t for t in titles if t in item["text"]), None)
                result.violate("unrecorded", f"{kind}: {item['text'][:60]!r} belongs to no "
                               f"delivery" + (f" (release {owner})" if owner else ""))
            elif item["live"]:
                result.publications[kind] += 1
    if first is None:
        result.violate("fire times unaccounted", "no scheduler ever started")
        return
    trigger = cron_trigger(f"*/{plan.every_seconds} * * * * *", ZONE)
    since = datetime.fromisoformat(first.value)
    until = stopped_at - timedelta(seconds=1)  # a fire time at the very stop may be cut off
    keys = {r.key for r in releases}
    result.missed_runs = sum(1 for r in releases if r.state == "missed")
    for when in fire_times(trigger, since, until):
        result.fire_times += 1
        local = when.astimezone(ZONE)
        key = f"tick@{local.isoformat(timespec='seconds' if local.second else 'minutes')}"
        if key not in keys:
            result.violate("fire times unaccounted", f"{key}: neither released nor missed")
