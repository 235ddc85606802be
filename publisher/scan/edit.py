"""Staff edit the office's lists (the console's /checks, admin only): add or change an entry,
remove one, import a CSV; the list file is rewritten whole (atomically), every change audited, and
the running App's automaton rebuilt."""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path

from publisher import audit
from publisher.app import App
from publisher.config import Problem
from publisher.scan.lists import COLUMNS, SEPARATOR, ListError, parse

KEYS = {"wording": "wrong", "sensitive": "word", "names": "name"}
ACTION = "checks.list_changed"


class EditRefused(ListError):
    """A change that cannot be made; ``problems`` says why (file and line where it can)."""


def office_file(app: App, kind: str) -> Path:
    """The office's CSV list of ``kind`` that the console edits: the first one the config names."""
    names = getattr(app.loaded.config.checks, kind)
    csvs = [n for n in names if n.endswith(".csv")]
    if not csvs:
        raise EditRefused([Problem(str(app.loaded.file), f"checks.{kind}", (
            f"配置中没有 CSV 名单可编辑，请在 checks.{kind} 中加入一个 .csv 文件 / no CSV list to "
            f"edit: name a .csv file under checks.{kind}"))])
    return app.loaded.resolve(csvs[0])


def records(app: App, kind: str) -> list[dict[str, str]]:
    """The entries of the office's list as written (an absent file: none yet)."""
    path = office_file(app, kind)
    if not path.is_file():
        return []
    rows = [r for r in csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig")))
            if any(c.strip() for c in r) and not r[0].startswith("#")]
    if not rows:
        return []
    header = [c.strip().lower() for c in rows[0]]
    return [{h: c.strip() for h, c in zip(header, row, strict=False) if h and c.strip()}
            for row in rows[1:]]


def _text(kind: str, entries: list[dict[str, str]], comments: list[str]) -> str:
    required, optional = COLUMNS[kind]
    header = [*required, *optional]
    out = io.StringIO()
    for line in comments:
        out.write(line + "\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for entry in entries:
        writer.writerow([entry.get(h, "") for h in header])
    return out.getvalue()


def _save(app: App, kind: str, entries: list[dict[str, str]], *, actor: str,
          details: dict[str, object]) -> None:
    path = office_file(app, kind)
    comments = [line for line in (path.read_text(encoding="utf-8-sig").splitlines()
                                  if path.is_file() else []) if line.startswith("#")]
    text = _text(kind, entries, comments)
    problems: list[Problem] = []
    parse(kind, text, str(path), problems)
    keys = [e.get(KEYS[kind], "") for e in entries]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        problems.append(Problem(str(path), kind, f"重复的条目 / listed twice: {'、'.join(repeated)}"))
    if problems:
        raise EditRefused(problems)
    now = app.clock.now()
    with app.store.write() as session:  # a file that cannot be written rolls the audit back
        audit.append(session, at=now, actor=actor, action=ACTION, subject=f"list:{kind}",
                     details={"file": str(path), "entries": len(entries), **details})
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        Path(temporary).replace(path)
    app.__dict__.pop("scanner", None)  # the next check compiles the lists anew


def put(app: App, kind: str, entry: dict[str, str], *, actor: str) -> None:
    """Add an entry, or change the one with the same wrong form, word or name."""
    cleaned = {k: v.strip() for k, v in entry.items() if isinstance(v, str) and v.strip()}
    key = cleaned.get(KEYS[kind], "")
    entries = records(app, kind)
    before = next((e for e in entries if e.get(KEYS[kind]) == key), None)
    entries = [cleaned if e is before else e for e in entries] if before else [*entries, cleaned]
    _save(app, kind, entries, actor=actor,
          details={"changed" if before else "added": cleaned, **({"was": before} if before else {})})


def remove(app: App, kind: str, key: str, *, actor: str) -> None:
    """Remove the entry with this wrong form, word or name."""
    entries = records(app, kind)
    gone = [e for e in entries if e.get(KEYS[kind]) == key]
    if not gone:
        raise EditRefused([Problem(str(office_file(app, kind)), kind,
                                   f"名单中没有 / not in the list: {key}")])
    _save(app, kind, [e for e in entries if e not in gone], actor=actor,
          details={"removed": gone[0]})


def import_csv(app: App, kind: str, text: str, *, actor: str) -> int:
    """Merge a CSV (the same header as the list) into the list: its entries are added, or
    replace those with the same key; returns how many it held. EditRefused names each problem
    by the imported text's line."""
    problems: list[Problem] = []
    parsed = parse(kind, text.lstrip("\ufeff"), "import.csv", problems)
    if problems:
        raise EditRefused(problems)
    incoming = _records_of(text)
    keys = {r.get(KEYS[kind]) for r in incoming}
    entries = [e for e in records(app, kind) if e.get(KEYS[kind]) not in keys] + incoming
    _save(app, kind, entries, actor=actor, details={"imported": len(parsed)})
    return len(parsed)


def _records_of(text: str) -> list[dict[str, str]]:
    rows = [r for r in csv.reader(io.StringIO(text.lstrip("\ufeff")))
            if any(c.strip() for c in r) and not r[0].startswith("#")]
    header = [c.strip().lower() for c in rows[0]] if rows else []
    return [{h: c.strip() for h, c in zip(header, row, strict=False) if h and c.strip()}
            for row in rows[1:]]


__all__ = ["SEPARATOR", "EditRefused", "import_csv", "office_file", "put", "records", "remove"]
