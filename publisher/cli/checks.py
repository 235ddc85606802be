"""``publisher override`` and ``publisher freshness``: the content checks' override of one urgent
preview, and how long each account and column has gone without a publication."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from publisher.cli import CONFIG_OPTION, actor, cli, fail, open_app


@cli.command("override")
def override_command(
    preview: str = typer.Argument(..., help="预览编号（紧急发布预览中给出）/ the preview's "
                                  "fingerprint, as the urgent preview shows it"),
    reason: str = typer.Option(..., "--reason", help="放行理由 / why it may go out"),
    config: Path = CONFIG_OPTION,
) -> None:
    """审核人放行紧急发布预览中的内容检查问题 / An approver lets one previewed urgent step through
    despite its content-check findings; the poster (someone else) then confirms it."""
    from publisher.urgent.screen import OverrideRefused, override

    app = open_app(config, json_logs=True)
    try:
        override(app, preview.strip(), actor=actor(), reason=reason)
    except OverrideRefused as exc:
        raise fail("；".join(exc.problems), 2) from None
    typer.echo(f"已放行 / overridden by {actor()}: {preview.strip()}")


@cli.command("freshness")
def freshness_command(
    output: str = typer.Option("table", "--format", help="table | json"),
    config: Path = CONFIG_OPTION,
) -> None:
    """各账号、栏目距上次发布的天数与上限 / Days since each account's and column's last
    publication, against its limit (僵尸号 after 14 days); exit 1 when one is stale."""
    from publisher.scan import freshness

    if output not in ("table", "json"):
        raise fail("--format 只能是 table 或 json / must be table or json", 2)
    app = open_app(config, json_logs=True)
    found = freshness.ages(app)
    zone = app.loaded.zone
    for age in found:
        last = age.last_at.astimezone(zone).isoformat(timespec="minutes") if age.last_at else None
        if output == "json":
            typer.echo(json.dumps({"what": age.what, "name": age.name, "label": age.label,
                                   "last_published_at": last, "age_days": age.age_days,
                                   "limit_days": age.limit_days, "state": age.state},
                                  ensure_ascii=False))
        else:
            zh, en = freshness.STATE_WORDS[age.state]
            shown = "—" if age.age_days is None else f"{age.age_days:.1f}"
            typer.echo(f"{age.what:<8} {age.label:<20} {shown:>7} / {age.limit_days:<4} "
                       f"{zh} / {en}  {last or ''}")
    if any(age.state == "stale" for age in found):
        raise typer.Exit(1)
