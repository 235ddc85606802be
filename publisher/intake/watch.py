"""The inbox kept working for files put there by other means (a shared folder, SFTP): each new or
changed file of a coming period is checked once it stops changing, with the upload's report."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from publisher import audit
from publisher.alert import alert
from publisher.app import App
from publisher.intake import slot as slots
from publisher.intake import store
from publisher.logs import get_logger
from publisher.period import Period, period_of
from publisher.source import DataProblem
from publisher.store.models import DataFile

log = get_logger("publisher.intake")
ACTOR = store.INBOX_ACTOR


@dataclass(frozen=True)
class Arrival:
    """A file that appeared or changed in the inbox, and what its check found."""

    definition_id: str
    period: str
    table: str
    path: str
    sha256: str
    problems: tuple[DataProblem, ...]


@dataclass
class InboxWatch:
    """Remembers each inbox file's size and time between scans (one per daemon, every
    ``intake.inbox_scan_seconds``): a file is checked on the scan after it stops changing, so a
    half-copied file is not reported."""

    app: App
    seen: dict[str, tuple[int, int]] = field(default_factory=dict)  # path -> (size, mtime_ns)
    settling: dict[str, tuple[int, int]] = field(default_factory=dict)

    def periods(self, definition_id: str, now: datetime) -> list[Period]:
        """The periods whose files matter now: the next run's, and the one after."""
        current = slots.current_period(self.app, definition_id, now)
        return [current, period_of(current.start, current.unit, 1)]

    def prime(self, now: datetime | None = None) -> int:
        """Remember the files there now without checking them (at start: the pre-flight and the
        data pages check them); returns how many."""
        for slot in self._slots(now or self.app.clock.now()):
            for file in store.files(self.app, slot):
                stat = file.stat()
                self.seen[file.relative_to(self.app.data_dir).as_posix()] = (
                    stat.st_size, stat.st_mtime_ns)
        return len(self.seen)

    def _slots(self, now: datetime) -> list[slots.Slot]:
        found = []
        for definition_id, definition in self.app.loaded.config.releases.items():
            if definition.source is not None:
                for period in self.periods(definition_id, now):
                    found += slots.slots(self.app, definition_id, period)
        return found

    def scan(self, now: datetime | None = None) -> list[Arrival]:
        """Check every file that appeared or changed since the scan before last and has not
        changed since; a file with problems alerts the office and the definition's contacts."""
        found: list[Arrival] = []
        for slot in self._slots(now or self.app.clock.now()):
            for file in store.files(self.app, slot):
                arrival = self._look(slot, file)
                if arrival is not None:
                    found.append(arrival)
        return found

    def _look(self, slot: slots.Slot, file: Path) -> Arrival | None:
        relative = file.relative_to(self.app.data_dir).as_posix()
        stat = file.stat()
        signature = (stat.st_size, stat.st_mtime_ns)
        if self.seen.get(relative) == signature:
            return None
        if self.settling.get(relative) != signature:  # new or still changing: look next time
            self.settling[relative] = signature
            return None
        del self.settling[relative]
        self.seen[relative] = signature
        sha = store.file_digest(file)
        if self._handed_in(slot, relative, sha):
            return None  # uploaded through the console or the API: checked and audited there
        problems = tuple(store.verify(self.app, slot))
        now = self.app.clock.now()
        with self.app.store.write() as session:
            audit.append(session, at=now, actor=ACTOR, action="data.arrived", subject=slot.subject,
                         details={"definition": slot.definition_id, "period": slot.period.key,
                                  "table": slot.table, "path": relative, "sha256": sha,
                                  "size_bytes": stat.st_size, "ready": not problems,
                                  "problems": [p.text for p in problems]})
        if problems:
            alert(self.app, "data.invalid", f"收件箱中的数据文件有问题：{relative}",
                  f"a data file in the inbox has problems: {relative}",
                  contacts_of=slot.definition_id, release=slot.definition_id,
                  problems=[p.text for p in problems])
        log.info("inbox.checked", path=relative, ready=not problems, problems=len(problems))
        return Arrival(slot.definition_id, slot.period.key, slot.table, relative, sha, problems)

    def _handed_in(self, slot: slots.Slot, relative: str, sha: str) -> bool:
        with self.app.store.read() as session:
            return session.execute(select(DataFile.id).where(
                DataFile.definition_id == slot.definition_id, DataFile.period == slot.period.key,
                DataFile.table_name == slot.table, DataFile.state == "current",
                DataFile.path == relative, DataFile.sha256 == sha)).first() is not None
