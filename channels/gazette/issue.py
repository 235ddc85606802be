"""Compiling, showing and verifying gazette issues: plain functions over the portal's site folder."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from channels.base import PermanentChannelError
from channels.gazette.numbering import (
    IssueNumber,
    next_number,
    next_publication_date,
    parse_reference,
)
from channels.gazette.page import PageInfo, Section, ordered, render_issue, render_pdf, render_year
from channels.gazette.state import (
    ERRATA_SECTION,
    ERRATUM,
    GAZETTE_COLUMN,
    GazetteItem,
    GazetteState,
    Issue,
    load_state,
    save_state,
)
from channels.portal.content import text_excerpt
from channels.portal.manifest import Item, entry_id_for, load_manifest, rfc3339, save_manifest
from channels.portal.site import SiteInfo, rebuild_indexes
from channels.portal.storage import site_lock, write_atomic

SUMMARY_MAX_CHARS = 500


@dataclass(frozen=True)
class Gazette:
    """One gazette, published into the ``gazette`` column of a portal site."""

    site_dir: Path
    site: SiteInfo
    gazette_name: str
    column_name: str
    sections: tuple[Section, ...]
    publication_days: tuple[int, ...] = (5, 20)
    first_issue_no: int = 1
    first_total_no: int = 1
    pdf: bool = False

    @property
    def page_info(self) -> PageInfo:
        return PageInfo(self.gazette_name, self.site.site_name, self.column_name)


@dataclass(frozen=True)
class Compiled:
    """What ``compile_issue`` did (or, in a dry run, would do)."""

    number: IssueNumber
    published_date: str
    items: list[GazetteItem]
    files: dict[str, str]  # path -> sha256
    held: list[GazetteItem] = field(default_factory=list)  # pairs whose partner is missing
    dry_run: bool = False


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _failure(code: str, zh: str, en: str) -> PermanentChannelError:
    return PermanentChannelError(f"{zh} / {en}", code=code, explanation_zh=zh, explanation_en=en)


def upcoming(gazette: Gazette, state: GazetteState, today: date) -> tuple[IssueNumber, date]:
    """The number and date of the next issue, as the queue sees it now."""
    when = next_publication_date(gazette.publication_days, today)
    number = next_number(state.numbers(), when.year, first_issue_no=gazette.first_issue_no,
                         first_total_no=gazette.first_total_no)
    return number, when


def enqueue(gazette: Gazette, item: GazetteItem, now: datetime) -> GazetteState:
    """Queue an item for the next issue; a second call with the same id changes nothing."""
    with site_lock(gazette.site_dir):
        state = load_state(gazette.site_dir)
        if state.queued(item.item_id) is None and state.published(item.item_id) is None:
            state.queue.append(replace(item, queued_at=rfc3339(now)))
            save_state(gazette.site_dir, state)
        return state


def dequeue(gazette: Gazette, item_id: str) -> bool:
    """Take a queued item out of the next issue; published items are immutable (errata only)."""
    with site_lock(gazette.site_dir):
        state = load_state(gazette.site_dir)
        if state.published(item_id) is not None:
            raise _failure("immutable", "公报已出版，正文不可更改或撤回，请在以后一期刊登勘误",
                           "a published gazette text cannot be changed or withdrawn; "
                           "publish an erratum in a later issue")
        before = len(state.queue)
        state.queue = [i for i in state.queue if i.item_id != item_id]
        if len(state.queue) != before:
            save_state(gazette.site_dir, state)
        return len(state.queue) != before


def queue_erratum(gazette: Gazette, item_id: str, correction_html: str, now: datetime,
                  *, organ: str | None = None) -> GazetteItem:
    """Queue an erratum (勘误) for a published item; the published issue is never touched."""
    with site_lock(gazette.site_dir):
        state = load_state(gazette.site_dir)
        found = state.published(item_id)
        if found is None:
            raise _failure("not_published", f"没有已出版的条目 {item_id}，未出版的条目应直接修改",
                           f"no published item {item_id}; correct an unpublished item directly")
        issue, original = found
        serial = sum(1 for i in (*state.queue, *(x for s in state.issues for x in s.items))
                     if i.kind == ERRATUM and i.corrects.get("item_id") == item_id) + 1
        today = now.date().isoformat()
        erratum = GazetteItem(
            item_id=sha256_of(f"erratum\x1f{item_id}\x1f{serial}".encode())[:32],
            section=ERRATA_SECTION, title=f"关于《{original.title}》的勘误",
            organ=organ or original.organ, signed_date=today, published_date=today,
            body_html=correction_html, kind=ERRATUM, queued_at=rfc3339(now),
            corrects={"item_id": item_id, "issue": issue.number.label, "title": original.title})
        state.queue.append(erratum)
        save_state(gazette.site_dir, state)
        return erratum


def _ready(queue: Sequence[GazetteItem], state: GazetteState
           ) -> tuple[list[GazetteItem], list[GazetteItem]]:
    """Split the queue: items to print now, and pair halves whose partner is not queued yet."""
    queued_slugs = {i.slug for i in queue if i.slug}
    published_slugs = {i.slug for s in state.issues for i in s.items if i.slug}
    ready, held = [], []
    for item in queue:
        partner = item.paired_with
        if partner and partner not in queued_slugs and partner not in published_slugs:
            held.append(item)
        else:
            ready.append(item)
    return ready, held


def compile_issue(gazette: Gazette, *, today: date, now: datetime, issue_no: int | None = None,
                  merged: int = 1, dry_run: bool = False) -> Compiled:
    """Number the next issue, render it, store its files' SHA-256 and publish it on the portal.

    Files are written first, then the portal's manifest, feed and indexes, then the state
    file (the commit point). A dry run renders and numbers but writes nothing.
    """
    with site_lock(gazette.site_dir):
        state = load_state(gazette.site_dir)
        ready, held = _ready(state.queue, state)
        if not ready:
            raise _failure("nothing_queued", "没有待出版的条目，本期无法编印",
                           "nothing is queued; there is no issue to compile")
        try:
            number = next_number(state.numbers(), today.year, merged=merged, issue_no=issue_no,
                                 first_issue_no=gazette.first_issue_no,
                                 first_total_no=gazette.first_total_no)
        except ValueError as exc:
            raise _failure("numbering", str(exc), str(exc)) from exc
        items = ordered([replace(i) for i in ready], gazette.sections)
        published_date = today.isoformat()
        html = render_issue(gazette.page_info, number, published_date, items, gazette.sections)
        issue = Issue(number, published_date, rfc3339(now), items, {})
        outputs = {issue.path: html}
        if gazette.pdf:
            pdf_path = f"{GAZETTE_COLUMN}/{number.slug}.files/{number.slug}.pdf"
            outputs[pdf_path] = render_pdf(html, gazette.site_dir / GAZETTE_COLUMN)
        issue.files = {path: sha256_of(data) for path, data in outputs.items()}
        if dry_run:
            return Compiled(number, published_date, items, issue.files, held, dry_run=True)
        for path, data in outputs.items():
            write_atomic(gazette.site_dir / path, data)
        state.issues.append(issue)
        state.queue = held
        _rebuild_year(gazette, state, number.year)
        _publish_on_portal(gazette, issue, now)
        save_state(gazette.site_dir, state)
        return Compiled(number, published_date, items, issue.files, held)


def year_index_path(year: int) -> str:
    return f"{GAZETTE_COLUMN}/index-{year}.html"


def _rebuild_year(gazette: Gazette, state: GazetteState, year: int) -> None:
    """Rewrite the yearly index (not part of any issue, so not hashed)."""
    html = render_year(gazette.page_info, year, state.issues, gazette.sections)
    write_atomic(gazette.site_dir / year_index_path(year), html)


def _publish_on_portal(gazette: Gazette, issue: Issue, now: datetime) -> None:
    """Add the issue to the portal's manifest (the gazette column, an Atom entry) and rebuild."""
    manifest = load_manifest(gazette.site_dir, gazette.site.base_url)
    key = f"gazette:{issue.slug}"
    titles = "；".join(i.title for i in issue.items)
    summary = text_excerpt(f"本期目录：{titles}", SUMMARY_MAX_CHARS)
    attachments = [
        {"name": Path(path).name, "content_type": "application/pdf",
         "href": path.removeprefix(f"{GAZETTE_COLUMN}/")}
        for path in issue.files if path.endswith(".pdf")
    ]
    stamp = rfc3339(now)
    manifest.items[issue.slug] = Item(
        slug=issue.slug, key=key, entry_id=entry_id_for(key), path=issue.path,
        column=GAZETTE_COLUMN, column_name=gazette.column_name,
        title=f"{gazette.gazette_name}{issue.number.full_label}", summary=summary,
        metadata={"published_date": issue.published_date,
                  "issuing_organ": gazette.site.author},
        attachments=attachments, published=stamp, updated=stamp,
        content_sha256=issue.files[issue.path])
    rebuild_indexes(gazette.site_dir, gazette.site, manifest)
    save_manifest(gazette.site_dir, manifest)


