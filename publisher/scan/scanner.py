"""The checks' engine: every list word matched in one pass of an Aho-Corasick automaton, names
beside their titles, personal data; over each channel's payload and each data table's cells."""

from __future__ import annotations

import bisect
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import ahocorasick

from channels.base import Payload
from publisher.config import LoadedConfig
from publisher.config.checks import ChecksConfig
from publisher.scan import personal
from publisher.scan.finding import Cell, Finding, Level
from publisher.scan.lists import Leader, Lists, SensitiveEntry, WordingEntry, load_lists
from publisher.scan.text import texts

CONTEXT_CHARS = 8  # shown either side of what was found
SENSITIVE_ADVICE: dict[str, tuple[str, str]] = {
    "block": ("删除或改写该词，否则不能发布", "remove or rephrase it: it is never published"),
    "review": ("须经审核人审核后发布", "an approver must approve the release before it goes out"),
    "warn": ("请确认此处用词无误", "check that the word is meant here"),
}


@dataclass(frozen=True)
class Hit:
    """Something found in one text, before it is placed in a channel's field or a cell."""

    kind: str
    level: Level
    rule: str
    key: str  # the same thing found elsewhere has the same key (a cell and its rendering)
    start: int
    end: int
    found: str
    advice_zh: str
    advice_en: str


class Scanner:
    """The office's lists compiled once; ``scan`` checks a release's payloads and tables."""

    def __init__(self, lists: Lists, config: ChecksConfig) -> None:
        self.lists = lists
        self.config = config
        self.personal_kinds = frozenset(config.personal.kinds)
        self.allowed = frozenset(personal.normal(v) for v in config.personal.allowed_values)
        self.automaton: Any = ahocorasick.Automaton()
        entries: list[tuple[str, WordingEntry | SensitiveEntry | Leader]] = [
            *((e.wrong, e) for e in lists.wording), *((e.word, e) for e in lists.sensitive),
            *((e.name, e) for e in lists.leaders)]
        table: dict[str, list[WordingEntry | SensitiveEntry | Leader]] = {}
        for word, entry in entries:
            table.setdefault(word, []).append(entry)
        for word, found in table.items():
            self.automaton.add_word(word, (len(word), tuple(found)))
        self.empty = not table
        if not self.empty:
            self.automaton.make_automaton()
        self.title_lengths = sorted({len(t) for t in lists.titles}, reverse=True)

    # ------------------------------------------------------------------ one text

    def hits(self, text: str, allowed: Collection[str] = frozenset()) -> list[Hit]:
        """Everything found in ``text``: list words, names beside a wrong title, personal data
        (but the ``allowed`` values, in ``personal.normal`` form)."""
        found: list[Hit] = []
        if not self.empty:
            for end_index, (length, entries) in self.automaton.iter(text):
                start, end = end_index + 1 - length, end_index + 1
                for entry in entries:
                    hit = self._entry_hit(text, start, end, entry)
                    if hit is not None:
                        found.append(hit)
        if self.personal_kinds:
            for item in personal.find(text, self.personal_kinds, self.allowed | set(allowed)):
                word_zh, word_en = personal.KIND_WORDS[item.kind]
                found.append(Hit(
                    "personal", "block", item.kind, f"{item.kind}:{personal.normal(item.value)}",
                    item.start, item.end, item.masked,
                    f"含{word_zh}，不得公开：删除或改为脱敏形式「{item.masked}」；如确需公开，在发布"
                    "定义的 checks.allow_personal 中允许该列",
                    f"a {word_en} must not be published: remove it or write the masked form "
                    f"{item.masked!r}; where a column must show it, allow it in the definition's "
                    "checks.allow_personal"))
        return found

    def _entry_hit(self, text: str, start: int, end: int,
                   entry: WordingEntry | SensitiveEntry | Leader) -> Hit | None:
        if isinstance(entry, WordingEntry):
            if _excepted(text, start, entry.wrong, entry.exceptions):
                return None
            note = f"（{entry.note}）" if entry.note else ""
            return Hit("wording", entry.level, entry.wrong, f"wording:{entry.wrong}", start, end,
                       entry.wrong, f"应为「{entry.right}」{note}",
                       f"write {entry.right!r} instead")
        if isinstance(entry, SensitiveEntry):
            if _excepted(text, start, entry.word, entry.exceptions):
                return None
            zh, en = SENSITIVE_ADVICE[entry.level]
            note = f"（{entry.note}）" if entry.note else ""
            return Hit("sensitive", entry.level, entry.word, f"sensitive:{entry.word}", start,
                       end, entry.word, f"{zh}{note}", en)
        return self._title_hit(text, start, end, entry)

    def _title_hit(self, text: str, start: int, end: int, leader: Leader) -> Hit | None:
        """A leader's name right after or right before a title they do not hold (now)."""
        titles = self.lists.titles
        for length in self.title_lengths:
            before = text[start - length:start] if start >= length else ""
            after = text[end:end + length]
            for title, s, e in ((before, start - length, end), (after, start, end + length)):
                if title in titles and not any(t.endswith(title) for t in leader.titles):
                    current = "、".join(leader.titles)
                    old = title in leader.former
                    shown = text[s:e]
                    return Hit(
                        "name", leader.level, leader.name, f"name:{leader.name}:{title}", s, e,
                        shown,
                        f"{leader.name} 现任{current}，「{title}」"
                        f"{'是原职务' if old else '不是其现任职务'}，请更正",
                        f"{leader.name} now holds {current}; {title!r} is "
                        f"{'a former title' if old else 'not their title'}: correct it")
        return None

    # ------------------------------------------------------------------ a release

    def scan(self, payloads: Mapping[str, Payload], tables: Iterable[Any] = (), *,
             allow_personal: Collection[str] = ()) -> list[Finding]:
        """Every finding in the payloads (one per channel, field and thing found, counted), each
        placed in the data cell it came from where a table holds it."""
        allowed: set[str] = set()
        cells: dict[str, Cell] = {}
        for table in tables:
            self._cells(table, allow_personal, cells, allowed)
        out: dict[tuple[str, str, str], Finding] = {}
        for channel, payload in payloads.items():
            for field, text in texts(payload.data):
                for hit in self.hits(text, allowed):
                    key = (channel, field, hit.key)
                    if key in out:
                        out[key] = replace(out[key], count=out[key].count + 1)
                        continue
                    out[key] = Finding(
                        kind=hit.kind, level=hit.level, found=hit.found, advice_zh=hit.advice_zh,
                        advice_en=hit.advice_en, channel=channel, field=field,
                        cell=cells.get(hit.key), context=_context(text, hit, self),
                        rule=hit.rule)
        return list(out.values())

    def _cells(self, table: Any, allow: Collection[str], cells: dict[str, Cell],
               allowed: set[str]) -> None:
        """Scan a table's cells in one pass (cells joined by line breaks, which no finding
        spans); note where each thing was first found, and the personal data allowed."""
        columns: list[str] = list(table.rows[0]) if table.rows else []
        parts: list[str] = []
        spots: list[tuple[int, str]] = []  # (row index, column id) of each part
        starts: list[int] = []
        offset = 0
        for index, row in enumerate(table.rows):
            for column in columns:
                value = row.get(column)
                if not isinstance(value, str) or not value.strip():
                    continue
                starts.append(offset)
                spots.append((index, column))
                parts.append(value)
                offset += len(value) + 1
        if not parts:
            return
        joined = "\n".join(parts)
        for hit in self.hits(joined):
            index, column = spots[bisect.bisect_right(starts, hit.start) - 1]
            if hit.kind == "personal" and (column in allow or f"{table.name}.{column}" in allow):
                allowed.add(hit.key.partition(":")[2])
                continue
            if hit.key not in cells:
                cells[hit.key] = Cell(str(table.file), _row_label(table, index),
                                      table.headers.get(column, column))


