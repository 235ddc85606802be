"""The office's lists: wording errors (wrong → right), sensitive words with levels, and the register
of leaders' names and titles; read from CSV or YAML files, every problem named by file and line."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml

from publisher.config import LoadedConfig, Problem
from publisher.scan.finding import LEVELS, Level

STARTER = Path(__file__).with_name("starter-wording.csv")
STARTER_SENSITIVE = Path(__file__).with_name("starter-sensitive.csv")
SEPARATOR = "|"  # several exceptions, titles or former titles in one CSV cell
COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # required, optional
    "wording": (("wrong", "right"), ("except", "level", "note")),
    "sensitive": (("word", "level"), ("except", "note")),
    "names": (("name", "titles"), ("former", "level", "note")),
}
# titles recognised beside a registered name, besides those in the register and the config
TITLES = (
    "省长", "副省长", "常务副省长", "代省长", "省委书记", "省委副书记", "市长", "副市长", "常务副市长",
    "代市长", "市委书记", "市委副书记", "市委常委", "区长", "副区长", "常务副区长", "代区长", "区委书记",
    "区委副书记", "县长", "副县长", "常务副县长", "代县长", "县委书记", "县委副书记", "镇长", "副镇长",
    "乡长", "副乡长", "书记", "副书记", "主任", "副主任", "常务副主任", "局长", "副局长", "厅长",
    "副厅长", "处长", "副处长", "科长", "副科长", "部长", "副部长", "秘书长", "副秘书长", "主席",
    "副主席", "党组书记", "党组成员", "一级巡视员", "二级巡视员", "巡视员", "副巡视员", "调研员",
    "新闻发言人", "院长", "副院长", "检察长", "副检察长", "署长", "委员",
)


class ListError(Exception):
    """A list file cannot be used; ``problems`` names each problem by file and line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


@dataclass(frozen=True)
class WordingEntry:
    """A wrong form and its right one; ``exceptions`` are longer phrases where the form is right."""

    wrong: str
    right: str
    exceptions: tuple[str, ...] = ()
    level: Level = "block"
    note: str = ""
    source: str = ""  # file:line


@dataclass(frozen=True)
class SensitiveEntry:
    """A sensitive word and what it means for a release: block, review or warn."""

    word: str
    level: Level
    exceptions: tuple[str, ...] = ()
    note: str = ""
    source: str = ""


@dataclass(frozen=True)
class Leader:
    """A leader's name with their current titles, and titles they no longer hold."""

    name: str
    titles: tuple[str, ...]
    former: tuple[str, ...] = ()
    level: Level = "block"
    note: str = ""
    source: str = ""


@dataclass
class Lists:
    """Every list the checks match, read once per configuration."""

    wording: list[WordingEntry] = field(default_factory=list)
    sensitive: list[SensitiveEntry] = field(default_factory=list)
    leaders: list[Leader] = field(default_factory=list)
    titles: set[str] = field(default_factory=set)

    @property
    def entries(self) -> int:
        return len(self.wording) + len(self.sensitive) + len(self.leaders)


def load_lists(loaded: LoadedConfig) -> Lists:
    """Every list the config names (and the starter list); ListError names every problem."""
    checks = loaded.config.checks
    problems: list[Problem] = []
    lists = Lists(titles={*TITLES, *checks.titles})
    files = [("wording", STARTER), ("sensitive", STARTER_SENSITIVE)] \
        if checks.starter_lists else []
    files += [(kind, loaded.resolve(name)) for kind in ("wording", "sensitive", "names")
              for name in getattr(checks, kind)]
    for kind, path in files:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "不是 UTF-8 / not UTF-8"
            problems.append(Problem(str(path), f"checks.{kind}",
                                    f"无法读取名单 / cannot read the list: {reason}"))
            continue
        parsed = parse(kind, text, str(path), problems)
        if kind == "wording":
            lists.wording += cast(list[WordingEntry], parsed)
        elif kind == "sensitive":
            lists.sensitive += cast(list[SensitiveEntry], parsed)
        else:
            lists.leaders += cast(list[Leader], parsed)
    office = {e.wrong for e in lists.wording if not e.source.startswith(f"{STARTER}:")}
    lists.wording = [e for e in lists.wording  # the office's entry replaces the starter's
                     if not (e.source.startswith(f"{STARTER}:") and e.wrong in office)]
    own = {e.word for e in lists.sensitive if not e.source.startswith(f"{STARTER_SENSITIVE}:")}
    lists.sensitive = [e for e in lists.sensitive
                       if not (e.source.startswith(f"{STARTER_SENSITIVE}:") and e.word in own)]
    _check_repeats(lists, problems)
    for leader in lists.leaders:
        lists.titles.update(leader.titles, leader.former)
    if problems:
        raise ListError(problems)
    return lists


def parse(kind: str, text: str, name: str, problems: list[Problem]
          ) -> list[WordingEntry] | list[SensitiveEntry] | list[Leader]:
    """Entries of one list file (``.csv``, or ``.yaml``/``.yml``); problems go to the list."""
    records = (_yaml_records(text, name, problems) if name.endswith((".yaml", ".yml"))
               else _csv_records(text, name, problems, kind))
    out: list[Any] = []
    for line, record in records:
        entry = _entry(kind, record, f"{name}:{line}", problems, Problem(name, kind, "", line))
        if entry is not None:
            out.append(entry)
    return out


