"""``publisher check``: config, templates, sample data and channel limits, every problem listed."""

from __future__ import annotations

from datetime import datetime

from channels.base import ChannelError
from channels.portal.catalogue import format_index_number
from publisher.alert import check_urls
from publisher.app import App
from publisher.config import LoadedConfig, Problem
from publisher.period import period_of
from publisher.release import ReleaseProblems, occurrence_key, prepare_release
from publisher.scan import ListError
from publisher.source import DataError, Table, headers_of, read_table
from publisher.source.problem import Where
from publisher.store import Store


def preview_app(loaded: LoadedConfig) -> App:
    """An App for work that never touches the database or a remote (check, preview)."""
    return App(loaded=loaded, store=Store("sqlite://", migrate=False), offline=True)


def sample_tables(loaded: LoadedConfig, definition_id: str, problems: list[Problem]
                  ) -> dict[str, Table] | None:
    """Read a definition's shipped samples through their schemas; problems go to the list."""
    definition = loaded.config.releases[definition_id]
    if definition.source is None:
        return {}
    tables: dict[str, Table] = {}
    for name, table in definition.source.tables.items():
        path = ("releases", definition_id, "source", "tables", name, "sample")
        if not table.sample:
            problems.append(loaded.problem(path[:-1], "没有样例数据，无法检查渲染与渠道限制 / no "
                                           "sample data: rendering and limits go unchecked"))
            return None
        if table.table_schema not in loaded.config.schemas:
            return None  # loading the config already named the unknown schema
        file = loaded.resolve(table.sample)
        schema = loaded.config.schemas[table.table_schema]
        wheres: list[Where] = []
        try:
            rows = read_table(file, schema, table.sheet, wheres=wheres)
        except DataError as exc:
            problems.append(loaded.problem(path, str(exc)))
            return None
        tables[name] = Table(name=name, file=file, rows=rows, wheres=tuple(wheres),
                             headers=headers_of(schema))
    return tables


def check(loaded: LoadedConfig, *, at: datetime, online: bool = False,
          warnings: list[str] | None = None) -> list[Problem]:
    """Every problem found in templates, samples, limits and the content checks' lists (the
    config itself already loaded); the samples' ``review`` and ``warn`` findings go to
    ``warnings``."""
    app = preview_app(loaded)
    problems: list[Problem] = []
    if loaded.config.checks.enabled:
        try:
            app.scanner  # noqa: B018 (reads and compiles the lists)
        except ListError as exc:
            problems += exc.problems
    renderer = app.renderer
    unusable = _unusable_channels(app)
    for definition_id, definition in loaded.config.releases.items():
        folder = definition.templates or definition_id
        for error in renderer.check(folder):
            problems.append(loaded.problem(("releases", definition_id, "templates"), str(error)))
        for index, name in enumerate(definition.channels):
            if not app.enabled(name) or name in unusable:
                continue
            channel = app.channel(name)
            template = renderer.template_path(folder, channel.kind, channel.template_ext)
            if not template.is_file():
                problems.append(loaded.problem(
                    ("releases", definition_id, "channels", index),
                    f"缺少模板 / missing template {template}"))
        tables = sample_tables(loaded, definition_id, problems)
        if tables is None or unusable.intersection(definition.channels) or any(
                p.path.startswith(f"releases.{definition_id}.") for p in problems):
            continue
        period = (period_of(at.astimezone(loaded.zone).date(), definition.source.period,
                            definition.source.period_offset) if definition.source else None)
        try:
            prepared = prepare_release(app, definition_id, occurrence_key(definition_id, at, app),
                                       at, index_number=format_index_number(definition.organ_code,
                                                                            at.year, 1),
                                       tables=tables, period=period)
        except ReleaseProblems as exc:
            listed = {str(p) for p in problems}  # an unusable list: said once, above
            problems.extend(loaded.problem(path, message) for path, message in exc.located
                            if message not in listed)
        else:
            if warnings is not None:
                warnings += [f"releases.{definition_id}: {f.describe()}"
                             for f in prepared.findings]
    if loaded.config.urgent is not None and not unusable.intersection(loaded.config.urgent.channels):
        problems += _check_urgent(app, at)  # (an unusable channel's settings are reported)
    problems += check_urls(loaded, app.environ)  # by index: the URLs hold secrets
    for name, conf in loaded.config.channels.items():
        if conf.enabled and name not in unusable and not online \
                and app.channel(name).check_offline:  # e.g. the gazette's stored hashes
            problems.extend(loaded.problem(("channels", name), message)
                            for message in app.channel(name).check())
    if online:
        for name, conf in loaded.config.channels.items():
            if conf.enabled and name not in unusable:
                problems.extend(loaded.problem(("channels", name), message)
                                for message in app.channel(name).check())
    return problems


def _unusable_channels(app: App) -> set[str]:
    """Enabled channels whose adapter cannot be built (loading the config names why)."""
    unusable = set()
    for name, conf in app.loaded.config.channels.items():
        if conf.enabled:
            try:
                app.channel(name)
            except (KeyError, ValueError, ChannelError):  # unknown kind, invalid settings
                unusable.add(name)
    return unusable


SAMPLE_URGENT = {
    "title": "某路段发生交通事故（检查用样例）",
    "facts": "今日10时许，某路段发生交通事故，相关部门已到场处置，详情正在核实。",
    "area": "某区某路段",
    "severity": "一般",
    "instruction": "请过往车辆绕行。",
}


def _check_urgent(app: App, at: datetime) -> list[Problem]:
    """Render and prepare a sample urgent post for every default urgent channel."""
    from publisher.urgent import UrgentPost, UrgentRejected, prepare

    try:
        prepare(app, UrgentPost(**SAMPLE_URGENT), at, records=False)  # no database here
    except UrgentRejected as exc:
        return [app.loaded.problem(("urgent",), problem) for problem in exc.problems]
    return []
