"""The running bot's parts wired together: config, store, clock, renderer and channels."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from publisher.clock import Clock, SystemClock
from publisher.config import LoadedConfig
from publisher.store import Store

if TYPE_CHECKING:  # loaded when first used: read-only commands need none of them (cli/__init__)
    import requests

    from channels.base import Channel
    from publisher.alert import Alerts
    from publisher.render import Renderer
    from publisher.sandbox import Service
    from publisher.scan import Scanner

DRILL_DIR = "var/drill"  # where drills of kinds without an emulator write (the portal's site)


def _session() -> requests.Session:
    import requests

    from publisher.version import USER_AGENT

    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    return session


@dataclass
class App:
    """Everything a command or the daemon needs; built once per process."""

    loaded: LoadedConfig
    store: Store
    clock: Clock = field(default_factory=SystemClock)
    sandbox: bool = False  # channels talk to their built-in emulators
    offline: bool = False  # channels are only prepared (check, preview): secrets not needed
    session_factory: Callable[[], requests.Session] = _session
    environ: dict[str, str] | None = None
    _channels: dict[str, Channel[Any]] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _service_lock: threading.Lock = field(default_factory=threading.Lock, init=False,
                                          repr=False)
    _stops: list[Callable[[], None]] = field(default_factory=list, init=False, repr=False)
    _alerts: Alerts | None = field(default=None, init=False, repr=False)
    # ``publisher run --sandbox``: a sandbox service this App starts is its child, stopped
    # with it; any other command leaves the one it starts running for the next command
    own_sandbox: bool = False
    _service: Service | None = field(default=None, init=False, repr=False)

    @cached_property
    def renderer(self) -> Renderer:
        """One renderer per App, so compiled templates are reused across releases."""
        from publisher.render import Renderer

        return Renderer(self.loaded.resolve(self.loaded.config.templates_dir))

    @cached_property
    def scanner(self) -> Scanner:
        """The content checks' lists compiled once per App; ListError when a list is unusable."""
        from publisher.scan import scanner_of

        return scanner_of(self.loaded)

    @property
    def data_dir(self) -> Path:
        return self.loaded.resolve(self.loaded.config.data_dir)

    def enabled(self, channel_name: str) -> bool:
        channel = self.loaded.config.channels.get(channel_name)
        return channel is not None and channel.enabled

    def channel(self, name: str, *, drill: bool = False) -> Channel[Any]:
        """The adapter for channel ``name`` (built once, secrets resolved from the environment).

        ``drill``: the same account wired to its built-in emulator (a CAP Exercise or Test),
        with its own token cache and, for kinds without a remote, its own folder under
        ``var/drill``; in a ``--sandbox`` App every channel already is.
        """
        drill = drill and not self.sandbox
        cache_name = f"{name}#drill" if drill else name
        with self._lock:
            if cache_name not in self._channels:
                self._channels[cache_name] = self._build(name, drill=drill)
            return self._channels[cache_name]

    @property
    def alerts(self) -> Alerts:
        """The sender of alerts to staff (Apprise), made once; its thread starts with the first alert."""
        from publisher.alert import Alerts

        with self._lock:
            if self._alerts is None:
                self._alerts = Alerts(self)
            return self._alerts

    @property
    def shared_sandbox(self) -> bool:
        """Whether ``--sandbox`` channels use the sandbox service (the config has ``sandbox:``
        and ``PUBLISHER_SANDBOX`` is not ``private``) rather than emulators of their own."""
        environ = os.environ if self.environ is None else self.environ
        return (self.sandbox and self.loaded.config.sandbox is not None
                and environ.get("PUBLISHER_SANDBOX", "service") != "private")

    def sandbox_service(self) -> Service:
        """The running sandbox service (started now when none runs; see publisher/sandbox)."""
        from channels import registry
        from channels.base import ConfigurationError
        from publisher import sandbox as service_module
        from publisher.logs import get_logger

        with self._service_lock:
            if self._service is None:
                found = service_module.running(self.loaded)
                if found is None:
                    try:
                        found, child = service_module.start(self.loaded,
                                                            detach=not self.own_sandbox)
                    except service_module.SandboxError as exc:
                        raise ConfigurationError(str(exc), code="sandbox_unavailable") from None
                    get_logger(__name__).info("sandbox.started", pid=found.pid, owned=self.own_sandbox,
                             urls={n: c["url"] for n, c in found.channels.items()})
                    if self.own_sandbox and child.pid == found.pid:
                        self._stops.append(lambda: _stop_child(child))
                missing = [n for n, c in self.loaded.config.channels.items()
                           if c.enabled and registry.channel_class(c.kind).emulated
                           and n not in found.channels]
                if missing:
                    raise ConfigurationError(
                        f"运行中的沙箱服务没有渠道 {', '.join(missing)} 的模拟器，请重启沙箱服务 / the "
                        f"running sandbox service has no emulator for {', '.join(missing)}: "
                        "restart it (publisher sandbox serve)", code="sandbox_stale")
                self._service = found
            return self._service

    def close(self) -> None:
        """Send queued alerts (bounded wait), stop the emulators this App started, release the database."""
        if self._alerts is not None:
            self._alerts.close()
        while self._stops:
            self._stops.pop()()
        self.store.dispose()

    def _build(self, name: str, *, drill: bool = False) -> Channel[Any]:
        from channels import registry
        from channels.base import ChannelContext
        from publisher.logs import register_secret
        from publisher.sendlog import DatabaseSendLog
        from publisher.tokens import DatabaseTokenCache

        conf = self.loaded.config.channels[name]
        cls = registry.channel_class(conf.kind)
        secrets = set(cls.settings_model.secret_fields())
        shared = self.shared_sandbox
        values = channel_values(self.loaded, name, self.environ,
                                lenient=self.sandbox or self.offline or drill,
                                placeholders=shared)
        settings = cls.settings_model.model_validate(values)
        if shared and cls.emulated:
            settings = cls.sandbox_settings(settings, self.sandbox_service().url(name))
        elif self.sandbox or drill:
            settings, stop = cls.start_sandbox(settings)
            self._stops.append(stop)
        if drill:
            settings = cls.drill_settings(settings, self.loaded.resolve(DRILL_DIR) / name)
        secret_values = [str(values[k]) for k in sorted(secrets) if values.get(k)]
        context = ChannelContext(
            clock=self.clock.now,
            sleep=self.clock.sleep,
            session=self.session_factory(),
            work_dir=self.loaded.root,
            sandbox=self.sandbox,
            register_secret=register_secret,
            zone=self.loaded.zone,
            send_log=DatabaseSendLog(self.store),
            token_cache=DatabaseTokenCache(self.store, self.clock,
                                           f"{name}#drill" if drill else name,
                                           "\x1f".join(secret_values).encode())
            if secret_values and not self.offline else None,
        )
        return cls(name, settings, context)


