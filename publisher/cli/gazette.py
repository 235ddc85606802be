"""``publisher gazette compile|show``: number and publish the next issue; look at an issue."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from publisher.cli import CONFIG_OPTION, actor, cli, fail, open_app

if TYPE_CHECKING:
    from publisher.app import App

gazette_cli = typer.Typer(help="政府公报 / The government gazette.", no_args_is_help=True)
cli.add_typer(gazette_cli, name="gazette")

CHANNEL_OPTION = typer.Option(None, "--channel", help="公报渠道（默认唯一启用的那个）/ the "
                              "gazette channel (default: the one enabled)")


def _gazette_channel(app: App, name: str | None) -> Any:
    from publisher.gazette import gazette_channels

    names = gazette_channels(app)
    if name is None and len(names) == 1:
        name = names[0]
    if name is None or name not in names:
        raise fail(f"请用 --channel 指定公报渠道 / name the gazette channel with --channel "
                   f"(enabled: {', '.join(names) or 'none'})", 2)
    return app.channel(name)


@gazette_cli.command("compile")
def compile_command(
    channel: str | None = CHANNEL_OPTION,
    issue: int | None = typer.Option(None, "--issue", help="本年期号（默认下一期）/ issue number "
                                     "in the year (default: the next)"),
    merged: int = typer.Option(1, "--merged", min=1, max=4, help="合刊期数 / issues merged "
                               "into this one (e.g. 2 for 第5、6期)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="只预览编号与目录 / number and list "
                                 "only; write nothing"),
    config: Path = CONFIG_OPTION,
) -> None:
    """编印下一期公报并发布 / Compile the next issue from the queued items and publish it."""
    from channels.base import ChannelError
    from publisher.gazette import compile_next

    app = open_app(config)
    name = _gazette_channel(app, channel).name
    try:
        compiled, settled = compile_next(app, name, actor=actor(), issue_no=issue,
                                         merged=merged, dry_run=dry_run)
    except ChannelError as exc:
        raise fail(f"{exc.explanation_zh} / {exc.explanation_en}", 1) from None
    typer.echo(f"{'（预览）' if dry_run else ''}{compiled.number.full_label}: "
               f"{len(compiled.items)} 条 / items")
    for item in compiled.items:
        typer.echo(f"  [{item.section}] {item.title} {item.doc_no}")
    for item in compiled.held:
        typer.echo(f"  暂缓（等待配套文件）/ held for its pair: {item.title}")
    if not dry_run:
        typer.echo(f"已发布 / published; {settled} 项投递完成 / deliveries settled")


@gazette_cli.command("show")
def show_command(
    issue: str | None = typer.Argument(None, help="期号如 2026-24 或总期号（默认最新）/ e.g. "
                                       "2026-24 or the total number (default: the latest)"),
    channel: str | None = CHANNEL_OPTION,
    output: str = typer.Option("text", "--format", help="text | json"),
    config: Path = CONFIG_OPTION,
) -> None:
    """查看一期公报与待出版条目 / Show an issue, its files' integrity, and what is queued."""
    from channels.gazette.issue import describe, find_issue, upcoming
    from channels.gazette.state import load_state

    app = open_app(config, json_logs=True)
    gazette = _gazette_channel(app, channel).gazette
    found = find_issue(gazette.site_dir, issue)
    state = load_state(gazette.site_dir)
    number, when = upcoming(gazette, state, app.clock.now().astimezone(app.loaded.zone).date())
    summary = {"issue": describe(gazette.site_dir, found) if found else None,
               "queued_for": number.full_label, "queued_for_date": when.isoformat(),
               "queue": [i.title for i in state.queue]}
    if output == "json":
        typer.echo(json.dumps(summary, ensure_ascii=False))
        return
    if found is None:
        typer.echo("尚无已出版的公报 / no issue published yet" if issue is None
                   else f"没有这一期 / no such issue: {issue}")
    else:
        info = summary["issue"]
        assert isinstance(info, dict)
        typer.echo(f"{info['issue']}（{info['published_date']}）"
                   f"{'文件完整 / intact' if info['intact'] else '文件被改动 / ALTERED'}")
        for item in info["items"]:
            typer.echo(f"  [{item['section']}] {item['title']} {item['doc_no']}")
    typer.echo(f"下一期 / next: {number.full_label}（{when.isoformat()}），待出版 / queued: "
               f"{len(state.queue)}")
