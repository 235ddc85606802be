"""``publisher log`` (the delivery log) and ``publisher audit verify|export``."""

from __future__ import annotations

import csv
import json
import sys
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from publisher.cli import CONFIG_OPTION, audit_cli, cli, fail, open_app
from publisher.states import STATES

if TYPE_CHECKING:
    from publisher import logview

# releases that never got deliveries, or whose deliveries wait on (or failed for) a review
RELEASE_STATES = ("held", "missed", "awaiting_approval", "rejected")  # shown as rows too
LOG_STATES = (*STATES, *RELEASE_STATES)
COLUMNS = ("delivery", "release", "channel", "state", "attempts", "updated_at", "url", "detail")


def _since(text: str | None, zone: tzinfo) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise fail(f"--since 需要 ISO 时间 / --since needs an ISO date or time: {text!r}",
                   2) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)  # config timezone


@cli.command("log")
def log_command(
    release: str | None = typer.Option(None, "--release", help="发布定义或发布键 / definition id "
                                       "or release key"),
    channel: str | None = typer.Option(None, "--channel", help="渠道 / channel"),
    status: str | None = typer.Option(None, "--status", help=f"状态 / state: {', '.join(LOG_STATES)}"),
    since: str | None = typer.Option(None, "--since", help="起始时间 / updated since (ISO 8601)"),
    output: str = typer.Option("table", "--format", help="table | json | csv"),
    limit: int = typer.Option(200, "--limit", min=1, help="最多行数 / at most this many rows"),
    delivery: int | None = typer.Option(None, "--delivery", help="某次投递的每次尝试与审计记录 / "
                                        "every attempt and audit event of one delivery"),
    config: Path = CONFIG_OPTION,
) -> None:
    """查看投递记录 / Show the delivery log: who published what, where, when, with which result."""
    if status is not None and status not in LOG_STATES:
        raise fail(f"未知状态 / unknown state {status!r}; known: {', '.join(LOG_STATES)}", 2)
    if output not in ("table", "json", "csv"):
        raise fail("--format 只能是 table、json 或 csv / must be table, json or csv", 2)
    from publisher import logview

    app = open_app(config, json_logs=True, read_only=True)
    if delivery is not None:
        _history(app, delivery, output)
        return
    since_at = _since(since, app.loaded.zone)
    where = logview.LogFilter(release=release or None, channels=(channel,) if channel else (),
                              states=(status,) if status else (), since=since_at)
    with app.store.read() as session:
        rows = [_row(r, app.loaded.zone)
                for r in logview.page(session, where, size=limit).rows]
        if channel is None and status in (None, *RELEASE_STATES):
            rows += _outstanding(session, release, status, since_at, limit, app.loaded.zone)
    rows.sort(key=lambda row: row["updated_at"], reverse=True)
    rows = rows[:limit]
    if output == "json":
        for row in rows:
            typer.echo(json.dumps(row, ensure_ascii=False))
    elif output == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    else:
        _table(rows)


def _row(row: logview.LogRow, zone: Any) -> dict[str, Any]:
    return {
        "delivery": row.delivery_id,
        "release": row.release_key,
        "channel": row.channel,
        "state": row.state,
        "attempts": row.attempts,
        "updated_at": row.updated_at.astimezone(zone).isoformat(timespec="seconds"),
        "url": row.url,
        "detail": row.detail(zone),
    }


def _outcome(name: str) -> str:
    from publisher import history

    zh, en = history.OUTCOME_WORDS.get(name, (name, name))
    return f"{zh} / {en}"


