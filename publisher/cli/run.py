"""``publisher run`` (the daemon), ``trigger`` and ``retry``."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import typer

from publisher.cli import CONFIG_OPTION, actor, cli, fail, open_app

if TYPE_CHECKING:
    from publisher.app import App
    from publisher.cli import progress
    from publisher.dispatch import Dispatcher
    from publisher.web.server import WebServer


def _log() -> Any:
    """The command's logger (structlog is loaded by the commands that log)."""
    from publisher.logs import get_logger

    return get_logger("publisher.run")


FOREGROUND_WAIT = timedelta(minutes=2)  # trigger/retry wait this long for retries, then hand over
FOREGROUND_LOG_LEVEL = "ERROR"  # trigger/retry show progress lines instead of the log lines
RECOVER_SECONDS = 60.0  # how often a node looks for deliveries left sending by a dead one
DEMO = "food-safety-sampling"  # what `run --demo` publishes from its sample data


def sample_data(app: App, definition_id: str) -> dict[str, Path]:
    """The shipped sample file of every table of a definition."""
    definition = app.loaded.definition(definition_id)
    if definition.source is None:
        return {}
    return {name: app.loaded.resolve(table.sample)
            for name, table in definition.source.tables.items() if table.sample}


def _serve_site(app: App, port: int | None) -> Any:
    """Serve the static portal on 127.0.0.1 for a look (the first portal channel)."""
    from channels.portal.sandbox import serve

    for name, conf in app.loaded.config.channels.items():
        if conf.kind == "portal" and conf.enabled:
            settings: Any = app.channel(name).settings
            site_dir = app.loaded.resolve(settings.site_dir)
            site_dir.mkdir(parents=True, exist_ok=True)
            chosen = port if port is not None else (urlparse(settings.base_url).port or 8180)
            try:
                handle = serve(site_dir, chosen)
            except OSError as exc:
                _log().warning("run.site_not_served", port=chosen, error=str(exc))
                typer.echo(f"端口 {chosen} 不可用，未启动网站预览 / port {chosen} unavailable; "
                           "site preview not served (use --port)", err=True)
                return None
            typer.echo(f"门户网站预览 / portal site at {handle.url}")
            return handle
    return None


def _serve_api(app: App, wake: Callable[[], None], port: int | None,
               dispatcher: Dispatcher | None = None) -> WebServer:
    """Serve the HTTP API and console in a thread; an accepted urgent post (or a console
    trigger, retry or approval) wakes the dispatcher at once; the console's overview shows
    ``dispatcher``'s open circuits."""
    from publisher.web.api import create_app
    from publisher.web.server import serve

    conf = app.loaded.config.web
    handle = serve(create_app(app, wake=wake, dispatcher=dispatcher), conf.host,
                   conf.port if port is None else port, trusted_proxies=conf.trusted_proxies)
    docs = f"{handle.url}docs" if conf.api_docs else f"{handle.url}openapi.json"
    typer.echo(f"HTTP 接口 / HTTP API at {handle.url} (OpenAPI: {docs})")
    return handle


