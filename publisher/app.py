"""The running bot's parts wired together: config, store, clock, renderer and channels."""

from __future__ import annotations

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
    _stops: list[Callable[[], None]] = field(default_factory=list, init=False, repr=False)
    _alerts: Alerts | None = field(default=None, init=False, repr=False)

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

    def close(self) -> None:
        """Send queued alerts (bounded wait), stop the emulators this App started, release the database."""
        if self._alerts is not None:
            self._alerts.close()
        while self._stops:
            self._stops.pop()()
        self.store.dispose()

    def _build(self, name: str, *, drill: bool = False) -> Channel[Any]:
        from channels import registry
        from channels.base import ChannelContext, ConfigurationError
        from publisher.config import ENV_REF_WHOLE, resolve_env
        from publisher.logs import is_sensitive_key, register_secret
        from publisher.sendlog import DatabaseSendLog
        from publisher.tokens import DatabaseTokenCache

        conf = self.loaded.config.channels[name]
        cls = registry.channel_class(conf.kind)
        secrets = set(cls.settings_model.secret_fields())
        values: dict[str, object] = {}
        for key, value in conf.settings.items():
            # ${ENV} is read in secret fields only: elsewhere (an author, a site name) it
            # could copy a secret into what is published; the config check refuses it there
            if isinstance(value, str) and "${" in value and (key in secrets
                                                             or is_sensitive_key(key)):
                try:
                    value = resolve_env(value, self.environ)
                except KeyError as exc:
                    if not (self.sandbox or self.offline or drill):
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
        settings = cls.settings_model.model_validate(values)
        if self.sandbox or drill:
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