def _history(app: Any, delivery_id: int, output: str) -> None:
    """One delivery: its state, each try (and each claim that ended without one) with the
    decision after it, and its audit events with what they say — the console's delivery page,
    from the same rows (publisher/history.py)."""
    from publisher import history
    from publisher.zone import iso, localised

    with app.store.read() as session:
        story = history.load(session, delivery_id)
    if story is None:
        raise fail(f"没有投递 {delivery_id} / no delivery {delivery_id}", 2)
    zone = app.loaded.zone

    def at(moment: datetime) -> str:
        return iso(moment, zone)

    tries = [{
        "attempt": t.number, "started_at": at(t.started_at), "duration_ms": t.duration_ms,
        "outcome": t.outcome, "code": t.code, "message": t.message,
        "explanation_zh": t.explanation_zh, "explanation_en": t.explanation_en, "url": t.url,
        "decision": t.decision.name if t.decision else None,
        "decision_zh": t.decision.words(zone, "zh") if t.decision else None,
        "decision_en": t.decision.words(zone, "en") if t.decision else None,
    } for t in story.tries]
    trail = [{"seq": e.seq, "at": at(e.at), "actor": e.actor, "action": e.action,
              "note": e.note(zone), "details": localised(e.details, zone)} for e in story.events]
    summary = _row(story.shown, zone)
    if output == "json":
        typer.echo(json.dumps({"delivery": summary, "idempotency_key": story.row.idempotency_key,
                               "attempts": tries, "audit": trail},
                              ensure_ascii=False, default=str))
        return
    typer.echo(f"投递 / delivery {delivery_id}: {summary['release']} → {summary['channel']}: "
               f"{summary['state']}")
    if summary["url"] or summary["detail"]:
        typer.echo(f"  {summary['url'] or summary['detail']}")
    typer.echo(f"幂等键 / idempotency key: {story.row.idempotency_key}")
    typer.echo("尝试 / attempts:")
    if not story.tries:
        typer.echo("  （尚无尝试 / no attempt yet）")
    for one in story.tries:
        number = f"#{one.number}" if one.number is not None else "–"
        took = f" {one.duration_ms} ms" if one.duration_ms is not None else ""
        shown = at(one.started_at)[:19].replace("T", " ")
        line = f"  {number:>3} {shown}{took} {_outcome(one.outcome)}"
        why = one.why()
        typer.echo(f"{line}: {why}" if why else line)
        if one.decision is not None:
            typer.echo(f"      → {one.decision.words(zone, 'zh')} / "
                       f"{one.decision.words(zone, 'en')}")
    typer.echo("审计 / audit:")
    for event in story.events:
        note = event.note(zone)
        typer.echo(f"  {event.seq:>6} {at(event.at)[:19].replace('T', ' ')} {event.actor} "
                   f"{event.action}{'  ' + note if note else ''}")


def _outstanding(session: Any, release: str | None, status: str | None,
                 since_at: datetime | None, limit: int, zone: Any) -> list[dict[str, Any]]:
    """Held, missed, awaiting and rejected releases: nothing was sent, and a person should
    know."""
    from sqlalchemy import select

    from publisher.store.models import Release

    query = (select(Release).where(Release.state.in_([status] if status else RELEASE_STATES))
             .order_by(Release.created_at.desc()).limit(limit))
    if release:
        query = query.where((Release.definition_id == release) | (Release.key == release))
    if since_at:
        query = query.where(Release.created_at >= since_at)
    rows = []
    for rel in session.execute(query).scalars():
        problems = (rel.hold_reason or {}).get("problems") or []
        if rel.state == "awaiting_approval":
            problems = [f"待审核，须在 {rel.due_at.astimezone(zone):%m-%d %H:%M} 前由他人批准 / "
                        f"awaiting approval before {rel.due_at.astimezone(zone):%m-%d %H:%M}"]
        rows.append({
            "delivery": "", "release": rel.key, "channel": "", "state": rel.state, "attempts": 0,
            "updated_at": rel.created_at.astimezone(zone).isoformat(timespec="seconds"),
            "url": "", "detail": "; ".join(problems)[:300],
        })
    return rows