@dataclass(frozen=True)
class Problem:
    """A published file that no longer matches the SHA-256 stored at publication."""

    path: str
    issue: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}（{self.issue}）: {self.reason}"


def verify(site_dir: Path) -> list[Problem]:
    """Recompute every published issue file's SHA-256; each mismatch or loss names the file."""
    problems = []
    for issue in load_state(site_dir).issues:
        for path, expected in sorted(issue.files.items()):
            try:
                actual = sha256_of((site_dir / path).read_bytes())
            except FileNotFoundError:
                problems.append(Problem(path, issue.number.label, "文件缺失 / file missing"))
                continue
            if actual != expected:
                problems.append(Problem(path, issue.number.label,
                                        f"内容被改动 / altered: sha256 {actual[:12]}…, "
                                        f"stored {expected[:12]}…"))
    return problems


def describe(site_dir: Path, issue: Issue) -> dict[str, Any]:
    """A JSON-safe summary of one issue for ``publisher gazette show``."""
    return {
        "issue": issue.number.full_label, "issue_en": issue.number.label_en,
        "slug": issue.slug, "published_date": issue.published_date,
        "items": [{"anchor": i.anchor, "section": i.section, "title": i.title,
                   "doc_no": i.doc_no, "organ": i.organ, "kind": i.kind} for i in issue.items],
        "files": issue.files,
        "intact": not any(p.issue == issue.number.label for p in verify(site_dir)),
    }



def find_issue(site_dir: Path, reference: str | None = None) -> Issue | None:
    """The issue named by ``2026-24``, ``2026/24`` or its total number; the latest when None."""
    state = load_state(site_dir)
    if reference is None:
        return state.issues[-1] if state.issues else None
    number = parse_reference(reference, state.numbers())
    return None if number is None else state.issue(number.slug)
