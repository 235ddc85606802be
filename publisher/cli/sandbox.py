"""``publisher sandbox serve|status|reset|stop``: the one sandbox every ``--sandbox`` command uses."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from types import FrameType

import typer

from publisher.cli import CONFIG_OPTION, cli, fail, load_config

sandbox_cli = typer.Typer(help="沙箱（各平台模拟器）/ The sandbox: every platform's emulator.",
                          no_args_is_help=True)
cli.add_typer(sandbox_cli, name="sandbox")


@sandbox_cli.command("serve")
def serve(config: Path = CONFIG_OPTION) -> None:
    """在前台运行所有模拟器（端口见 sandbox:，状态存于 var/sandbox/）/ Run every channel's emulator
    in one process in the foreground (ports from sandbox:, state kept under var/sandbox/)."""
    from channels import registry
    from publisher import sandbox as service
    from publisher.app import channel_values

    loaded = load_config(config)

    def settings(name: str) -> object:
        cls = registry.channel_class(loaded.config.channels[name].kind)
        return cls.settings_model.model_validate(
            channel_values(loaded, name, None, lenient=True, placeholders=True))

    done = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)  # before service.json names this process
    signal.signal(signal.SIGINT, on_signal)
    try:
        running, stop = service.serve(loaded, settings)
    except service.SandboxError as exc:
        raise fail(str(exc), 3) from None
    typer.echo(f"沙箱服务 / sandbox service (pid {running.pid}), "
               f"状态 / state in {service.state_dir(loaded)}")
    for name, entry in running.channels.items():
        typer.echo(f"  {name} ({entry['kind']}): {entry['url']}", )
    try:
        while not done.wait(0.5):  # a bounded wait: the signal handler runs between waits
            pass
    finally:
        stop()
        typer.echo("沙箱服务已停止 / sandbox service stopped")


@sandbox_cli.command("status")
def status(config: Path = CONFIG_OPTION) -> None:
    """列出各模拟器的地址与已发布数量 / List each emulator's URL and what it holds."""
    from publisher import sandbox as service

    loaded = load_config(config)
    running = service.running(loaded)
    if running is None:
        typer.echo(f"沙箱服务未运行（状态保存在 {service.state_dir(loaded)}）/ the sandbox service is "
                   f"not running (its state is kept in {service.state_dir(loaded)})")
        raise typer.Exit(1)
    typer.echo(f"沙箱服务运行中 / sandbox service running (pid {running.pid})")
    for name, entry in running.channels.items():
        try:
            held = service.counts(entry["kind"], entry["url"])
        except (OSError, ValueError, KeyError) as exc:
            typer.echo(f"  {name} ({entry['kind']}): {entry['url']}  ?? {type(exc).__name__}")
            continue
        shown = ", ".join(f"{key} {value}" for key, value in held.items())
        typer.echo(f"  {name} ({entry['kind']}): {entry['url']}  {shown}")


@sandbox_cli.command("reset")
def reset(config: Path = CONFIG_OPTION) -> None:
    """清空所有模拟器的状态（服务须先停止）/ Clear every emulator's state (stop the service first)."""
    from publisher import sandbox as service

    loaded = load_config(config)
    try:
        removed = service.reset(loaded)
    except service.SandboxError as exc:
        raise fail(str(exc), 3) from None
    typer.echo(f"已清空 {len(removed)} 个模拟器的状态 / cleared the state of {len(removed)} "
               "emulator(s)")


@sandbox_cli.command("stop")
def stop(config: Path = CONFIG_OPTION) -> None:
    """停止运行中的沙箱服务（状态保留）/ Stop the running sandbox service (its state is kept)."""
    from publisher import sandbox as service

    loaded = load_config(config)
    running = service.running(loaded)
    if running is None:
        typer.echo("沙箱服务未运行 / the sandbox service is not running")
        return
    os.kill(running.pid, signal.SIGTERM)
    typer.echo(f"已停止沙箱服务（进程 {running.pid}）/ stopped the sandbox service (pid {running.pid})")
