"""A finding of the content checks: what was found, where (channel, field, table cell), what to do."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

Level = Literal["block", "review", "warn"]
LEVELS: tuple[Level, ...] = ("block", "review", "warn")
LEVEL_WORDS: dict[str, tuple[str, str]] = {
    "block": ("禁止发布", "blocked"), "review": ("须审核", "needs review"),
    "warn": ("提醒", "warning")}
KIND_WORDS: dict[str, tuple[str, str]] = {
    "wording": ("表述错误", "wording error"),
    "sensitive": ("敏感词", "sensitive word"),
    "name": ("领导姓名职务", "leader's name and title"),
    "personal": ("个人信息", "personal data"),
    "link": ("链接", "link"),
    "stale": ("长期未更新", "not updated"),
}


@dataclass(frozen=True)
class Cell:
    """A data table's cell: the file, its row as the file counts it, and the column's header."""

    file: str
    row: str  # "第 5 行" style label from the reader, or the row's number
    column: str

    def label(self) -> str:
        return f"{self.file} {self.row}「{self.column}」列"


@dataclass(frozen=True)
class Finding:
    """One thing the checks found; personal data is only ever kept masked."""

    kind: str  # wording | sensitive | name | personal | link | stale
    level: Level
    found: str  # the text as found (masked for personal data)
    advice_zh: str
    advice_en: str
    channel: str | None = None
    field: str | None = None  # the payload field: title, content, digest, status, cap.headline …
    cell: Cell | None = None
    context: str = ""  # a few characters around it, personal data masked
    rule: str = ""  # which list entry or rule: "扫黑险恶", "id_number"
    count: int = 1  # times found in this field

    def where(self) -> str:
        """``wechat-main 的 digest`` / table cell, as staff read it (zh-CN)."""
        parts = []
        if self.channel:
            parts.append(f"渠道 {self.channel}")
        if self.field:
            parts.append(f"字段 {self.field}")
        if self.cell:
            parts.append(f"数据 {self.cell.label()}")
        return "，".join(parts) or "发布内容"

    def describe(self) -> str:
        """One line: level, kind, where, the text found, what to do (zh-CN, then English)."""
        level_zh, level_en = LEVEL_WORDS[self.level]
        kind_zh, kind_en = KIND_WORDS.get(self.kind, (self.kind, self.kind))
        times = f"（{self.count} 处）" if self.count > 1 else ""
        near = f"（上下文：…{self.context}…）" if self.context and self.context != self.found else ""
        return (f"[{level_zh}] {kind_zh}：{self.where()}：「{self.found}」{times}{near}；"
                f"{self.advice_zh} / [{level_en}] {kind_en}: {self.found!r}: {self.advice_en}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Finding:
        values = dict(raw)
        cell = values.pop("cell", None)
        return cls(**values, cell=Cell(**cell) if cell else None)


def blocking(findings: Iterable[Finding]) -> list[Finding]:
    """The findings that hold a release (nothing is sent while one stands)."""
    return [f for f in findings if f.level == "block"]


def summary(findings: Iterable[Finding]) -> dict[str, int]:
    """How many findings of each level (for audit events and overviews)."""
    counts: dict[str, int] = dict.fromkeys(LEVELS, 0)
    for finding in findings:
        counts[finding.level] += 1
    return counts