def channel_values(loaded: LoadedConfig, name: str, environ: dict[str, str] | None, *,
                   lenient: bool, placeholders: bool = False) -> dict[str, object]:
    """Channel ``name``'s settings with its ``${ENV}`` secrets read (and registered for
    masking). ``lenient`` (sandbox, drills, offline): a missing variable becomes a
    ``sandbox-<name>`` placeholder instead of an error; ``placeholders`` (the shared sandbox
    service): every secret is its placeholder, so each process (and the service) holds the
    same credentials and no real secret is ever sent to an emulator."""
    from channels import registry
    from channels.base import ConfigurationError
    from publisher.config import ENV_REF_WHOLE, resolve_env
    from publisher.logs import is_sensitive_key, register_secret

    conf = loaded.config.channels[name]
    cls = registry.channel_class(conf.kind)
    secrets = set(cls.settings_model.secret_fields())
    values: dict[str, object] = {}
    for key, value in conf.settings.items():
        # ${ENV} is read in secret fields only: elsewhere (an author, a site name) it
        # could copy a secret into what is published; the config check refuses it there
        if isinstance(value, str) and "${" in value and (key in secrets
                                                         or is_sensitive_key(key)):
            try:
                if placeholders:
                    raise KeyError(key)
                value = resolve_env(value, environ)
            except KeyError as exc:
                if not lenient:
                    raise ConfigurationError(
                        f"channel {name}: environment variable {exc.args[0]} is not set",
                        code="missing_secret",
                        explanation_zh=f"渠道 {name} 缺少环境变量 {exc.args[0]}（密钥不写入配置文件）",
                        explanation_en=f"channel {name} needs environment variable "
                                       f"{exc.args[0]} (secrets are never in the config file)",
                    ) from None
                match = ENV_REF_WHOLE.match(str(conf.settings[key]))
                value = f"sandbox-{match.group(1).lower() if match else key}"
            if key in secrets:
                register_secret(value)
        values[key] = value
    return values


def _stop_child(child: subprocess.Popen[bytes]) -> None:
    """Stop the sandbox service this App started (SIGTERM, then SIGKILL after 10 s)."""
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=5)
