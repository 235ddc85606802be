"""``publisher review list|approve|reject``: releases that wait for an approver before publishing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from publisher.cli import CONFIG_OPTION, actor, cli, fail, open_app

if TYPE_CHECKING:
    pass

review_cli = typer.Typer(help="发布审核 / Review before publishing: approve or reject releases.",
                         no_args_is_help=True)
cli.add_typer(review_cli, name="review")

RELEASE_ARGUMENT = typer.Argument(..., help="发布键或编号 / release key or id")


@review_cli.command("list")
def list_command(
    output: str = typer.Option("table", "--format", help="table | json"),
    config: Path = CONFIG_OPTION,
) -> None:
    """列出待审核的发布 / List the releases awaiting approval, soonest due first."""
    from publisher import review

    if output not in ("table", "json"):
        raise fail("--format 只能是 table 或 json / must be table or json", 2)
    app = open_app(config, json_logs=True)
    zone = app.loaded.zone
    items = review.awaiting(app)
    if output == "json":
        for item in items:
            typer.echo(json.dumps({
                "release": item.release_id, "key": item.key, "definition": item.definition_id,
                "title": item.title, "due_at": item.due_at.astimezone(zone).isoformat(),
                "created_at": item.created_at.astimezone(zone).isoformat(),
                "author": item.author, "origin": item.origin, "channels": list(item.channels),
                "parts": list(item.parts), "overdue": item.overdue}, ensure_ascii=False))
        return
    if not items:
        typer.echo("（无待审核的发布 / nothing awaits approval）")
        return
    for item in items:
        late = "  已过发布时间 / overdue" if item.overdue else ""
        typer.echo(f"{item.release_id:>6}  {item.key}  {item.title or ''}")
        typer.echo(f"        发布时间 / due {item.due_at.astimezone(zone):%Y-%m-%d %H:%M}{late}  "
                   f"创建者 / by {item.author}  渠道 / channels: {', '.join(item.channels)}")


@review_cli.command("approve")
def approve_command(release: str = RELEASE_ARGUMENT, config: Path = CONFIG_OPTION) -> None:
    """批准发布（不能批准自己创建的）/ Approve a release (never one's own): it goes out at its due
    time."""
    from publisher import review

    app = open_app(config, json_logs=True)
    try:
        decision = review.approve(app, release, actor=actor())
    except review.ReviewRefused as exc:
        raise fail(str(exc), 2) from None
    due = decision.due_at.astimezone(app.loaded.zone)
    for key in decision.parts:
        typer.echo(f"{key}: {decision.state}")
    typer.echo(f"已批准，将于 {due:%Y-%m-%d %H:%M} 发布 / approved by {decision.actor}; it is "
               f"published at {due:%Y-%m-%d %H:%M} by `publisher run`")


@review_cli.command("reject")
def reject_command(
    release: str = RELEASE_ARGUMENT,
    reason: str = typer.Option(..., "--reason", help="驳回理由 / why it is rejected"),
    config: Path = CONFIG_OPTION,
) -> None:
    """驳回发布，不予发布 / Reject a release: it is never published."""
    from publisher import review

    app = open_app(config, json_logs=True)
    try:
        decision = review.reject(app, release, actor=actor(), reason=reason)
    except review.ReviewRefused as exc:
        raise fail(str(exc), 2) from None
    for key in decision.parts:
        typer.echo(f"{key}: {decision.state}")