@cli.command()
def run(
    config: Path = CONFIG_OPTION,
    sandbox: bool = typer.Option(False, "--sandbox", help="所有渠道接内置模拟器 / wire every "
                                 "channel to its built-in emulator (no credentials needed)"),
    demo: bool = typer.Option(False, "--demo", help="启动时用样例数据发布食品安全抽检（本期已发布则"
                              "不再发布）/ at start, publish the food-safety release from its "
                              "sample data, unless this period's release is already out"),
    trigger: list[str] = typer.Option([], "--trigger", help="启动时立即发布 / publish this "
                                      "definition at start (repeatable)"),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="在 127.0.0.1 上预览门户网站 / "
                               "serve the portal site on 127.0.0.1"),
    port: int | None = typer.Option(None, "--port", help="预览端口 / port for the site preview"),
    poll_seconds: float = typer.Option(1.0, "--poll-seconds", min=0.05,
                                       help="检查到期投递的间隔 / how often to look for due "
                                            "deliveries"),
    json_logs: bool | None = typer.Option(None, "--json-logs/--pretty-logs",
                                          help="日志格式 / log format (default: JSON unless a "
                                               "terminal)"),
    web: bool | None = typer.Option(None, "--web/--no-web", help="提供 HTTP 接口 / serve the "
                                    "HTTP API (default: the config's web.enabled)"),
    web_port: int | None = typer.Option(None, "--web-port", min=0, max=65535,
                                        help="HTTP 接口端口 / port of the HTTP API (default: the "
                                             "config's web.port; 0 = any free port)"),
) -> None:
    """运行调度器与投递进程 / Run the scheduler and the dispatcher until stopped."""
    from sqlalchemy.exc import SQLAlchemyError

    from channels.base import ConfigurationError
    from publisher import cluster, release, review
    from publisher.dispatch import Dispatcher
    from publisher.errors import SchedulerBusy
    from publisher.scheduler import LEASE_SECONDS, Scheduler

    app = open_app(config, sandbox=sandbox, json_logs=json_logs)
    try:
        cluster.check_supported(app)
    except cluster.ClusterRefused as exc:
        app.close()
        raise fail(str(exc), 2) from None
    settings = app.loaded.config.cluster
    clustered = settings.enabled
    if clustered:
        cluster.bound_idle_transactions(app)
    app.own_sandbox = True  # a sandbox service started here is this daemon's child
    if app.shared_sandbox:
        try:
            shared = app.sandbox_service()
        except ConfigurationError as exc:
            app.close()
            raise fail(str(exc), 3) from None
        typer.echo(f"沙箱服务 / sandbox service (pid {shared.pid}): " + ", ".join(
            f"{name} {entry['url']}" for name, entry in shared.channels.items()))
    wake = threading.Event()
    stop = threading.Event()

    def wake_all() -> None:
        """Wake this node's dispatcher, and in a cluster every node's (NOTIFY)."""
        wake.set()
        if clustered:
            cluster.notify(app)

    dispatcher = Dispatcher(app)
    scheduler = Scheduler(
        app, on_release=lambda _id: wake_all(), standby=clustered,
        lease_seconds=settings.lease_seconds if clustered else LEASE_SECONDS,
        periodic=[("nodes", lambda: cluster.watch(app), settings.heartbeat_seconds * 2)]
        if clustered else None)
    heartbeat = cluster.Heartbeat(app, lambda: scheduler.role) if clustered else None
    listener = cluster.Listener(app, wake.set) if clustered else None
    recover_seconds = min(RECOVER_SECONDS, settings.silent_seconds / 2) if clustered \
        else RECOVER_SECONDS

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        _log().info("run.stopping", signal=signum)
        stop.set()
        wake.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        scheduler.start()
    except SchedulerBusy as exc:
        raise fail(str(exc), 3) from None
    if heartbeat is not None and listener is not None:
        heartbeat.start()
        listener.start()
    api: WebServer | None = None
    if app.loaded.config.web.enabled if web is None else web:
        from publisher.web.server import WebUnavailable

        try:
            api = _serve_api(app, wake_all, web_port, dispatcher)
        except WebUnavailable as exc:
            _log().error("run.web_unavailable", host=exc.host, port=exc.port, reason=exc.reason)
            scheduler.stop()
            if heartbeat is not None and listener is not None:
                listener.stop()
                heartbeat.stop()
            dispatcher.shutdown(wait=True)
            app.close()
            raise fail(str(exc), 4) from None
    app.alerts.start()  # checks each alert URL now, not at the first alert
    recovered = dispatcher.recover()
    _log().info("run.started", sandbox=sandbox, recovered=recovered, database=app.store.safe_url,
                node=scheduler.holder, role=scheduler.role)
    site = _serve_site(app, port) if serve else None
    names = list(trigger) + ([DEMO] if demo else [])
    for index, name in enumerate(names):
        due = review.manual_due(app, name, app.clock.now())
        demo_run = demo and index == len(names) - 1
        if demo_run and (out := release.of_period(app, name, due)) is not None:
            typer.echo(f"{out.key}: {out.state} — 本期（{out.period_label}）已发布，--demo 不再重复"
                       f"发布 / this period's release is already out; --demo does not publish "
                       "it again")
            continue
        outcome = release.create(app, name, due, actor=actor(), origin="manual",
                                 data=sample_data(app, name) if demo else None)
        typer.echo(f"{outcome.key}: {outcome.state}")
        for problem in outcome.problems:
            typer.echo(f"  - {problem}", err=True)
    if names:
        wake_all()
    last_recover = app.clock.now()
    try:
        while not stop.is_set():
            wake.clear()  # before the pass: a wake during it (an API post) is not lost
            try:
                dispatcher.run_once()
                if (app.clock.now() - last_recover).total_seconds() > recover_seconds:
                    dispatcher.recover()  # sending rows of dead or silent nodes
                    dispatcher.recheck()  # a late copy of a post sent again after a lost answer
                    last_recover = app.clock.now()
            except SQLAlchemyError as exc:  # the database away: claim nothing, try again
                _log().warning("run.database_unreachable", error_type=type(exc).__name__)
                stop.wait(min(5.0, max(poll_seconds, 1.0)))
            wake.wait(poll_seconds)
    finally:
        if api is not None:
            api.stop()
        scheduler.stop()
        if heartbeat is not None and listener is not None:
            listener.stop()
            heartbeat.stop()
        dispatcher.shutdown(wait=True)
        if site is not None:
            site.stop()
        app.close()
        _log().info("run.stopped")


