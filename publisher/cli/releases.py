"""``publisher releases``: the newest releases and what became of each (the overview's list)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from publisher.cli import CONFIG_OPTION, cli, fail, open_app


@cli.command("releases")
def releases_command(
    release: str | None = typer.Option(None, "--release", help="发布定义或发布键 / definition id "
                                       "or release key"),
    limit: int = typer.Option(20, "--limit", min=1, help="最多几条 / at most this many"),
    output: str = typer.Option("table", "--format", help="table | json"),
    config: Path = CONFIG_OPTION,
) -> None:
    """最近的发布及其结果 / The newest releases and their outcome: completed, partly failed (which
    channels), withdrawn, awaiting approval, held, in progress."""
    if output not in ("table", "json"):
        raise fail("--format 只能是 table 或 json / must be table or json", 2)
    from sqlalchemy import or_, select

    from publisher import outcome
    from publisher.store.models import Delivery, Release
    from publisher.zone import iso

    app = open_app(config, json_logs=True, read_only=True)
    zone = app.loaded.zone
    with app.store.read() as session:
        query = select(Release).order_by(Release.created_at.desc(), Release.id.desc()).limit(limit)
        if release:
            query = query.where(or_(Release.definition_id == release, Release.key == release))
        rows = list(session.execute(query).scalars())
        outcomes = outcome.of_releases(session, rows)
        channels: dict[int, list[tuple[str, str]]] = {r.id: [] for r in rows}
        for release_id, channel, state in session.execute(
                select(Delivery.release_id, Delivery.channel, Delivery.state)
                .where(Delivery.release_id.in_(list(channels)))
                .order_by(Delivery.channel, Delivery.id)):
            channels[release_id].append((channel, state))
    found: list[dict[str, Any]] = [{
        "release_id": r.id, "release": r.key, "title": r.title, "state": r.state,
        "outcome": outcomes[r.id].key, "outcome_zh": outcomes[r.id].words("zh"),
        "outcome_en": outcomes[r.id].words("en"),
        "failing": [{"channel": c, "state": s} for c, s in outcomes[r.id].failing],
        "created_at": iso(r.created_at, zone),
        "deliveries": [{"channel": c, "state": s} for c, s in channels[r.id]],
    } for r in rows]
    if output == "json":
        for item in found:
            typer.echo(json.dumps(item, ensure_ascii=False))
        return
    if not found:
        typer.echo("（无发布 / no releases）")
        return
    for item, row in zip(found, rows, strict=True):
        made = row.created_at.astimezone(zone)
        typer.echo(f"{item['release']}  {made:%Y-%m-%d %H:%M}  {outcomes[row.id].describe()}")
        if item["deliveries"]:
            typer.echo("    " + "  ".join(f"{c}:{s}" for c, s in channels[row.id]))
