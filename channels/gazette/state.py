"""The gazette's state file: items queued for the next issue and every published issue."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from channels.gazette.numbering import IssueNumber
from channels.portal.errors import conflict
from channels.portal.storage import write_atomic

STATE_DIR = "_gazette"  # inside the portal's site_dir; ``_`` keeps it off the public site
STATE_NAME = "state.json"
VERSION = 1
DOCUMENT, INTERPRETATION, ERRATUM = "document", "interpretation", "erratum"
ERRATA_SECTION = "errata"
ERRATA_SECTION_NAME = "勘误"
GAZETTE_COLUMN = "gazette"  # the portal column the issues are published in


@dataclass
class GazetteItem:
    """One text of the gazette: a document, an interpretation (解读) or an erratum (勘误)."""

    item_id: str  # the delivery's idempotency key: deterministic
    section: str
    title: str
    organ: str
    signed_date: str
    published_date: str
    body_html: str
    doc_no: str = ""  # 文号, e.g. 沪府发〔2017〕92号; a rule's order number
    effective_date: str = ""
    kind: str = DOCUMENT
    slug: str = ""  # the release's slug, which pairs a document and its interpretation
    paired_with: str = ""  # slug of the partner (document <-> interpretation)
    corrects: dict[str, str] = field(default_factory=dict)  # erratum: item_id, issue, title
    release_key: str = ""
    queued_at: str = ""
    anchor: str = ""  # set when compiled: ``item-3``

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> GazetteItem:
        known = set(cls.__dataclass_fields__)
        values = {k: v for k, v in raw.items() if k in known}
        values["corrects"] = {str(k): str(v) for k, v in dict(raw.get("corrects") or {}).items()}
        return cls(**values)


@dataclass
class Issue:
    """A published issue: its number, date, items in order, and its files' SHA-256."""

    number: IssueNumber
    published_date: str
    published_at: str
    items: list[GazetteItem]
    files: dict[str, str]  # path relative to site_dir -> sha256 hex, fixed at publication

    @property
    def slug(self) -> str:
        return self.number.slug

    @property
    def path(self) -> str:
        """The issue's HTML page, relative to site_dir."""
        return f"{GAZETTE_COLUMN}/{self.slug}.html"

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number.to_json(), "published_date": self.published_date,
                "published_at": self.published_at,
                "items": [asdict(i) for i in self.items], "files": dict(sorted(self.files.items()))}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Issue:
        return cls(number=IssueNumber.from_json(dict(raw["number"])),
                   published_date=str(raw["published_date"]),
                   published_at=str(raw["published_at"]),
                   items=[GazetteItem.from_json(i) for i in raw["items"]],
                   files={str(k): str(v) for k, v in dict(raw["files"]).items()})


@dataclass
class GazetteState:
    """Everything the gazette remembers; the state file's write is each change's commit point."""

    queue: list[GazetteItem] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    def numbers(self) -> list[IssueNumber]:
        return [issue.number for issue in self.issues]

    def queued(self, item_id: str) -> GazetteItem | None:
        return next((i for i in self.queue if i.item_id == item_id), None)

    def published(self, item_id: str) -> tuple[Issue, GazetteItem] | None:
        for issue in self.issues:
            for item in issue.items:
                if item.item_id == item_id:
                    return issue, item
        return None

    def issue(self, slug: str) -> Issue | None:
        return next((i for i in self.issues if i.slug == slug), None)

    def to_json(self) -> dict[str, Any]:
        return {"version": VERSION, "queue": [asdict(i) for i in self.queue],
                "issues": [i.to_json() for i in self.issues]}


def state_path(site_dir: Path) -> Path:
    return site_dir / STATE_DIR / STATE_NAME


def load_state(site_dir: Path) -> GazetteState:
    """Read the state; a gazette never compiled starts empty."""
    path = state_path(site_dir)
    try:
        raw = json.loads(path.read_bytes())
    except FileNotFoundError:
        return GazetteState()
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _corrupt(path, str(exc)) from exc
    try:
        if raw.get("version") != VERSION:
            raise ValueError(f"unknown version {raw.get('version')!r}")
        return GazetteState(queue=[GazetteItem.from_json(i) for i in raw["queue"]],
                            issues=[Issue.from_json(i) for i in raw["issues"]])
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise _corrupt(path, f"{type(exc).__name__}: {exc}") from exc


def save_state(site_dir: Path, state: GazetteState) -> None:
    """Write the state atomically."""
    data = json.dumps(state.to_json(), ensure_ascii=False, indent=1, sort_keys=True)
    write_atomic(state_path(site_dir), data.encode("utf-8") + b"\n")


def _corrupt(path: Path, reason: str) -> Exception:
    return conflict("gazette_state_corrupt",
                    f"公报状态文件损坏（{path}）：{reason}，请从备份恢复",
                    f"the gazette state file {path} is damaged ({reason}); restore it from a backup",
                    reason)
