"""The checks' engine: every list word matched in one pass of an Aho-Corasick automaton, names
beside their titles, personal data; over each channel's payload, each finding placed in the data
cell it came from.

The automaton is ahocorasick-rs (Rust): with Chinese lists the root of the trie has thousands of
children, and pyahocorasick's linear search among them made it 25 times slower here (bench/).
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import ahocorasick_rs

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
    raw: str = ""  # the text as written (personal data unmasked: never kept beyond the scan)


class Scanner:
    """The office's lists compiled once; ``scan`` checks a release's payloads and tables."""

    def __init__(self, lists: Lists, config: ChecksConfig) -> None:
        self.lists = lists
        self.config = config
        self.personal_kinds = frozenset(config.personal.kinds)
        self.allowed = frozenset(personal.normal(v) for v in config.personal.allowed_values)
        table: dict[str, list[WordingEntry | SensitiveEntry | Leader]] = {}
        pairs: list[tuple[str, WordingEntry | SensitiveEntry | Leader]] = [
            *((e.wrong, e) for e in lists.wording), *((e.word, e) for e in lists.sensitive),
            *((e.name, e) for e in lists.leaders)]
        for word, entry in pairs:
            table.setdefault(word, []).append(entry)
        self.words = list(table)
        self.entries = [tuple(table[word]) for word in self.words]
        self.automaton = ahocorasick_rs.AhoCorasick(self.words) if self.words else None
        self.title_lengths = sorted({len(t) for t in lists.titles}, reverse=True)

    # ------------------------------------------------------------------ one text

    def hits(self, text: str, allowed: Collection[str] = frozenset()) -> list[Hit]:
        """Everything found in ``text``: list words, names beside a wrong title, personal data
        (but the ``allowed`` values, in ``personal.normal`` form)."""
        found: list[Hit] = []
        if self.automaton is not None:
            for index, start, end in self.automaton.find_matches_as_indexes(text,
                                                                            overlapping=True):
                for entry in self.entries[index]:
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
                    "checks.allow_personal", item.value))
        return found

    def _entry_hit(self, text: str, start: int, end: int,
                   entry: WordingEntry | SensitiveEntry | Leader) -> Hit | None:
        if isinstance(entry, WordingEntry):
            if _excepted(text, start, entry.wrong, entry.exceptions):
                return None
            note = f"（{entry.note}）" if entry.note else ""
            return Hit("wording", entry.level, entry.wrong, f"wording:{entry.wrong}", start, end,
                       entry.wrong, f"应为「{entry.right}」{note}",
                       f"write {entry.right!r} instead", entry.wrong)
        if isinstance(entry, SensitiveEntry):
            if _excepted(text, start, entry.word, entry.exceptions):
                return None
            zh, en = SENSITIVE_ADVICE[entry.level]
            note = f"（{entry.note}）" if entry.note else ""
            return Hit("sensitive", entry.level, entry.word, f"sensitive:{entry.word}", start,
                       end, entry.word, f"{zh}{note}", en, entry.word)
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
                        f"{'a former title' if old else 'not their title'}: correct it", shown)
        return None

    # ------------------------------------------------------------------ a release

    def scan(self, payloads: Mapping[str, Payload], tables: Iterable[Any] = (), *,
             allow_personal: Collection[str] = ()) -> list[Finding]:
        """Every finding in the payloads (one per channel, field and thing found, counted), each
        placed in the data cell it came from where a table holds it."""
        cells = [_Cells(table) for table in tables]
        allowed: set[str] = set()
        for table in cells:  # personal data in the columns a definition allows
            for text in table.allowed(allow_personal):
                allowed.update(personal.normal(h.value) for h in personal.find(
                    text, self.personal_kinds))
        out: dict[tuple[str, str, str], Finding] = {}
        located: dict[str, Cell | None] = {}
        seen: dict[str, list[Hit]] = {}  # a text two channels share is scanned once
        for channel, payload in payloads.items():
            for field, text in texts(payload.data):
                if text not in seen:
                    seen[text] = self.hits(text, allowed)
                for hit in seen[text]:
                    key = (channel, field, hit.key)
                    if key in out:
                        out[key] = replace(out[key], count=out[key].count + 1)
                        continue
                    if hit.key not in located:
                        located[hit.key] = next(
                            (c for c in (t.find(hit.raw) for t in cells) if c), None)
                    out[key] = Finding(
                        kind=hit.kind, level=hit.level, found=hit.found, advice_zh=hit.advice_zh,
                        advice_en=hit.advice_en, channel=channel, field=field,
                        cell=located[hit.key], context=_context(text, hit, self),
                        rule=hit.rule)
        return list(out.values())


class _Cells:
    """A table's text cells joined by line breaks, to find which cell a text came from (joined
    on the first look-up: most releases have no finding to place)."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self.columns: list[str] = list(table.rows[0]) if table.rows else []

    @functools.cached_property
    def _joined(self) -> tuple[str, list[int], list[tuple[int, str]]]:
        parts: list[str] = []
        spots: list[tuple[int, str]] = []  # (row index, column id) of each part
        starts: list[int] = []
        offset = 0
        for index, row in enumerate(self.table.rows):
            for column in self.columns:
                value = row.get(column)
                if isinstance(value, str) and value.strip():
                    starts.append(offset)
                    spots.append((index, column))
                    parts.append(value)
                    offset += len(value) + 1
        return "\n".join(parts), starts, spots

    def allowed(self, allow: Collection[str]) -> list[str]:
        """The text of each column whose personal data the definition allows."""
        name = self.table.name
        chosen = [c for c in self.columns if c in allow or f"{name}.{c}" in allow]
        return ["\n".join(str(row.get(c) or "") for row in self.table.rows) for c in chosen]

    def find(self, raw: str) -> Cell | None:
        """The first cell holding ``raw``."""
        if not raw:
            return None
        joined, starts, spots = self._joined
        at = joined.find(raw)
        if at < 0:
            return None
        index, column = spots[bisect.bisect_right(starts, at) - 1]
        return Cell(str(self.table.file), _row_label(self.table, index),
                    self.table.headers.get(column, column))


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
