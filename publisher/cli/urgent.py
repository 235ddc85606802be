"""``publisher urgent`` (an incident's report, update, correction, withdrawal); ``incident show``."""

from __future__ import annotations

import json
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from publisher.cli import CONFIG_OPTION, actor, cli, fail, open_app

if TYPE_CHECKING:
    from channels.base import Payload
    from publisher.app import App
    from publisher.scan import Finding
    from publisher.urgent import (
        Draft,
        Step,
        UrgentCancel,
        UrgentOutcome,
        UrgentPost,
        UrgentUpdate,
    )

ADDRESS_KEYS = ("path", "link", "content_source_url")  # the page (portal) or the page linked to
MAX_ROUNDS = 3  # previews shown again before giving up, when what would be sent keeps changing
incident_cli = typer.Typer(help="突发事件 / Incidents: threads of urgent posts.",
                           no_args_is_help=True)
cli.add_typer(incident_cli, name="incident")


def _text_length(payload_data: dict[str, object]) -> str:
    for key in ("text", "status", "body", "body_html", "content"):
        value = payload_data.get(key)
        if isinstance(value, str):
            return f"{key}: {len(value)} 字 / chars"
    return ""


@cli.command()
def urgent(
    title: str | None = typer.Option(None, "--title", help="标题 / headline"),
    facts: str | None = typer.Option(None, "--facts", help="已核实的事实 / the verified facts"),
    area: str | None = typer.Option(None, "--area", help="地点或范围 / where"),
    severity: str | None = typer.Option(None, "--severity",
                                        help="事件等级 / the grade: 特别重大 | 重大 | 较大 | 一般 "
                                             "| 未定级 (首报未给出时询问 / asked for a first "
                                             "report when not given)"),
    instruction: str | None = typer.Option(None, "--instruction", help="公众提示 / what people "
                                           "should do"),
    channel: list[str] = typer.Option([], "--channel", help="渠道（默认全部）/ channel (default: "
                                      "every urgent channel)"),
    picture: Path | None = typer.Option(None, "--picture", help="配图（JPEG/PNG/GIF，5 MB 以内）/ "
                                        "a picture for the first report (JPEG/PNG/GIF, 5 MB)"),
    status: str = typer.Option("Actual", "--status", help="Actual，或演练 Exercise / Test"),
    event_time: str | None = typer.Option(None, "--event-time", metavar="TIME",
                                          help="事件发生时间（本地时间 2026-03-14 09:40，或带时区的 "
                                               "ISO 时间）/ when the event happened (local time, "
                                               "or ISO 8601 with an offset)"),
    update: str | None = typer.Option(None, "--update", metavar="INCIDENT",
                                      help="续报或更正此事件 / post an update to this incident"),
    correction: str | None = typer.Option(None, "--correction",
                                          help="与 --update 同用：更正了什么 / with --update: "
                                               "what was wrong and what changed"),
    cancel: str | None = typer.Option(None, "--cancel", metavar="INCIDENT",
                                      help="撤回此事件 / withdraw this incident"),
    reason: str | None = typer.Option(None, "--reason", help="与 --cancel 同用：撤回原因 / "
                                      "with --cancel: why"),
    yes: bool = typer.Option(False, "--yes", "-y", help="不再确认 / do not ask for confirmation"),
    send: bool = typer.Option(True, "--send/--no-send", help="立即投递 / deliver now"),
    sandbox: bool = typer.Option(False, "--sandbox", help="使用模拟器 / use the emulators"),
    config: Path = CONFIG_OPTION,
) -> None:
    """发布紧急信息：快报事实、慎报原因 / Publish an urgent post on every channel within minutes;
    then --update (续报, with --correction 更正) and --cancel (撤回) the incident."""
    from pydantic import ValidationError

    from publisher.cli.run import FOREGROUND_WAIT
    from publisher.dispatch import Dispatcher

    if update and cancel:
        raise fail("--update 与 --cancel 只能选一个 / give --update or --cancel, not both", 2)
    if correction and not update:
        raise fail("--correction 需与 --update 同用 / --correction goes with --update", 2)
    if picture and (update or cancel):
        raise fail("--picture 只用于首报 / --picture goes with a first report", 2)
    if reason and not cancel:
        raise fail("--reason 需与 --cancel 同用 / --reason goes with --cancel", 2)
    if event_time and (update or cancel):
        raise fail("--event-time 只用于首报 / --event-time goes with a first report", 2)
    app = open_app(config, sandbox=sandbox)
    target = cancel or update
    try:
        step = _step(cancel=bool(cancel), update=bool(update), title=title, facts=facts,
                     area=area, severity=severity, instruction=instruction, channel=channel,
                     picture=picture, status=status, correction=correction, reason=reason,
                     event_at=local_time(event_time, app.loaded.zone) if event_time else None)
    except ValidationError as exc:
        raise fail("\n".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                             for e in exc.errors(include_url=False)), 2) from None
    except ValueError as exc:  # the picture file, the event time
        raise fail(str(exc), 2) from None
    outcome = _preview_and_record(app, step, target, yes=yes)
    typer.echo(f"事件 / incident: {outcome.incident_key}  ({outcome.msg_type})")
    if send:
        dispatcher = Dispatcher(app)
        try:
            dispatcher.drain(outcome.release_id, until=app.clock.now() + FOREGROUND_WAIT)
        finally:
            dispatcher.shutdown()
        steps = _print_timeline(app, outcome.incident_key)
        mine = [s for s in steps if s.release_key == outcome.release_key]
        if any(s.state not in ("published", "retracted") for s in mine):
            typer.echo("未完成的投递由 publisher run 继续重试 / deliveries still waiting are "
                       "retried by `publisher run`", err=True)
            raise typer.Exit(1)


