"""``publisher check`` and ``publisher preview``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from publisher.cli import CONFIG_OPTION, cli, fail, load_config

if TYPE_CHECKING:
    from publisher import config as config_module
    from publisher.config import Problem


@cli.command()
def check(
    config: Path = CONFIG_OPTION,
    online: bool = typer.Option(False, "--online", help="同时探测各渠道凭据与连通性 / also probe "
                                "each channel's credentials and reachability"),
) -> None:
    """检查配置、模板、样例数据与渠道限制 / Check config, templates, sample data and limits."""
    from publisher import check as check_module
    from publisher import config as config_module
    from publisher.logs import configure

    configure(json=False, level="WARNING")
    try:
        loaded, problems = config_module.load_with_problems(config)
    except config_module.ConfigError as exc:
        raise fail(str(exc), 1) from None
    warnings: list[str] = []
    if loaded is not None:
        problems += check_module.check(loaded, at=datetime.now(UTC), online=online,
                                       warnings=warnings)
    for warning in warnings:  # the samples' review and warn findings: shown, never failing
        typer.echo(f"内容检查 / content check: {warning}")
    for problem in problems:
        typer.echo(str(problem), err=True)
    if problems:
        raise fail(f"发现 {len(problems)} 处问题 / {len(problems)} problem(s) found", 1)
    assert loaded is not None
    definitions = len(loaded.config.releases)
    entries = check_module.preview_app(loaded).scanner.lists.entries \
        if loaded.config.checks.enabled else 0
    typer.echo(f"配置正常 / config OK: {definitions} release definitions, "
               f"{len(loaded.config.channels)} channels, {entries} content-check list entries")


def _with_samples(loaded: config_module.LoadedConfig, definition: str, data: list[str]
                  ) -> dict[str, Path]:
    """The files ``--data`` names, and each other table's shipped sample (said on stderr): a
    preview of one new table needs no inbox."""
    from publisher.source import parse_data_option

    source = loaded.config.releases[definition].source
    assert source is not None
    try:
        chosen = parse_data_option(data, source)
    except ValueError as exc:
        raise fail(str(exc), 2) from None
    for name, table in source.tables.items():
        if name not in chosen and table.sample:
            chosen[name] = loaded.resolve(table.sample)
            typer.echo(f"数据表 {name} 使用样例 / table {name} uses its sample: {table.sample}",
                       err=True)
    return chosen


@cli.command()
def preview(
    definition: str = typer.Argument(..., help="发布定义 / release definition id"),
    channel: list[str] = typer.Option([], "--channel", help="只看某渠道 / only this channel"),
    data: list[str] = typer.Option([], "--data", help="数据文件（默认样例）/ data file (FILE or "
                                   "TABLE=FILE; default: the shipped samples)"),
    output: str = typer.Option("text", "--format", help="text | json"),
    config: Path = CONFIG_OPTION,
) -> None:
    """预览各渠道将发布的内容，不记录、不发送 / Show what each channel would publish; sends nothing."""
    from channels.portal.catalogue import format_index_number
    from publisher import check as check_module
    from publisher.logs import configure
    from publisher.period import period_of
    from publisher.release import ReleaseProblems, occurrence_key, prepare_release, slug_of
    from publisher.scan import link
    from publisher.source import DataError, load_source

    configure(json=False, level="WARNING")
    loaded = load_config(config)
    definition_conf = loaded.definition(definition)
    app = check_module.preview_app(loaded)
    now = datetime.now(UTC)
    problems: list[str] = []
    tables = None
    period = None
    if definition_conf.source is not None:
        period = period_of(now.astimezone(loaded.zone).date(), definition_conf.source.period,
                           definition_conf.source.period_offset)
        try:
            if data:
                tables = load_source(definition_conf.source, loaded.config.schemas, app.data_dir,
                                     period, _with_samples(loaded, definition, data))
            else:
                found: list[Problem] = []
                tables = check_module.sample_tables(loaded, definition, found)
                problems.extend(str(p) for p in found)
        except DataError as exc:
            raise fail(str(exc), 1) from None
    if problems or (tables is None and definition_conf.source is not None):
        raise fail("\n".join(problems), 1)
    try:
        prepared = prepare_release(
            app, definition, occurrence_key(definition, now, app), now,
            index_number=format_index_number(definition_conf.organ_code, now.year, 1),
            tables=tables, period=period)
    except ReleaseProblems as exc:
        raise fail("\n".join(exc.problems), 1) from None
    links = loaded.config.checks.links
    checked = [*prepared.findings, *link.check(
        prepared.payloads, links, level=links.at_preview, session_factory=app.session_factory,
        own=slug_of(occurrence_key(definition, now, app)))]
    findings = [f for f in checked if not channel or f.channel in channel]
    chosen = {name: payload for name, payload in prepared.payloads.items()
              if not channel or name in channel}
    if output == "json":
        typer.echo(json.dumps({name: p.to_json() for name, p in chosen.items()},
                              ensure_ascii=False, indent=2, default=str))
        return
    typer.echo(f"标题 / title: {prepared.title}")
    for name, payload in chosen.items():
        typer.echo(f"\n===== {name} ({payload.kind}) =====")
        for key, value in payload.data.items():
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False,
                                                                   default=str)
            typer.echo(f"--- {key} ---\n{text}" if "\n" in text else f"{key}: {text}")
    for name in prepared.skipped:
        typer.echo(f"\n(渠道 {name} 未启用 / channel {name} is disabled)")
    if findings:
        typer.echo(f"\n===== 内容检查 / content checks: {len(findings)} =====")
        for finding in findings:
            typer.echo(f"- {finding.describe()}")
