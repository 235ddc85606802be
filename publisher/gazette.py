"""Compiling the gazette's next issue: number, write, publish, audit, settle its deliveries."""

from __future__ import annotations

from typing import Any

from publisher import audit
from publisher.app import App
from publisher.dispatch import Dispatcher


def gazette_channels(app: App) -> list[str]:
    """The enabled gazette channels."""
    return [n for n, c in app.loaded.config.channels.items() if c.kind == "gazette" and c.enabled]


def compile_next(app: App, channel_name: str, *, actor: str, issue_no: int | None = None,
                 merged: int = 1, dry_run: bool = False) -> tuple[Any, int]:
    """Compile the next issue of ``channel_name`` from its queue; returns (Compiled, settled).

    The issue's files and their SHA-256 go into the audit chain, then the deliveries queued
    for it are marked published. ChannelError (nothing queued, a numbering clash) passes up.
    """
    from channels.gazette.issue import compile_issue

    channel: Any = app.channel(channel_name)
    now = app.clock.now()
    local = now.astimezone(app.loaded.zone)  # the issue's date and stamps are the readers'
    compiled = compile_issue(channel.gazette, today=local.date(),
                             now=local, issue_no=issue_no, merged=merged, dry_run=dry_run)
    if dry_run:
        return compiled, 0
    with app.store.write() as session:
        audit.append(session, at=now, actor=actor, action="gazette.compiled",
                     subject=f"gazette:{compiled.number.slug}",
                     details={"channel": channel_name, "issue": compiled.number.full_label,
                              "files": compiled.files,
                              "items": [item.title for item in compiled.items],
                              # for the annual report: 期数, items by section, errata
                              "number": compiled.number.to_json(),
                              "published_date": compiled.published_date,
                              "entries": _entries(channel, compiled.items)})
    dispatcher = Dispatcher(app)
    try:
        settled = dispatcher.settle_queued(channel_name, actor=actor)
    finally:
        dispatcher.shutdown()
    return compiled, settled


def _entries(channel: Any, items: list[Any]) -> list[dict[str, str]]:
    """Each item of an issue as the audit chain keeps it: its delivery key, release, kind and
    section (with the section's name, as the gazette prints it)."""
    from channels.gazette.state import ERRATA_SECTION, ERRATA_SECTION_NAME

    names = {section.id: section.name for section in channel.gazette.sections}
    names[ERRATA_SECTION] = ERRATA_SECTION_NAME
    return [{"item_id": item.item_id, "release_key": item.release_key, "kind": item.kind,
             "section": item.section, "section_name": names.get(item.section, item.section),
             "title": item.title} for item in items]