def _csv_records(text: str, name: str, problems: list[Problem], kind: str
                 ) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text))
    rows = [(reader.line_num, row) for row in reader]
    rows = [(n, r) for n, r in rows if any(c.strip() for c in r) and not r[0].startswith("#")]
    if not rows:
        return []
    header = [c.strip().lower() for c in rows[0][1]]
    required, optional = COLUMNS[kind]
    missing = [c for c in required if c not in header]
    unknown = [c for c in header if c and c not in (*required, *optional)]
    if missing or unknown:
        problems.append(Problem(name, kind, (
            f"表头应为 / the header must name {', '.join(required)} "
            f"(可选 / optional: {', '.join(optional)})"
            + (f"; 缺少 / missing: {', '.join(missing)}" if missing else "")
            + (f"; 不认识 / unknown: {', '.join(unknown)}" if unknown else "")), rows[0][0]))
        return []
    return [(line, {h: c.strip() for h, c in zip(header, row, strict=False) if h and c.strip()})
            for line, row in rows[1:]]


def _yaml_records(text: str, name: str, problems: list[Problem]
                  ) -> list[tuple[int, dict[str, Any]]]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problems.append(Problem(name, "", f"YAML 语法错误 / YAML syntax: {exc}",
                                mark.line + 1 if mark else None))
        return []
    if raw is None:
        return []
    if not isinstance(raw, list) or not isinstance(node, yaml.SequenceNode):
        problems.append(Problem(name, "", "名单应为列表（每项一个映射）/ the list must be a YAML "
                                          "list of mappings", 1))
        return []
    out = []
    for item, item_node in zip(raw, node.value, strict=True):
        line = item_node.start_mark.line + 1
        if not isinstance(item, dict):
            problems.append(Problem(name, "", "每项应为映射 / each entry must be a mapping", line))
            continue
        out.append((line, item))
    return out


def _values(value: Any) -> tuple[str, ...]:
    items: Iterable[Any] = value if isinstance(value, list) else str(value).split(SEPARATOR)
    return tuple(s for s in (str(v).strip() for v in items) if s)


def _entry(kind: str, record: dict[str, Any], source: str, problems: list[Problem],
           at: Problem) -> WordingEntry | SensitiveEntry | Leader | None:
    required, optional = COLUMNS[kind]

    def problem(message: str) -> None:
        problems.append(Problem(at.file, at.path, message, at.line))

    unknown = [k for k in record if k not in (*required, *optional)]
    missing = [k for k in required if not str(record.get(k) or "").strip()]
    if unknown:
        problem(f"不认识的键 / unknown key(s): {', '.join(map(str, unknown))} "
                f"(可用 / known: {', '.join((*required, *optional))})")
    if missing:
        problem(f"缺少 / missing: {', '.join(missing)}")
    if unknown or missing:
        return None
    written = str(record.get("level") or "block").strip()
    if written not in LEVELS:
        problem(f"级别只能是 block、review 或 warn / level must be block, review or warn: "
                f"{written!r}")
        return None
    level = written
    note = str(record.get("note") or "").strip()
    exceptions = _values(record.get("except") or [])
    if kind == "wording":
        wrong, right = str(record["wrong"]).strip(), str(record["right"]).strip()
        if wrong == right:
            problem(f"错误写法与正确写法相同 / the wrong and right forms are the same: {wrong!r}")
            return None
        stray = [e for e in exceptions if wrong not in e]
        if stray:
            problem(f"例外须包含错误写法 {wrong!r} / each exception must contain the wrong form: "
                    f"{', '.join(stray)}")
            return None
        return WordingEntry(wrong, right, exceptions, level, note, source)
    if kind == "sensitive":
        word = str(record["word"]).strip()
        stray = [e for e in exceptions if word not in e]
        if stray:
            problem(f"例外须包含该词 {word!r} / each exception must contain the word: "
                    f"{', '.join(stray)}")
            return None
        return SensitiveEntry(word, level, exceptions, note, source)
    titles = _values(record["titles"])
    former = _values(record.get("former") or [])
    both = set(titles) & set(former)
    if both:
        problem(f"同一职务既是现任又是原任 / a title is both current and former: {', '.join(both)}")
        return None
    return Leader(str(record["name"]).strip(), titles, former, level, note, source)


def _check_repeats(lists: Lists, problems: list[Problem]) -> None:
    """The same wrong form, word or name twice (the later one would silently win)."""
    groups: Sequence[tuple[str, Sequence[WordingEntry | SensitiveEntry | Leader]]] = (
        ("wording", lists.wording), ("sensitive", lists.sensitive), ("names", lists.leaders))
    for kind, entries in groups:
        seen: dict[str, str] = {}
        for entry in entries:
            key = (entry.wrong if isinstance(entry, WordingEntry) else
                   entry.word if isinstance(entry, SensitiveEntry) else entry.name)
            if key in seen:
                file, _, line = entry.source.rpartition(":")
                problems.append(Problem(file, kind, f"重复的条目 {key!r}（已见于 {seen[key]}）/ "
                                        f"{key!r} is listed twice (first at {seen[key]})",
                                        int(line) if line.isdigit() else None))
            else:
                seen[key] = entry.source
