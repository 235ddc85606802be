"""Data handed in for a period: checked with the release's own reader, stored in the inbox, the
earlier file kept aside, every upload, replacement and removal recorded and audited."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from publisher import audit
from publisher.app import App
from publisher.intake.slot import FORMATS, IntakeRefused, Slot
from publisher.logs import get_logger
from publisher.source import DataError, DataProblem, matching, read_table
from publisher.store.models import DataFile, Release

log = get_logger("publisher.intake")

KEPT_DIR = ".intake"  # inside the inbox: earlier versions and the lock (hidden: never read)
OPEN_STATES = ("held", "missed", "rejected")  # a release in these has not used its data
CREATED, REPLACED, UNCHANGED = "created", "replaced", "unchanged"
INBOX_ACTOR = "inbox"  # who handed in a file that arrived by other means (shared folder, SFTP)


@dataclass(frozen=True)
class Stored:
    """The file a table reads for a period: where, its checksum, and who handed it in (for a
    file that arrived by other means, ``inbox`` and the file's own time)."""

    path: str  # relative to the inbox
    sha256: str
    size_bytes: int
    file_format: str
    uploaded_by: str
    uploaded_at: datetime
    rows: int | None  # known for files handed in here


@dataclass(frozen=True)
class Put:
    """What an upload did: ``created``, ``replaced`` or ``unchanged`` (the same bytes again)."""

    outcome: str
    stored: Stored
    kept: tuple[str, ...] = ()  # where the earlier files were kept (relative to the inbox)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_digest(path: Path) -> str:
    """The SHA-256 of a file, read in chunks."""
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


# --------------------------------------------------------------------------- checking


def check(app: App, slot: Slot, data: bytes, file_format: str) -> dict[str, int]:
    """Read ``data`` as ``file_format`` through the release's reader, for the slot's table and
    every table sharing its file; the rows of each, or IntakeRefused listing every problem."""
    limit = app.loaded.config.intake.max_file_bytes
    if len(data) > limit:
        raise too_large(limit)
    if file_format not in slot.accepts():
        wanted = "、".join(FORMATS[f] for f in slot.accepts()) or slot.resolved
        raise IntakeRefused(415, "unsupported_format",
                            f"数据表 {slot.table} 只收 {wanted} 文件，收到的是 {file_format}",
                            f"table {slot.table} takes {wanted} files only; got {file_format}")
    definition = app.loaded.config.releases[slot.definition_id]
    assert definition.source is not None
    with tempfile.TemporaryDirectory(prefix="intake-") as folder:
        file = Path(folder) / f"{slot.table}{FORMATS[file_format]}"
        file.write_bytes(data)
        counts: dict[str, int] = {}
        problems: list[DataProblem] = []
        for name in (slot.table, *slot.sharing):
            table = definition.source.tables[name]
            try:
                rows = read_table(file, app.loaded.config.schemas[table.table_schema], table.sheet)
            except DataError as exc:
                problems += [_named(p, name, len(slot.sharing)) for p in exc.located]
                continue
            if not rows and not table.allow_empty:
                problems.append(DataProblem(
                    f"数据表 {name} 为空，不发布空表 / table {name} has no rows: never publish an "
                    "empty table"))
            counts[name] = len(rows)
    if problems:
        raise IntakeRefused(422, "invalid_data",
                            f"数据文件有 {len(problems)} 处问题，未保存",
                            f"the data file has {len(problems)} problem(s); nothing was stored",
                            problems)
    return counts


def _named(problem: DataProblem, table: str, shared: int) -> DataProblem:
    """A problem of one of several tables read from one workbook names its table."""
    if not shared:
        return problem
    return DataProblem(f"{table}: {problem.text}", problem.row, problem.row_label_zh,
                       problem.row_label_en, problem.column, problem.value, problem.message_zh,
                       problem.message_en)


def too_large(limit_bytes: int) -> IntakeRefused:
    mib = limit_bytes / 1024 / 1024
    return IntakeRefused(413, "payload_too_large", f"文件超过 {mib:g} MiB，未保存",
                         f"the file exceeds {mib:g} MiB; nothing was stored")


# --------------------------------------------------------------------------- reading


def verify(app: App, slot: Slot) -> list[DataProblem]:
    """The problems of the file the slot's table reads now, as an upload of it would list them
    (a file put into the inbox by other means gets the same report); none when it reads."""
    present = files(app, slot)
    if len(present) > 1:
        names = "、".join(p.relative_to(app.data_dir).as_posix() for p in present)
        return [DataProblem(f"匹配到多个数据文件，只能保留一个 / several files match, keep exactly "
                            f"one: {names}")]
    if not present:
        return []
    file = present[0]
    kind = FORMATS_BY_SUFFIX.get(file.suffix.lower(), "csv")
    try:
        check(app, slot, file.read_bytes(), kind)
    except IntakeRefused as exc:
        return exc.problems or [DataProblem(f"{exc.message_zh} / {exc.message_en}")]
    return []


def files(app: App, slot: Slot) -> list[Path]:
    """The files in the inbox the slot's table would read (more than one: keep exactly one)."""
    return matching(app.data_dir, slot.resolved, slot.period)[1]


def current(app: App, slot: Slot) -> Stored | None:
    """The file the slot's table reads now (the inbox is the truth), with who handed it in;
    None when no file is there. Several files (keep exactly one) give the first."""
    found = files(app, slot)
    if not found:
        return None
    file = found[0]
    relative = file.relative_to(app.data_dir).as_posix()
    sha = file_digest(file)
    stat = file.stat()
    with app.store.read() as session:
        row = session.execute(select(DataFile).where(
            DataFile.definition_id == slot.definition_id, DataFile.period == slot.period.key,
            DataFile.table_name == slot.table, DataFile.state == "current",
            DataFile.path == relative, DataFile.sha256 == sha)).scalars().first()
    kind = FORMATS_BY_SUFFIX.get(file.suffix.lower(), "csv")
    if row is None:
        return Stored(relative, sha, stat.st_size, kind, INBOX_ACTOR,
                      datetime.fromtimestamp(stat.st_mtime, UTC), None)
    return Stored(relative, sha, row.size_bytes, row.file_format, row.uploaded_by,
                  row.uploaded_at, row.rows)


FORMATS_BY_SUFFIX = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx",
                     ".json": "json"}