@cli.command("trigger")
def trigger_command(
    definition: str = typer.Argument(..., help="发布定义 / release definition id"),
    data: list[str] = typer.Option([], "--data", help="数据文件 / data file (FILE, or "
                                   "TABLE=FILE)"),
    sandbox: bool = typer.Option(False, "--sandbox", help="使用模拟器 / use the emulators"),
    send: bool = typer.Option(True, "--send/--no-send", help="立即投递 / deliver now (else the "
                              "running daemon does)"),
    wait: bool = typer.Option(False, "--wait/--no-wait", help="守护进程在运行时跟随其投递进度 / "
                              "when the daemon is running (it sends), follow its progress"),
    wait_seconds: float = typer.Option(FOREGROUND_WAIT.total_seconds(), "--wait-seconds", min=0,
                                       help="最多等待秒数，之后交由守护进程 / how long to wait for "
                                            "retries before the daemon takes over"),
    config: Path = CONFIG_OPTION,
) -> None:
    """立即发布一次 / Create a release of a definition now (and deliver it, showing each
    channel's progress and a summary)."""
    from publisher import release, review
    from publisher.source import DataError, parse_data_option

    app = open_app(config, sandbox=sandbox, log_level=FOREGROUND_LOG_LEVEL)
    definition_conf = app.loaded.definition(definition)
    overrides: dict[str, Path] | None = None
    if data:
        if definition_conf.source is None:
            raise fail(f"{definition} 不读取数据 / reads no data", 2)
        try:
            overrides = parse_data_option(data, definition_conf.source)
        except (DataError, ValueError) as exc:  # ValueError: several tables, no NAME=
            raise fail(str(exc), 2) from None
    due = review.manual_due(app, definition, app.clock.now())  # later, when it needs review
    outcome = release.create(app, definition, due, actor=actor(), origin="manual",
                             data=overrides)
    typer.echo(f"{outcome.key}: {outcome.state}")
    if outcome.problems:
        for problem in outcome.problems:
            typer.echo(f"  - {problem}", err=True)
        raise typer.Exit(1)
    if outcome.state == review.AWAITING:  # never sent before another person approves it
        local = f"{due.astimezone(app.loaded.zone):%Y-%m-%d %H:%M}"
        typer.echo(f"待审核：须由他人在 {local} 前批准（publisher review approve {outcome.key}），"
                   f"届时发布 / awaiting approval: another person must approve it before {local} "
                   f"(publisher review approve {outcome.key}); it is published then")
        return
    if send:
        _deliver(app, outcome.release_id, outcome.key, wait=wait,
                 until=app.clock.now() + timedelta(seconds=wait_seconds))


