"""``publisher report annual``: the annual disclosure report's figures, and the rows behind one."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from publisher.cli import CONFIG_OPTION, cli, fail, open_app

if TYPE_CHECKING:
    from publisher.app import App
    from publisher.report.period import ReportPeriod

report_cli = typer.Typer(help="统计报告 / Reports from the bot's records.", no_args_is_help=True)
cli.add_typer(report_cli, name="report")

FORMATS = ("table", "json", "csv", "xlsx", "docx")
BINARY = ("xlsx", "docx")


@report_cli.command("annual")
def annual(
    year: int | None = typer.Option(None, "--year", help="年度（默认今年）/ the year (default: "
                                    "this year)"),
    first: str | None = typer.Option(None, "--from", metavar="YYYY-MM-DD",
                                     help="起始日 / first day of any period"),
    last: str | None = typer.Option(None, "--to", metavar="YYYY-MM-DD",
                                    help="截止日（含）/ last day, included"),
    organ: str | None = typer.Option(None, "--organ", help="只统计此发布机构 / one issuing "
                                     "organ only"),
    output_format: str = typer.Option("table", "--format",
                                      help="table | json | csv | xlsx | docx"),
    output: Path | None = typer.Option(None, "--output", "-o",
                                       help="写入文件（xlsx、docx 必需）/ write to this file "
                                            "(needed for xlsx and docx)"),
    figure: str | None = typer.Option(None, "--explain", metavar="FIGURE",
                                      help="列出某项数字所计的记录 / list the rows a figure "
                                           "counts (ids as in --format json)"),
    verify: bool = typer.Option(True, "--verify/--no-verify",
                                help="核验审计链（默认）/ verify the audit chain (default)"),
    config: Path = CONFIG_OPTION,
) -> None:
    """政府信息公开工作年度报告的统计数字 / The annual disclosure report's figures, counted from
    releases, deliveries, incidents, gazette issues and the audit chain."""
    from publisher.report.build import build_report
    from publisher.report.output import data, text
    from publisher.report.period import PeriodError, parse

    if output_format not in FORMATS:
        raise fail(f"--format: {output_format!r} 不是 / is not one of {', '.join(FORMATS)}", 2)
    if output_format in BINARY and output is None:
        raise fail(f"--format {output_format} 需要 --output 文件 / needs --output FILE", 2)
    app = open_app(config, json_logs=True)
    try:
        period = parse(app.loaded.zone, year=year, first=first, last=last,
                       today=app.clock.now().astimezone(app.loaded.zone).date())
    except PeriodError as exc:
        raise fail(str(exc), 2) from None
    if figure is not None:
        _explain(app, period, figure, organ, output_format)
        return
    report = build_report(app, period, organ=organ, verify=verify)
    if output_format == "xlsx":
        from publisher.report.output.xlsx import to_xlsx

        _write(output, to_xlsx(report))
    elif output_format == "docx":
        from publisher.report.output.docx import to_docx

        _write(output, to_docx(report, app.loaded.config.report.headings))
    elif output_format == "json":
        _write(output, json.dumps(data.to_json(report), ensure_ascii=False, indent=1,
                                  default=str).encode("utf-8") + b"\n")
    elif output_format == "csv":
        _write(output, data.to_csv(report).encode("utf-8"))
    else:
        _write(output, text.render(report).encode("utf-8"))
    if report.audit.ok is False:
        typer.echo(f"审计链被破坏 / the audit chain is broken: {report.audit.problem}", err=True)
        raise typer.Exit(1)


def _explain(app: App, period: ReportPeriod, figure_id: str, organ: str | None,
             output_format: str) -> None:
    from publisher.report.build import explain, rows_of
    from publisher.report.output import data, text

    try:
        report, figure = explain(app, period, figure_id, organ=organ)
    except KeyError as exc:
        raise fail(str(exc.args[0]), 2) from None
    lines = rows_of(app, figure)
    if output_format == "json":
        typer.echo(json.dumps({"figure": figure_id, **data.figure_json(figure),
                               "lines": [{"id": line.id, "when": line.when, "what": line.what,
                                          "detail": line.detail} for line in lines]},
                              ensure_ascii=False, default=str))
        return
    typer.echo(text.explanation(report, figure, lines, app.loaded.zone), nl=False)


def _write(output: Path | None, content: bytes) -> None:
    if output is None:
        sys.stdout.buffer.write(content)
        sys.stdout.flush()
        return
    try:
        output.write_bytes(content)
    except OSError as exc:
        raise fail(f"{output}: {exc.strerror or exc}", 1) from None
    typer.echo(f"已写入 / written: {output}", err=True)