def history(app: App, slot: Slot) -> list[DataFile]:
    """Every file handed in for the slot, newest first (current, replaced and removed)."""
    with app.store.read() as session:
        rows = session.execute(select(DataFile).where(
            DataFile.definition_id == slot.definition_id, DataFile.period == slot.period.key,
            DataFile.table_name == slot.table).order_by(DataFile.id.desc())).scalars()
        return list(rows)


def locked_by(app: App, slot: Slot) -> Release | None:
    """The release of the slot's period that already read its data (not held, missed or
    rejected), if any: its data may no longer change."""
    label = slot.period.label_zh
    with app.store.read() as session:
        return session.execute(select(Release).where(
            Release.definition_id == slot.definition_id, Release.period_label == label,
            Release.state.not_in(OPEN_STATES), Release.urgent.is_(False))
            .order_by(Release.id.desc())).scalars().first()


def _refuse_if_locked(app: App, slot: Slot) -> None:
    release = locked_by(app, slot)
    if release is not None:
        raise IntakeRefused(409, "release_created",
                            f"本期发布 {release.key} 已创建，数据不能再更改",
                            f"the release {release.key} of this period was created: its data can "
                            "no longer change")


# --------------------------------------------------------------------------- changing


@contextlib.contextmanager
def _locked(app: App) -> Iterator[Path]:
    """One upload, replacement or removal at a time in this inbox (every process)."""
    kept = Path(app.data_dir) / KEPT_DIR
    kept.mkdir(parents=True, exist_ok=True)
    with (kept / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield kept
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _keep(app: App, kept_root: Path, slot: Slot, file: Path, now: datetime, sha: str) -> str:
    """Move a file aside into the kept versions; its new path relative to the inbox."""
    folder = kept_root / slot.definition_id / slot.period.key / slot.table
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{now.astimezone(UTC):%Y%m%dT%H%M%S%fZ}-{sha[:12]}{file.suffix.lower()}"
    target = folder / name
    file.replace(target)
    return target.relative_to(app.data_dir).as_posix()


def _end_rows(session: Session, slot: Slot, table: str, relative: str, sha: str, *, state: str,
              actor: str, now: datetime, kept: str, size: int, kind: str) -> None:
    """Mark ``table``'s current row for the file at ``relative`` ended (a file that arrived by
    other means gets a row of its own, so its version is on record too)."""
    row = session.execute(select(DataFile).where(
        DataFile.definition_id == slot.definition_id, DataFile.period == slot.period.key,
        DataFile.table_name == table, DataFile.state == "current",
        DataFile.path == relative, DataFile.sha256 == sha)).scalars().first()
    if row is None:
        row = DataFile(definition_id=slot.definition_id, period=slot.period.key,
                       table_name=table, path=relative, sha256=sha, size_bytes=size,
                       file_format=kind, rows=-1, uploaded_by=INBOX_ACTOR, uploaded_at=now)
        session.add(row)
    row.state, row.kept_path, row.ended_by, row.ended_at = state, kept, actor, now
    for stale in session.execute(select(DataFile).where(  # rows whose file is gone meanwhile
            DataFile.definition_id == slot.definition_id, DataFile.period == slot.period.key,
            DataFile.table_name == table, DataFile.state == "current",
            DataFile.id != row.id, DataFile.path == relative)).scalars():
        stale.state, stale.ended_at = state, now


def _set_aside(app: App, session: Session, kept_root: Path, slot: Slot, present: list[Path],
               moves: list[tuple[Path, Path]], *, state: str, actor: str, now: datetime
               ) -> list[str]:
    """Move the slot's files into the kept versions and end their rows (in the caller's
    transaction); each move is added to ``moves`` so a failure can undo it. The kept paths."""
    kept = []
    for file in present:
        relative = file.relative_to(app.data_dir).as_posix()
        old_sha, size = file_digest(file), file.stat().st_size
        moved = _keep(app, kept_root, slot, file, now, old_sha)
        moves.append((file, Path(app.data_dir) / moved))
        kept.append(moved)
        for table in (slot.table, *slot.sharing):  # one file, read by each of them
            _end_rows(session, slot, table, relative, old_sha, state=state, actor=actor,
                      now=now, kept=moved, size=size,
                      kind=FORMATS_BY_SUFFIX.get(file.suffix.lower(), "csv"))
    return kept


def _restore(moves: list[tuple[Path, Path]]) -> None:
    """Undo ``_set_aside`` and a stored file after the transaction failed: the inbox is as it
    was (a new file put where none was is taken out; one kept aside goes back)."""
    for original, moved in reversed(moves):
        if original == moved:
            continue
        if moved == Path():
            original.unlink(missing_ok=True)
        elif moved.exists():
            moved.replace(original)


def put(app: App, slot: Slot, data: bytes, file_format: str, *, actor: str) -> Put:
    """Check ``data`` and store it as the slot's file; idempotent on its content.

    A different earlier file is kept aside (``.intake/`` in the inbox) and stays on record;
    nothing is stored when the file has a problem or the period's release was created.
    """
    counts = check(app, slot, data, file_format)
    rows = counts[slot.table]
    sha = digest(data)
    with _locked(app) as kept_root:
        _refuse_if_locked(app, slot)
        present = files(app, slot)
        target_rel = slot.target(file_format)
        if len(present) == 1 and present[0].relative_to(app.data_dir).as_posix() == target_rel \
                and file_digest(present[0]) == sha:
            stored = current(app, slot)
            assert stored is not None
            return Put(UNCHANGED, stored)
        now = app.clock.now()
        target = Path(app.data_dir) / target_rel
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.parent / f".upload-{secrets.token_hex(8)}.tmp"  # hidden: never read
        temporary.write_bytes(data)
        moves: list[tuple[Path, Path]] = []
        try:
            with app.store.write() as session:
                kept = _set_aside(app, session, kept_root, slot, present, moves, state="replaced",
                                  actor=actor, now=now)
                had = target.exists()
                temporary.replace(target)
                moves.append((target, target) if had else (target, Path()))
                for table, count in counts.items():  # a shared workbook: each table's row
                    session.add(DataFile(definition_id=slot.definition_id,
                                         period=slot.period.key, table_name=table,
                                         state="current", path=target_rel, sha256=sha,
                                         size_bytes=len(data), file_format=file_format,
                                         rows=count, uploaded_by=actor, uploaded_at=now))
                outcome = REPLACED if present else CREATED
                audit.append(session, at=now, actor=actor, action=f"data.{outcome}",
                             subject=slot.subject,
                             details={"definition": slot.definition_id,
                                      "period": slot.period.key, "table": slot.table,
                                      "path": target_rel, "sha256": sha, "size_bytes": len(data),
                                      "format": file_format, "rows": rows, "kept": kept})
        except BaseException:
            _restore(moves)
            raise
        finally:
            temporary.unlink(missing_ok=True)
    log.info("data.stored", outcome=outcome, definition=slot.definition_id,
             period=slot.period.key, table=slot.table, sha256=sha, actor=actor)
    return Put(outcome, Stored(target_rel, sha, len(data), file_format, actor, now, rows),
               tuple(kept))


def remove(app: App, slot: Slot, *, actor: str) -> tuple[str, ...]:
    """Take the slot's file(s) out of the inbox (kept aside, on record); the kept paths.
    IntakeRefused (404) when there is none, (409) once the period's release was created."""
    with _locked(app) as kept_root:
        _refuse_if_locked(app, slot)
        present = files(app, slot)
        if not present:
            raise IntakeRefused(404, "no_data", f"数据表 {slot.table} 本期没有文件",
                                f"table {slot.table} has no file for this period")
        now = app.clock.now()
        moves: list[tuple[Path, Path]] = []
        try:
            with app.store.write() as session:
                kept = _set_aside(app, session, kept_root, slot, present, moves, state="removed",
                                  actor=actor, now=now)
                audit.append(session, at=now, actor=actor, action="data.removed",
                             subject=slot.subject,
                             details={"definition": slot.definition_id,
                                      "period": slot.period.key, "table": slot.table,
                                      "kept": kept})
        except BaseException:
            _restore(moves)
            raise
    return tuple(kept)
