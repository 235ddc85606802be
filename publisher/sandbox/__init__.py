"""The sandbox service: every channel's emulator in one process, on fixed ports, state on disk.

``publisher sandbox serve`` runs it in the foreground; ``publisher run --sandbox`` starts it
as a child when it is not running, and every other ``--sandbox`` command talks to the running
one (found through ``service.json`` in the state folder: its pid and each channel's URL).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from channels import registry
from channels.sandbox_file import load_state, save_state
from publisher.config import LoadedConfig
from publisher.config.models import SandboxConfig

SERVICE_FILE = "service.json"
START_SECONDS = 30.0  # how long a starting service may take to answer on every port


class SandboxError(Exception):
    """The sandbox service cannot be started or reached (the message says why, zh / en)."""


@dataclass(frozen=True)
class Service:
    """A running service as ``service.json`` describes it."""

    pid: int
    channels: dict[str, dict[str, str]]  # name -> {"kind", "url"}

    def url(self, name: str) -> str:
        return self.channels[name]["url"]


def settings_of(loaded: LoadedConfig) -> SandboxConfig:
    """The config's ``sandbox:`` section (the defaults when it has none)."""
    return loaded.config.sandbox or SandboxConfig()


def state_dir(loaded: LoadedConfig) -> Path:
    return loaded.resolve(settings_of(loaded).state_dir)


def emulated(loaded: LoadedConfig) -> list[str]:
    """The enabled channels whose kind has an emulator, in the config's order."""
    return [name for name, conf in loaded.config.channels.items()
            if conf.enabled and registry.channel_class(conf.kind).emulated]


def ports(loaded: LoadedConfig) -> dict[str, int]:
    """Each emulated channel's port: its own from ``ports``, else ``base_port`` + its place
    (0 everywhere when ``base_port`` is 0). An entry naming no such channel is an error."""
    conf = settings_of(loaded)
    names = emulated(loaded)
    unknown = sorted(set(conf.ports) - set(names))
    if unknown:
        raise SandboxError(f"{loaded.file}: sandbox.ports 中的渠道不存在或没有模拟器 / sandbox.ports "
                           f"names channels that do not exist or have no emulator: "
                           f"{', '.join(unknown)}")
    return {name: conf.ports.get(name, conf.base_port + index if conf.base_port else 0)
            for index, name in enumerate(names)}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80),
                                      timeout=1):
            return True
    except OSError:
        return False


def running(loaded: LoadedConfig) -> Service | None:
    """The service this config's state folder names, when its process is alive and every
    emulator answers; None otherwise."""
    try:
        raw = load_state(state_dir(loaded) / SERVICE_FILE)
    except ValueError:
        return None
    if raw is None or not _alive(int(raw.get("pid", 0))):
        return None
    service = Service(int(raw["pid"]), dict(raw.get("channels", {})))
    if not all(_answers(c["url"]) for c in service.channels.values()):
        return None
    return service


def serve(loaded: LoadedConfig, settings: Callable[[str], Any]
          ) -> tuple[Service, Callable[[], None]]:
    """Start every emulated channel's emulator in this process (``settings(name)``: the
    channel's settings as a sandbox App resolves them), write ``service.json``; returns the
    service and a function that stops it all and removes the file."""
    if (other := running(loaded)) is not None:
        raise SandboxError(f"沙箱服务已在运行（进程 {other.pid}）/ the sandbox service is already "
                           f"running (pid {other.pid})")
    conf = settings_of(loaded)
    folder = state_dir(loaded)
    folder.mkdir(parents=True, exist_ok=True)
    stops: list[Callable[[], None]] = []
    channels: dict[str, dict[str, str]] = {}
    try:
        for name, port in ports(loaded).items():
            kind = loaded.config.channels[name].kind
            cls = registry.channel_class(kind)
            try:
                pointed, stop = cls.start_sandbox(settings(name), port=port, host=conf.host,
                                                  state_file=folder / f"{name}.json")
            except OSError as exc:
                raise SandboxError(f"渠道 {name} 的模拟器无法监听 {conf.host}:{port}（{exc.strerror}）/ "
                                   f"the emulator of channel {name} cannot listen on "
                                   f"{conf.host}:{port} ({exc.strerror})") from None
            stops.append(stop)
            channels[name] = {"kind": kind, "url": _url_of(pointed)}
    except BaseException:
        for stop in reversed(stops):
            stop()
        raise
    service = Service(os.getpid(), channels)
    save_state(folder / SERVICE_FILE, {"pid": service.pid, "config": str(loaded.file),
                                       "channels": channels})

    def stop_all() -> None:
        for stop in reversed(stops):
            stop()
        path = folder / SERVICE_FILE
        try:
            if int(json.loads(path.read_text(encoding="utf-8"))["pid"]) == os.getpid():
                path.unlink()
        except (OSError, ValueError, KeyError):
            pass
    return service, stop_all


