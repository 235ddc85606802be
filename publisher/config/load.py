"""Reading schedules.yaml: YAML lines, validation, cross-section checks, every problem listed."""

from __future__ import annotations

import copy
import itertools
import os
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import ValidationError

from publisher.config.models import (
    ENV_REF,
    ENV_REF_WHOLE,
    ID_PATTERN,
    Config,
    ReleaseDefinition,
)
from publisher.config.wording import explain, suggestion, unknown
from publisher.cron import cron_trigger
from publisher.period import period_of

ID_WORDS = "编号只能由小写字母、数字、- 和 _ 组成 / an id is lower-case kebab or snake"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the configuration, located as precisely as possible."""

    file: str
    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path or '(top)'}: {self.message}"


class ConfigError(Exception):
    """The configuration has problems; ``problems`` lists every one found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        count = len(problems)
        super().__init__(f"配置有 {count} 处错误 / {count} configuration problem(s):\n{lines}")


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config plus where it came from (paths resolve against its folder)."""

    config: Config
    file: Path
    lines: dict[tuple[str, ...], int]

    @property
    def root(self) -> Path:
        return self.file.parent

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.config.timezone)

    def resolve(self, relative: str) -> Path:
        path = Path(relative)
        return path if path.is_absolute() else self.root / path

    def problem(self, path: tuple[str | int, ...], message: str) -> Problem:
        key = tuple(str(p) for p in path)
        line = None
        while key:
            if key in self.lines:
                line = self.lines[key]
                break
            key = key[:-1]
        return Problem(str(self.file), ".".join(str(p) for p in path), message, line)

    def definition(self, release_id: str) -> ReleaseDefinition:
        try:
            return self.config.releases[release_id]
        except KeyError:
            known = ", ".join(sorted(self.config.releases))
            hint = suggestion(release_id, self.config.releases)
            raise ConfigError(
                [Problem(str(self.file), f"releases.{release_id}",
                         f"没有这个发布定义 / no such release definition{hint} (known: {known})")]
            ) from None

    def misfire_grace_minutes(self, release_id: str) -> int:
        d = self.config.releases[release_id]
        return d.misfire_grace_minutes or self.config.defaults.misfire_grace_minutes

    def retry_deadline_hours(self, release_id: str) -> float:
        d = self.config.releases[release_id]
        return d.retry_deadline_hours or self.config.defaults.retry_deadline_hours


def _line_map(node: yaml.Node, path: tuple[str, ...], out: dict[tuple[str, ...], int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            out[(*path, key)] = key_node.start_mark.line + 1
            _line_map(value_node, (*path, key), out)
            out[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _line_map(item, (*path, str(index)), out)


def resolve_env(value: str, environ: dict[str, str] | None = None) -> str:
    """Replace ``${VAR}`` references with the environment's values; KeyError names a missing one."""
    env = os.environ if environ is None else environ

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise KeyError(name)
        return env[name]

    return ENV_REF.sub(sub, value)


def load(file: Path | str) -> LoadedConfig:
    """Read and validate a config file; ConfigError lists every problem found."""
    loaded, problems = load_with_problems(file)
    if problems or loaded is None:
        raise ConfigError(problems)
    return loaded


def load_with_problems(file: Path | str) -> tuple[LoadedConfig | None, list[Problem]]:
    """Read a config file, returning the valid part (None if nothing usable) and every problem.

    ``publisher check`` goes on to check templates and data of the valid part.
    """
    file = Path(file)
    name = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([Problem(name, "", f"无法读取 / cannot read: {exc.strerror}")]) from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        raise ConfigError([Problem(name, "", f"YAML 语法错误 / YAML syntax: {exc}", line)]) from exc
    lines: dict[tuple[str, ...], int] = {}
    if node is not None:
        _line_map(node, (), lines)
    if not isinstance(raw, dict):
        raise ConfigError([Problem(name, "", "顶层必须是映射 / the top level must be a mapping", 1)])
    partial = LoadedConfig(Config.model_construct(channels={}, releases={}), file, lines)
    problems: list[Problem] = []
    config: Config | None
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        problems = [partial.problem(tuple(err["loc"]), explain(err, Config)) for err in errors]
        config = _valid_part(raw, errors)
        if config is None:
            return None, problems
    loaded = LoadedConfig(config, file, lines)
    problems += cross_check(loaded, declared={
        section: set(raw.get(section) or {}) if isinstance(raw.get(section), dict) else set()
        for section in ("channels", "schemas", "columns")})
    return loaded, problems