def _excepted(text: str, start: int, word: str, exceptions: tuple[str, ...]) -> bool:
    """Whether the word at ``start`` is part of one of its exceptions (a longer phrase)."""
    for phrase in exceptions:
        at = phrase.find(word)
        while at >= 0:
            if text.startswith(phrase, start - at) and start - at >= 0:
                return True
            at = phrase.find(word, at + 1)
    return False


def _context(text: str, hit: Hit, scanner: Scanner) -> str:
    """A few characters either side, with any personal data in them masked."""
    if hit.kind == "personal":
        return hit.found
    lo, hi = max(0, hit.start - CONTEXT_CHARS), min(len(text), hit.end + CONTEXT_CHARS)
    snippet = text[lo:hi]
    for item in sorted(personal.find(snippet, scanner.personal_kinds), key=lambda h: -h.start):
        snippet = snippet[:item.start] + item.masked + snippet[item.end:]
    return " ".join(snippet.split())


def _row_label(table: Any, index: int) -> str:
    wheres = getattr(table, "wheres", ())
    return wheres[index][0] if index < len(wheres) else f"第 {index + 1} 条数据"


def scanner_of(loaded: LoadedConfig) -> Scanner:
    """The scanner of a configuration's lists; ListError when a list cannot be used."""
    return Scanner(load_lists(loaded), loaded.config.checks)