def _step(*, cancel: bool, update: bool, title: str | None, facts: str | None,
          area: str | None, severity: str | None, instruction: str | None, channel: list[str],
          picture: Path | None, status: str, correction: str | None, reason: str | None,
          event_at: datetime | None = None) -> UrgentPost | UrgentUpdate | UrgentCancel:
    """The step the options describe, asking for what is missing."""
    from publisher.urgent import UrgentCancel, UrgentPicture, UrgentPost, UrgentUpdate

    if cancel:
        return UrgentCancel(reason=reason or typer.prompt("撤回原因 / reason"))
    if update:
        return UrgentUpdate(facts=facts or typer.prompt("最新情况 / facts"), title=title,
                            instruction=instruction, severity=severity, correction=correction,
                            channels=channel or None)
    return UrgentPost(title=title or typer.prompt("标题 / title"),
                      facts=facts or typer.prompt("事实 / facts"),
                      area=area or typer.prompt("地点 / area"),
                      severity=severity or _ask_grade(), instruction=instruction,
                      channels=channel or None, status=status,
                      picture=UrgentPicture.from_file(picture) if picture else None,
                      event_at=event_at)


def local_time(text: str, zone: tzinfo) -> datetime:
    """``2026-03-14 09:40`` in ``zone``, or an ISO 8601 time with its own offset; ValueError
    naming the option when it is neither."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--event-time: {text!r} 不是时间 / is not a time (2026-03-14 09:40)"
                         ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _preview(app: App, step: UrgentPost | UrgentUpdate | UrgentCancel, target: str | None
             ) -> tuple[list[tuple[str, Payload]], Draft, list[Finding]]:
    """Each channel's message of the step as it would be recorded now, its draft, and the
    content checks' findings."""
    from publisher.urgent import UrgentPost, draft_of, prepare, preview_step, screen

    now = app.clock.now()
    if isinstance(step, UrgentPost):
        context, payloads, skipped = prepare(app, step, now)
        for name in skipped:
            typer.echo(f"\n(渠道 {name} 未启用 / channel {name} is disabled)")
        return (list(payloads.items()), draft_of(context, payloads, now),
                screen.findings_of(app, [(n, "send", p) for n, p in payloads.items()]))
    assert target is not None
    planned = preview_step(app, target, step, at=now)
    return ([(f"{p.channel} [{p.action}]", payload) for p, payload in planned.prepared],
            planned.draft, planned.findings)


def _show_findings(findings: list[Finding], draft: Draft) -> None:
    """The content checks' findings, and the preview an approver must override if they stop it."""
    from publisher.urgent import screen

    if not findings:
        return
    typer.echo(f"\n===== 内容检查 / content checks: {len(findings)} =====")
    for finding in findings:
        typer.echo(f"- {finding.describe()}")
    if screen.stopping(findings):
        typer.echo(f"须由另一位审核人放行本预览后再确认（保持此提示不关闭）/ a second person with the "
                   f"approver role must first run (keep this prompt open):\n"
                   f"  publisher override {draft.fingerprint} --reason …")