def _deliver(app: App, release_id: int, key: str, *, wait: bool, until: datetime) -> None:
    """Send the release here and show each channel's progress, or, when the daemon is running,
    leave the sending to it (following its progress from the rows when ``wait``); then the
    summary. Exit 1 unless every channel published (or queued for the gazette)."""
    from publisher import cluster
    from publisher.cli import progress
    from publisher.scheduler import active_holder

    zone = app.loaded.zone
    out = sys.stdout
    shown = progress.Progress(out, zone, live=out.isatty(), now=app.clock.now)
    daemon = active_holder(app)
    if daemon is not None:
        cluster.notify(app)  # every node's dispatcher looks at once
        typer.echo(f"守护进程正在运行（{daemon}），由它投递 / the daemon (publisher run) is "
                   f"running: it sends this release")
        if not wait:
            typer.echo(f"查看进度 / follow it: publisher log --release {key}")
            return
        views = progress.follow(app, release_id, shown, until=until)
    else:
        views = _send_here(app, release_id, shown, until)
    for line in progress.summary(views, key, zone):
        typer.echo(line)
    waiting = [view.channel for view in views if not view.settled]
    if waiting:
        names = ", ".join(waiting)
        if daemon is not None or active_holder(app) is not None:
            typer.echo(f"守护进程接手未完成的投递：{names} / the daemon takes over what is still "
                       f"under way: {names}", err=True)
        else:
            typer.echo(f"未完成：{names}；守护进程未运行，启动 publisher run 后由它继续重试 / not "
                       f"finished: {names}; the daemon is not running: `publisher run` retries "
                       "them once started", err=True)
    failed = [view for view in views if view.state in ("failed", "unknown")]
    for view in failed:
        typer.echo(f"重试 / retry: publisher retry {view.delivery_id}  ({view.channel})", err=True)
    if waiting or failed:
        raise typer.Exit(1)


def _send_here(app: App, release_id: int, shown: progress.Progress, until: datetime
               ) -> list[progress.ChannelState]:
    """Dispatch the release in this process (waiting out retries until ``until``) while the
    rows are shown as they change."""
    from publisher.cli import progress
    from publisher.dispatch import Dispatcher

    dispatcher = Dispatcher(app)
    done = threading.Event()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            dispatcher.drain(release_id, until=until)
        except BaseException as exc:  # shown by the main thread
            errors.append(exc)
        finally:
            done.set()

    worker = threading.Thread(target=work, name="trigger-send", daemon=True)
    worker.start()
    try:
        views = progress.follow(app, release_id, shown, done=done)
    except KeyboardInterrupt:
        dispatcher.shutdown(wait=False)
        typer.echo("已中断：未完成的投递由守护进程 publisher run 接手 / interrupted: the daemon "
                   "(publisher run) takes over what is still under way", err=True)
        raise typer.Exit(130) from None
    worker.join()
    dispatcher.shutdown()
    if errors:
        raise errors[0]
    return views


@cli.command("retry")
def retry_command(
    delivery_id: int = typer.Argument(..., help="投递编号 / delivery id"),
    send: bool = typer.Option(True, "--send/--no-send", help="立即投递 / deliver now"),
    sandbox: bool = typer.Option(False, "--sandbox", help="使用模拟器 / use the emulators"),
    config: Path = CONFIG_OPTION,
) -> None:
    """重试失败、结果不明或等待重试的投递 / Send a failed, unknown or waiting delivery (again)
    now, under the same key."""
    from sqlalchemy import select

    from publisher import intervention
    from publisher.store.models import Release

    app = open_app(config, sandbox=sandbox, log_level=FOREGROUND_LOG_LEVEL)
    try:  # the same rules and audit event as the console's retry button
        changed = intervention.retry(app, delivery_id, actor=actor())
    except intervention.InterventionRefused as exc:
        raise fail(str(exc), 2) from None
    typer.echo(f"delivery {delivery_id}: {changed.state}")
    if send:
        with app.store.read() as session:
            key = session.execute(select(Release.key).where(
                Release.id == changed.release_id)).scalar_one()
        _deliver(app, changed.release_id, key, wait=False,
                 until=app.clock.now() + FOREGROUND_WAIT)