def _valid_part(raw: dict[str, Any], errors: list[Any]) -> Config | None:
    """The config without what failed validation, so the rest is still cross-checked.

    First only the failing keys are dropped (defaults take their place); if that is not
    enough, the whole entries (one channel, one release) holding them.
    """
    for depth in (None, 2, 1):
        pruned = copy.deepcopy(raw)
        for err in errors:
            loc = tuple(err["loc"])
            _drop(pruned, loc if depth is None else loc[:depth])
        try:
            return Config.model_validate(pruned)
        except ValidationError:
            continue
    return None


def _drop(tree: Any, loc: tuple[Any, ...]) -> None:
    for step in loc[:-1]:
        present = (step in tree) if isinstance(tree, dict) else (
            isinstance(tree, list) and isinstance(step, int) and step < len(tree))
        if not present:
            return
        tree = tree[step]
    if loc and isinstance(tree, dict):
        tree.pop(loc[-1], None)


def cross_check(loaded: LoadedConfig, declared: dict[str, set[str]] | None = None) -> list[Problem]:
    """Checks that span sections: channel kinds, references, secrets, schedules.

    ``declared`` names every entry written in the file, valid or not, so a reference to an
    entry that failed its own validation is not reported a second time as unknown.
    """
    from channels import registry  # local: channels never import publisher, but we may import them
    from publisher.logs import is_sensitive_key

    config = loaded.config
    known = {section: set(getattr(config, section)) | (declared or {}).get(section, set())
             for section in ("channels", "schemas", "columns")}
    problems: list[Problem] = []
    for name, channel in config.channels.items():
        if not re.match(ID_PATTERN, name):
            problems.append(loaded.problem(("channels", name), ID_WORDS))
        for field_name, value in channel.settings.items():
            if is_sensitive_key(field_name) and not (
                    isinstance(value, str) and ENV_REF_WHOLE.match(value)):
                problems.append(loaded.problem(
                    ("channels", name, "settings", field_name),
                    "密钥只能写成 ${环境变量} / secrets must be ${ENV_VAR} references, never literal",
                ))
        if channel.kind not in registry.kinds():
            problems.append(loaded.problem(
                ("channels", name, "kind"),
                f"未知渠道类型 / unknown channel kind {channel.kind!r}"
                f"{suggestion(channel.kind, registry.kinds())}; "
                f"known: {', '.join(registry.kinds())}",
            ))
            continue
        settings_model = registry.channel_class(channel.kind).settings_model
        secrets = set(settings_model.secret_fields())
        for field_name, value in channel.settings.items():
            if field_name not in secrets and not is_sensitive_key(field_name) and \
                    isinstance(value, str) and ENV_REF.search(value):
                problems.append(loaded.problem(
                    ("channels", name, "settings", field_name),
                    "${环境变量} 只在密钥字段中读取，此处不展开（以免把密钥发布出去）；请写明文值 / "
                    "${ENV_VAR} references are read in secret fields only, never here (a secret "
                    f"could end up published); write the value itself (secret fields: "
                    f"{', '.join(sorted(secrets)) or 'none'})"))
        for field_name, value in channel.settings.items():
            if field_name in secrets and not is_sensitive_key(field_name) and not (
                isinstance(value, str) and ENV_REF_WHOLE.match(value)
            ):
                problems.append(loaded.problem(
                    ("channels", name, "settings", field_name),
                    "密钥只能写成 ${环境变量} / secrets must be ${ENV_VAR} references, never literal",
                ))
        try:
            settings_model.model_validate(
                {k: v for k, v in channel.settings.items() if k not in secrets}
                | {k: "x" for k in secrets if k in channel.settings}
            )
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                problems.append(loaded.problem(
                    ("channels", name, "settings", *[str(p) for p in err["loc"]]),
                    explain(err, settings_model)))
    for release_id, definition in config.releases.items():
        base = ("releases", release_id)
        if not re.match(ID_PATTERN, release_id):
            problems.append(loaded.problem(base, ID_WORDS))
        if definition.schedule != "manual":
            try:
                cron_trigger(definition.schedule, loaded.zone)
            except ValueError as exc:
                problems.append(loaded.problem(
                    (*base, "schedule"), f"定时表达式有误 / bad cron expression: {exc}"))
        problems += _check_review(loaded, base, definition)
        problems += _listed_twice(loaded, (*base, "channels"), definition.channels)
        for index, channel_name in enumerate(definition.channels):
            if channel_name not in known["channels"]:
                problems.append(loaded.problem(
                    (*base, "channels", index),
                    unknown("渠道", "channel", channel_name, known["channels"]),
                ))
        if definition.column not in known["columns"]:
            problems.append(loaded.problem(
                (*base, "column"), unknown("栏目", "column", definition.column, known["columns"])))
        if definition.source:
            sample_period = period_of(date(2026, 1, 1), definition.source.period)
            for table_name, table in definition.source.tables.items():
                try:
                    table.path.format(**sample_period.fields())
                except (KeyError, ValueError, IndexError) as exc:
                    problems.append(loaded.problem(
                        (*base, "source", "tables", table_name, "path"),
                        f"路径模式有误 / bad path pattern: {exc!r}; placeholders: "
                        f"{', '.join(sample_period.fields())}",
                    ))
                if table.table_schema not in known["schemas"]:
                    problems.append(loaded.problem(
                        (*base, "source", "tables", table_name, "schema"),
                        unknown("数据结构", "schema", table.table_schema, known["schemas"]),
                    ))
                if table.sample and not loaded.resolve(table.sample).is_file():
                    problems.append(loaded.problem(
                        (*base, "source", "tables", table_name, "sample"),
                        f"样例数据文件不存在 / sample file not found: {table.sample}",
                    ))
        folder = loaded.resolve(config.templates_dir) / (definition.templates or release_id)
        if not folder.is_dir():
            problems.append(loaded.problem(
                (*base, "templates"), f"模板目录不存在 / template folder not found: {folder}"))
        if definition.interpretation is not None:
            folder = loaded.resolve(config.templates_dir) / definition.interpretation.templates
            if not folder.is_dir():
                problems.append(loaded.problem(
                    (*base, "interpretation", "templates"),
                    f"模板目录不存在 / template folder not found: {folder}"))
    if config.urgent is not None:
        problems += _check_urgent(loaded, known)
    return problems


