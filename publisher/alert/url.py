"""Apprise URLs of alerts: resolved from ${ENV}, their secrets registered, parsed, checked.

Every configured URL is a secret: its secret parts are registered with the log redactor before
it is used, and it is named in logs and problems only by its index (``alerts.urls.0``).
Apprise's own logger writes invalid tokens verbatim, so it does not propagate to ours; its
warnings are collected only to explain a failed send, redacted.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from publisher.config import ENV_REF, ENV_REF_WHOLE, LoadedConfig, Problem, resolve_env
from publisher.logs import register_secret

UNPARSEABLE_PROBLEM = ("Apprise 无法解析这个告警地址（地址含密钥，此处不显示）/ Apprise cannot "
                       "parse this alert URL (not shown: it holds secrets)")
LITERAL_PROBLEM = ("告警地址中的密钥只能写成 ${环境变量} / the secret part of an alert URL must be "
                   "a ${ENV_VAR} reference, never literal")


class Reasons(logging.Handler):
    """Keeps Apprise's warnings made on the current thread while a send is being watched."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._local = threading.local()

    def watch(self) -> None:
        self._local.lines = []

    def collected(self) -> list[str]:
        lines: list[str] = getattr(self._local, "lines", None) or []
        self._local.lines = None
        return lines

    def emit(self, record: logging.LogRecord) -> None:
        lines = getattr(self._local, "lines", None)
        if lines is not None:
            try:
                lines.append(record.getMessage())
            except Exception:  # a malformed Apprise message only loses the explanation
                lines.append(str(record.msg))


REASONS = Reasons()
_apprise_lock = threading.Lock()


def _apprise() -> Any:
    """The apprise module, its logger kept out of ours (it writes invalid tokens verbatim)."""
    with warnings.catch_warnings():  # its PGP support imports imghdr, deprecated in 3.11
        warnings.simplefilter("ignore", DeprecationWarning)
        import apprise
        from apprise.manager_plugins import NotificationManager

        NotificationManager().load_modules()  # type: ignore[no-untyped-call]  # plugins load here, once

    with _apprise_lock:
        logger = logging.getLogger("apprise")
        logger.propagate = False
        if REASONS not in logger.handlers:
            logger.addHandler(REASONS)
    return apprise


def _instantiate(url: str) -> Any | None:
    """Apprise's plugin for ``url``, or None when Apprise cannot parse it (or it raises)."""
    apprise = _apprise()
    try:
        return apprise.Apprise.instantiate(url, suppress_exceptions=True)
    except Exception:  # a plugin that raises anyway counts as unparseable
        return None


def _private_values(plugin: Any, url: str) -> set[str]:
    """The values of the URL's parts that the plugin declares private (keys, tokens, passwords)."""
    cls = type(plugin)
    tokens = getattr(cls, "template_tokens", None) or {}
    names = {name for name, spec in tokens.items() if isinstance(spec, Mapping) and spec.get("private")}
    names.add("password")
    parsed: Mapping[str, Any] = {}
    for parse in (getattr(cls, "parse_url", None), getattr(cls, "parse_native_url", None)):
        try:
            parsed = (parse(url) if parse else None) or {}
        except Exception:  # a parser that fails on this URL shape: try the next
            parsed = {}
        if parsed:
            break
    values: set[str] = set()
    for name in names:
        for found in (parsed.get(name), getattr(plugin, name, None)):
            items = found if isinstance(found, list | tuple | set) else [found]
            values.update(item for item in items if isinstance(item, str) and item)
    return values


def resolve_url(raw: str, environ: dict[str, str] | None = None) -> str:
    """The URL with its ``${ENV}`` references replaced; KeyError names an unset variable.

    A value put inside a URL is percent-encoded (a password may hold ``/`` or ``@``); a URL
    that is one whole ``${ENV}`` reference is used as it is.
    """
    if ENV_REF_WHOLE.match(raw):
        return resolve_env(raw, environ)
    env = os.environ if environ is None else environ

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise KeyError(name)
        return quote(env[name], safe="")

    return ENV_REF.sub(sub, raw)


def _register(url: str, raw: str, environ: dict[str, str] | None) -> None:
    """Register the URL and the values of its ``${ENV}`` references as secrets."""
    env = os.environ if environ is None else environ
    register_secret(url)
    for name in ENV_REF.findall(raw):
        if env.get(name):
            register_secret(env[name])


@dataclass(frozen=True)
class Target:
    """One usable Apprise URL: its index in ``alerts.urls``, its service name and its plugin."""

    index: int
    service: str
    plugin: Any


class Unusable(Exception):
    """A configured URL that cannot be used; the reason never holds the URL."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def target(index: int, raw: str, environ: dict[str, str] | None,
           timeout_seconds: float) -> Target:
    """Resolve, register and parse one configured URL; Unusable says why not (without the URL)."""
    try:
        url = resolve_url(raw, environ)
    except KeyError as exc:
        raise Unusable(f"环境变量 {exc.args[0]} 未设置 / environment variable {exc.args[0]} "
                       "is not set") from None
    _register(url, raw, environ)
    plugin = _instantiate(url)
    if plugin is None:
        raise Unusable(UNPARSEABLE_PROBLEM)
    for value in _private_values(plugin, url):
        register_secret(value)
    plugin.socket_connect_timeout = timeout_seconds
    plugin.socket_read_timeout = timeout_seconds
    return Target(index, str(getattr(plugin, "service_name", type(plugin).__name__)), plugin)


def check_urls(loaded: LoadedConfig, environ: dict[str, str] | None = None) -> list[Problem]:
    """``publisher check``: each alert URL Apprise cannot parse, or with a literal secret, by index.

    A URL whose ``${ENV}`` variables are not set here cannot be checked and is skipped, as
    channel secrets are in an offline check.
    """
    problems: list[Problem] = []
    listed: list[tuple[tuple[str | int, ...], str]] = [
        (("alerts", "urls", index), raw) for index, raw in enumerate(loaded.config.alerts.urls)]
    for name, definition in loaded.config.releases.items():  # a bureau's data contacts
        listed += [(("releases", name, "data_contacts", index), raw)
                   for index, raw in enumerate(definition.data_contacts)]
    for where, raw in listed:
        try:
            url = resolve_url(raw, environ)
        except KeyError:
            continue
        _register(url, raw, environ)
        plugin = _instantiate(url)
        if plugin is None:
            problems.append(loaded.problem(where, UNPARSEABLE_PROBLEM))
            continue
        private = _private_values(plugin, url)
        for value in private:
            register_secret(value)
        if any(len(value) >= 4 and (value in raw or quote(value, safe="") in raw)
               for value in private):
            problems.append(loaded.problem(where, LITERAL_PROBLEM))
    return problems