def _preview_and_record(app: App, step: UrgentPost | UrgentUpdate | UrgentCancel,
                        target: str | None, *, yes: bool) -> UrgentOutcome:
    """Show the previews, ask, and record the step exactly as shown; when it no longer is
    what was shown (its preview grew old at the prompt, its address was taken), say so and
    show the new previews."""
    from publisher.urgent import (
        IncidentNotFound,
        PreviewOutdated,
        UrgentCancel,
        UrgentRejected,
        UrgentUpdate,
        cancel_incident,
        open_incident,
        update_incident,
    )

    for _round in range(MAX_ROUNDS):
        try:
            previews, draft, findings = _preview(app, step, target)
        except IncidentNotFound as exc:
            raise fail(str(exc), 2) from None
        except UrgentRejected as exc:
            raise fail(str(exc), 1) from None
        for label, payload in previews:
            _show_preview(label, payload)
        _show_findings(findings, draft)
        if not yes and not typer.confirm("\n确认发布？/ Publish now?", default=False):
            raise fail("已取消，未发布 / cancelled, nothing published", 1)
        try:
            if isinstance(step, UrgentCancel):
                return cancel_incident(app, str(target), step, actor=actor(), preview=draft)
            if isinstance(step, UrgentUpdate):
                return update_incident(app, str(target), step, actor=actor(), preview=draft)
            return open_incident(app, step, actor=actor(), preview=draft)
        except PreviewOutdated as exc:
            typer.echo(f"\n{exc}", err=True)
        except UrgentRejected as exc:
            raise fail(str(exc), 1) from None
    raise fail("内容一再变化，未发布 / what would be published kept changing; nothing "
               "published", 1)


def _ask_grade() -> str:
    """The first report's grade, asked for until it is one: there is no default grade."""
    from publisher.severity import LEVELS

    while True:
        answer = str(typer.prompt(f"事件等级 / grade ({'|'.join(LEVELS)})")).strip()
        if answer in LEVELS:
            return answer
        typer.echo(f"请给出其中之一 / give one of: {'、'.join(LEVELS)}", err=True)


def _show_preview(label: str, payload: Payload) -> None:
    data = dict(payload.data)
    typer.echo(f"\n===== {label} ({payload.kind}) {_text_length(data)} =====")
    typer.echo(str(data.get("title", "")))
    body = next((data[k] for k in ("text", "status", "body", "body_html", "content")
                 if isinstance(data.get(k), str)), "")
    typer.echo(str(body)[:800])
    address = next((data[k] for k in ADDRESS_KEYS if isinstance(data.get(k), str)), None)
    if address:
        typer.echo(f"地址 / address: {address}")


STEP_NAMES = {"report": "首报/Alert", "update": "续报/Update", "correction": "更正/Update",
              "withdrawal": "撤回/Cancel"}


def _print_timeline(app: App, incident_key: str, output: str = "table") -> list[Step]:
    from publisher.urgent import timeline
    from publisher.zone import iso, localised

    incident, steps = timeline(app, incident_key)
    if output == "json":
        typer.echo(json.dumps({
            "incident": {"key": incident.key, "title": incident.title, "area": incident.area,
                         "severity": incident.severity, "status": incident.status,
                         "drill": incident.drill,
                         "opened_at": iso(incident.opened_at, app.loaded.zone),
                         "opened_by": incident.opened_by},
            "steps": [localised(step.__dict__, app.loaded.zone) for step in steps]},
            ensure_ascii=False))
        return steps
    drill = "【演练】" if incident.drill else ""
    typer.echo(f"{drill}{incident.title}（{incident.area}，{incident.severity}）"
               f" — {incident.status}, opened by {incident.opened_by}")
    typer.echo("发布/release  步骤/step  渠道/channel  操作/action  状态/state  受理/accepted  "
               "公开/public  操作人/actor  链接/url")
    for step in steps:
        accepted = f"{step.to_accepted_seconds:.2f}s" if step.to_accepted_seconds is not None \
            else "-"
        public = f"{step.to_public_seconds:.2f}s" if step.to_public_seconds is not None else "-"
        typer.echo(f"{step.release_key}  {STEP_NAMES.get(step.step, step.step)}  {step.channel}  "
                   f"{step.action}  {step.state}  {accepted}  {public}  {step.actor}  "
                   f"{step.url or step.detail}")
    return steps


@incident_cli.command("show")
def incident_show(
    key: str = typer.Argument(..., help="事件编号 / incident key"),
    output: str = typer.Option("table", "--format", help="table | json"),
    config: Path = CONFIG_OPTION,
) -> None:
    """事件时间线与各渠道用时 / The incident's timeline with each channel's time to its URL."""
    app = open_app(config, json_logs=True)
    try:
        _print_timeline(app, key, output)
    except KeyError:
        raise fail(f"没有事件 {key} / no incident {key}", 2) from None