def _listed_twice(loaded: LoadedConfig, where: tuple[str, ...], names: list[str]
                  ) -> list[Problem]:
    """A channel named a second time in a list (one delivery per channel: never two)."""
    return [loaded.problem((*where, index), f"渠道 {name} 重复列出 / channel {name} is listed "
                                            "more than once")
            for index, name in enumerate(names) if name in names[:index]]


def _check_review(loaded: LoadedConfig, base: tuple[str, ...], definition: ReleaseDefinition
                  ) -> list[Problem]:
    """``review_lead_minutes`` goes with ``review: required``, and is shorter than the time
    between two runs (else a run is rendered for review before the one before it is due)."""
    if definition.review != "required":
        if "review_lead_minutes" in definition.model_fields_set:
            return [loaded.problem((*base, "review_lead_minutes"),
                                   "仅在 review: required 时有效 / only applies with review: "
                                   "required")]
        return []
    if definition.schedule == "manual":
        return []
    try:
        trigger = cron_trigger(definition.schedule, loaded.zone)
    except ValueError:
        return []  # reported with the schedule
    times: list[datetime] = []
    current = trigger.get_next_fire_time(None, datetime(2026, 1, 1, tzinfo=loaded.zone))
    while current is not None and len(times) < 60:
        times.append(current)
        current = trigger.get_next_fire_time(current, current + timedelta(microseconds=1))
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    lead = timedelta(minutes=definition.review_lead_minutes)
    if gaps and lead >= min(gaps):
        return [loaded.problem(
            (*base, "review_lead_minutes"),
            f"审核提前量须短于两次发布的间隔 / the review lead ({lead}) must be shorter than the "
            f"time between two runs ({min(gaps)})")]
    return []


def _check_urgent(loaded: LoadedConfig, known: dict[str, set[str]]) -> list[Problem]:
    """The urgent section: its channels exist and take urgent posts; column and templates exist."""
    from channels import registry

    urgent = loaded.config.urgent
    assert urgent is not None
    problems = _listed_twice(loaded, ("urgent", "channels"), urgent.channels)
    for index, name in enumerate(urgent.channels):
        channel = loaded.config.channels.get(name)
        if name not in known["channels"]:
            problems.append(loaded.problem(("urgent", "channels", index),
                                           unknown("渠道", "channel", name, known["channels"])))
        elif channel is not None and channel.kind in registry.kinds() and \
                not registry.channel_class(channel.kind).takes_urgent:
            problems.append(loaded.problem(
                ("urgent", "channels", index),
                f"{channel.kind} 渠道不发布紧急信息 / the {channel.kind} kind takes no urgent posts"))
    for index, name in enumerate(urgent.update_new_post):
        if name not in known["channels"]:
            problems.append(loaded.problem(("urgent", "update_new_post", index),
                                           unknown("渠道", "channel", name, known["channels"])))
    if urgent.column not in known["columns"]:
        problems.append(loaded.problem(("urgent", "column"),
                                       unknown("栏目", "column", urgent.column, known["columns"])))
    folder = loaded.resolve(loaded.config.templates_dir) / urgent.templates
    if not folder.is_dir():
        problems.append(loaded.problem(("urgent", "templates"),
                                       f"模板目录不存在 / template folder not found: {folder}"))
    return problems
