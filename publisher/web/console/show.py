"""Words and helpers the delivery, release and audit pages share: states, outcomes, safe links."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request

from publisher.dispatch import STATES
from publisher.history import OUTCOME_WORDS as ATTEMPT_OUTCOME_WORDS
from publisher.outcome import WORDS as RELEASE_OUTCOME_WORDS
from publisher.web.auth import current_app
from publisher.web.console.deps import environment
from publisher.web.console.i18n import CATALOGUE, register

RELEASE_STATES = ("active", "awaiting_approval", "held", "missed", "rejected")

register({
    "state.pending": ("待发送", "pending"),
    "state.sending": ("发送中", "sending"),
    "state.retry_wait": ("等待重试", "waiting to retry"),
    "state.queued": ("排队待刊", "queued"),
    "state.published": ("已发布", "published"),
    "state.failed": ("失败", "failed"),
    "state.unknown": ("结果不明", "unknown"),
    "state.retracted": ("已撤回", "retracted"),
    "release_state.active": ("进行中", "active"),
    "release_state.awaiting_approval": ("待审核", "awaiting approval"),
    "release_state.held": ("已暂停", "held"),
    "release_state.missed": ("已错过", "missed"),
    "release_state.rejected": ("已驳回", "rejected"),
    "action_kind.send": ("发布", "post"),
    "action_kind.follow_up": ("追加", "follow-up"),
    "action_kind.retract": ("撤回", "retraction"),
    "common.none": ("无", "none"),
    "common.unknown": ("未知", "unknown"),
    "common.yes": ("是", "yes"),
    "common.no": ("否", "no"),
    "common.drill": ("演练", "drill"),
    "common.urgent": ("紧急", "urgent"),
    "common.open": ("打开", "open"),
    "action.refused": ("未能执行：{reason}", "Not done: {reason}"),
})
register({f"release_outcome.{key}": words for key, words in RELEASE_OUTCOME_WORDS.items()})
register({f"outcome.{key}": words for key, words in ATTEMPT_OUTCOME_WORDS.items()})


def known(key: str) -> bool:
    """Whether the catalogue has words for ``key`` (templates fall back to the raw value)."""
    return key in CATALOGUE


def http_url(value: object) -> str | None:
    """``value`` if it is an absolute http(s) URL that may be put in an ``href``, else None
    (a receipt's URL comes from a remote: a ``javascript:`` link must never become clickable)."""
    if not isinstance(value, str) or not value or any(ord(ch) < 33 for ch in value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return value if parts.scheme in ("http", "https") and parts.netloc else None


def release_path(key_or_id: object) -> str:
    """The console page of a release, by id or by key."""
    return "/releases/" + quote(str(key_or_id), safe="")


def subject_path(subject: str) -> str | None:
    """The console page an audit event's subject names (``delivery:12``, ``release:KEY``)."""
    kind, _, name = subject.partition(":")
    if kind == "delivery" and name.isdigit():
        return f"/deliveries/{name}"
    if kind == "release" and name:
        return release_path(name)
    return None


def dispatcher_wake(request: Request) -> None:
    """Wake the daemon's dispatcher when the console runs inside it (a release is due now)."""
    wake: Any = getattr(request.app.state, "wake", None)
    if callable(wake):
        wake()


def open_circuits(request: Request) -> dict[str, Any] | None:
    """The daemon dispatcher's open circuits by channel, or None when the console runs without
    one (then nobody here knows)."""
    dispatcher: Any = getattr(request.app.state, "dispatcher", None)
    if dispatcher is None:
        return None
    found: dict[str, Any] = dispatcher.circuits.open_channels(current_app(request).clock.now())
    return found


environment.globals.update(known=known, http_url=http_url, release_path=release_path,
                           subject_path=subject_path, delivery_states=STATES,
                           release_states=RELEASE_STATES)