def _table(rows: list[dict[str, Any]]) -> None:
    if not rows:
        typer.echo("（无记录 / no deliveries）")
        return
    headers = ("编号/id", "发布/release", "渠道/channel", "状态/state", "尝试/tries",
               "更新/updated", "链接或说明/url or detail")
    lines = [headers] + [
        (str(r["delivery"]), r["release"], r["channel"], r["state"], str(r["attempts"]),
         r["updated_at"][5:16].replace("T", " "), r["url"] or r["detail"]) for r in rows]
    widths = [max(_width(line[i]) for line in lines) for i in range(len(headers) - 1)]
    for line in lines:
        cells = [line[i] + " " * (widths[i] - _width(line[i])) for i in range(len(widths))]
        typer.echo("  ".join([*cells, line[-1]]))


def _width(text: str) -> int:
    """Display width: CJK characters take two columns."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


@audit_cli.command("verify")
def audit_verify(
    config: Path = CONFIG_OPTION,
    since_checkpoint: bool = typer.Option(False, "--since-checkpoint", help="只核验上次核验之后"
                                          "新增的记录 / verify only the events added since the "
                                          "chain was last found intact (default: every event)"),
) -> None:
    """核验审计链，报告第一条被改动的记录 / Verify the chain; name the first bad row."""
    from publisher import audit

    app = open_app(config, json_logs=True, read_only=True)
    with app.store.read() as session:
        mark = audit.checkpoint(session) if since_checkpoint else None
        verdict = audit.verify(session, since=mark)
    with app.store.write() as session:  # the console's audit page then checks only what is new
        audit.record(session, verdict, at=app.clock.now())
    typer.echo(verdict.describe() + (f" ({verdict.checked} checked after event {verdict.since})"
                                     if not verdict.full else ""), err=not verdict.ok)
    if not verdict.ok:
        raise typer.Exit(1)


@audit_cli.command("export")
def audit_export(
    output: Path | None = typer.Option(None, "--output", "-o", help="输出文件（默认标准输出）/ "
                                       "output file (default: stdout)"),
    config: Path = CONFIG_OPTION,
) -> None:
    """导出审计链为 JSON Lines / Export the audit chain as JSON lines."""
    from publisher import audit

    app = open_app(config, json_logs=True, read_only=True)
    with app.store.read() as session:
        if output is None:
            count = audit.export(session, sys.stdout)
        else:
            with output.open("w", encoding="utf-8") as out:
                count = audit.export(session, out)
    typer.echo(f"导出 {count} 条 / exported {count} events", err=True)


@cli.command("nodes")
def nodes_command(
    output: str = typer.Option("table", "--format", help="table | json"),
    config: Path = CONFIG_OPTION,
) -> None:
    """列出集群节点 / List the cluster's nodes: role, version, started, last heartbeat."""
    from publisher import cluster
    from publisher.zone import iso

    if output not in ("table", "json"):
        raise fail("--format 只能是 table 或 json / must be table or json", 2)
    app = open_app(config, json_logs=True)
    now = app.clock.now()
    rows = [{"node": n.id, "host": n.host, "pid": n.pid, "version": n.version,
             "role": n.role, "up": cluster.is_up(app, n, now),
             "started_at": iso(n.started_at, app.loaded.zone),
             "last_beat": iso(n.beat_at, app.loaded.zone),
             "beat_age_seconds": round((now - n.beat_at).total_seconds(), 1)}
            for n in cluster.nodes(app)]
    if output == "json":
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        typer.echo("没有节点心跳记录（cluster.enabled 未开启或节点未运行）/ no node has beaten "
                   "(cluster.enabled is off, or no node runs)")
        return
    typer.echo("节点 / node\t角色 / role\t在线 / up\t版本 / version\t最后心跳 / last beat")
    for row in rows:
        typer.echo(f"{row['node']}\t{row['role']}\t{'是 / yes' if row['up'] else '否 / no'}\t"
                   f"{row['version']}\t{row['last_beat']} ({row['beat_age_seconds']} s)")