def _url_of(settings: Any) -> str:
    for field_name in ("base_url", "url"):
        value = getattr(settings, field_name, None)
        if isinstance(value, str):
            return value
    raise SandboxError(f"no emulator URL in {type(settings).__name__}")


def start(loaded: LoadedConfig, *, detach: bool) -> tuple[Service, subprocess.Popen[bytes]]:
    """Start the service in a new process (``python -m publisher.sandbox``) and wait until it
    answers; ``detach``: in its own session, outliving this process. Its output goes to
    ``service.log`` in the state folder."""
    folder = state_dir(loaded)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "service.log").open("ab") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "publisher.sandbox", "--config", str(loaded.file)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=detach)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        service = running(loaded)
        if service is not None:
            return service, child
        if child.poll() is not None:
            other = running(loaded)  # another process started one at the same moment
            if other is not None:
                return other, child
            raise SandboxError(f"沙箱服务未能启动，见 {folder / 'service.log'} / the sandbox "
                               f"service did not start; see {folder / 'service.log'}")
        time.sleep(0.1)
    child.terminate()
    raise SandboxError(f"沙箱服务 {START_SECONDS:.0f} 秒内未就绪 / the sandbox service was not "
                       f"ready within {START_SECONDS:.0f} s; see {folder / 'service.log'}")


def reset(loaded: LoadedConfig) -> list[Path]:
    """Remove every emulator's state file (refused while the service runs); returns them."""
    if (service := running(loaded)) is not None:
        raise SandboxError(f"沙箱服务正在运行（进程 {service.pid}），请先停止 / the sandbox "
                           f"service is running (pid {service.pid}); stop it first")
    folder = state_dir(loaded)
    removed = []
    for name in loaded.config.channels:
        path = folder / f"{name}.json"
        if path.exists():
            path.unlink()
            removed.append(path)
    return removed


def counts(kind: str, url: str, timeout: float = 5.0) -> dict[str, int]:
    """What an emulator holds, from its own ``/_sandbox`` pages (``{}`` for an unknown kind)."""
    import requests

    base = url.rstrip("/")
    if kind == "weibo":
        raw = requests.get(f"{base}/_sandbox/posts", timeout=timeout).json()
        return {"posts": len(raw["posts"]),
                "live": sum(not p.get("deleted") for p in raw["posts"]),
                "comments": len(raw["comments"])}
    if kind == "wechat":
        raw = requests.get(f"{base}/_sandbox/stats", timeout=timeout).json()
        return {"articles": raw["published"], "live": raw["live"],
                "mass_sends": raw["mass_sends"]}
    if kind == "webhook":
        raw = requests.get(f"{base}/_stats", timeout=timeout).json()
        return {"deliveries": raw["accepted"], "requests": raw["posts"]}
    if kind == "wordpress":
        raw = requests.get(f"{base}/_sandbox/state", timeout=timeout).json()
        return {"posts": raw["posts"], "creates": raw["creates"]}
    return {}
