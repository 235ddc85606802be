"""Staff deciding a delivery by hand: retry a failed, unknown or waiting one now, resolve an unknown one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from publisher import audit
from publisher.app import App
from publisher.errors import PublisherError
from publisher.logs import get_logger
from publisher.store.models import Delivery, Release

log = get_logger(__name__)

# what a person may send again; retry_wait: now rather than at its next try (the remote is
# fixed: staff need not wait out a sweep wait of up to max_sweep_wait_seconds)
RETRYABLE = ("failed", "unknown", "retry_wait")
MAX_URL_CHARS = 2000
SEND_AGAIN = "send_again"  # resolve decisions
PUBLISHED = "published"


class InterventionRefused(PublisherError):
    """A hand decision that may not happen; ``code`` says why, in words for staff in zh and en."""

    def __init__(self, code: str, message_zh: str, message_en: str) -> None:
        self.code = code  # not_found | wrong_state | release_not_active | bad_url
        self.message_zh = message_zh
        self.message_en = message_en
        super().__init__(f"{message_zh} / {message_en}")


@dataclass(frozen=True)
class Changed:
    """What a hand decision did to a delivery."""

    delivery_id: int
    release_id: int
    channel: str
    previous_state: str
    state: str
    actor: str
    at: datetime


def retry(app: App, delivery_id: int, *, actor: str) -> Changed:
    """Make a ``failed`` or ``unknown`` delivery, or one waiting in ``retry_wait``, due again
    now, under the same idempotency key (the dispatcher sends it at its next pass); audited as
    ``delivery.retry`` (with the try it was waiting for, if any).

    Refused (InterventionRefused) for another state, or when its release is not active
    (rejected, or held unapproved: never sent)."""
    return _send_again(app, delivery_id, actor=actor, allowed=RETRYABLE, action="delivery.retry")


def send_again(app: App, delivery_id: int, *, actor: str) -> Changed:
    """Decide an ``unknown`` delivery did not land: it is sent again under the same key
    (a channel that sees the key again answers with the earlier post); audited as
    ``delivery.resolved`` with the decision ``send_again``."""
    return _send_again(app, delivery_id, actor=actor, allowed=("unknown",),
                       action="delivery.resolved")


def resolve_published(app: App, delivery_id: int, *, actor: str, url: str) -> Changed:
    """Decide an ``unknown`` delivery did land, at ``url`` (checked to be http or https): it
    becomes ``published`` with that URL as its receipt; audited as ``delivery.resolved``."""
    url = check_url(url)
    now = app.clock.now()
    with app.store.write() as session:
        row = _locked(session, delivery_id)
        _require_state(row, ("unknown",))
        previous = row.state
        row.state, row.updated_at, row.next_attempt_at = "published", now, None
        row.unconfirmed_at = None
        row.receipt = {"remote_id": str((row.receipt or {}).get("remote_id") or ""), "url": url,
                       "published_at": now.isoformat(), "pending": False,
                       "details": {"resolved_by": actor}}
        row.accepted_at = row.accepted_at or now
        row.published_at = now
        row.reason = f"人工确认已发布 / confirmed published by {actor}"
        audit.append(session, at=now, actor=actor, action="delivery.resolved",
                     subject=f"delivery:{delivery_id}",
                     details={"channel": row.channel, "decision": PUBLISHED, "url": url,
                              "previous_state": previous})
        changed = Changed(row.id, row.release_id, row.channel, previous, row.state, actor, now)
    log.info("delivery.resolved", delivery_id=delivery_id, decision=PUBLISHED, actor=actor)
    return changed


def check_url(text: str) -> str:
    """``text`` trimmed if it is an absolute http or https URL with a host, else refused."""
    url = text.strip()
    bad = InterventionRefused("bad_url", f"链接无效（须为 http:// 或 https:// 开头的完整地址）：{url[:100]}",
                              f"not a valid link (a full http:// or https:// address): {url[:100]}")
    if not url or len(url) > MAX_URL_CHARS or any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise bad
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise bad from None
    if parts.scheme not in ("http", "https") or not host:
        raise bad
    return url


# --------------------------------------------------------------------------- helpers


def _send_again(app: App, delivery_id: int, *, actor: str, allowed: tuple[str, ...],
                action: str) -> Changed:
    now = app.clock.now()
    with app.store.write() as session:
        row = _locked(session, delivery_id)
        _require_state(row, allowed)
        release = session.get(Release, row.release_id)
        assert release is not None
        if release.state != "active":  # rejected, or held unapproved: never sent
            raise InterventionRefused(
                "release_not_active",
                f"发布 {release.key} 状态为 {release.state}，其投递不能重试",
                f"release {release.key} is {release.state}; its deliveries cannot be retried")
        previous, waited_for = row.state, row.next_attempt_at
        row.state, row.next_attempt_at, row.updated_at = "retry_wait", now, now
        if previous != "retry_wait":  # a person decided: send, without asking the channel
            row.unconfirmed_at = None
        # (a waiting delivery whose answer was lost keeps it: retried now, it is still looked
        # for on the channel before any resend, so "retry now" never publishes it twice)
        row.reason = f"人工重试 / retried by {actor}"
        release.deadline_at = max(release.deadline_at, now + _deadline(app, release.definition_id))
        details: dict[str, str] = {"channel": row.channel, "previous_state": previous}
        if previous == "retry_wait" and waited_for is not None:
            details["was_due_at"] = waited_for.isoformat()
        if action == "delivery.resolved":
            details["decision"] = SEND_AGAIN
        audit.append(session, at=now, actor=actor, action=action,
                     subject=f"delivery:{delivery_id}", details=details)
        changed = Changed(row.id, row.release_id, row.channel, previous, row.state, actor, now)
    log.info(action, delivery_id=delivery_id, previous_state=previous, actor=actor)
    return changed


def _locked(session: Session, delivery_id: int) -> Delivery:
    row = session.execute(select(Delivery).where(Delivery.id == delivery_id)
                          .with_for_update()).scalar_one_or_none()
    if row is None:
        raise InterventionRefused("not_found", f"没有投递 {delivery_id}",
                                  f"no delivery {delivery_id}")
    return row


def _require_state(row: Delivery, allowed: tuple[str, ...]) -> None:
    if row.state in allowed:
        return
    retrying = "failed" in allowed
    *rest, last = allowed
    zh = f"{'、'.join(rest)} 或 {last}" if rest else last
    en = f"{', '.join(rest)} or {last}" if rest else last
    raise InterventionRefused(
        "wrong_state",
        f"投递 {row.id} 状态为 {row.state}，只能{'重试' if retrying else '判定'} {zh}",
        f"delivery {row.id} is {row.state}; only {en} can be "
        f"{'retried' if retrying else 'resolved'}")


def _deadline(app: App, definition_id: str) -> timedelta:
    """How long a delivery sent again by hand may keep retrying."""
    if definition_id in app.loaded.config.releases:
        return timedelta(hours=app.loaded.retry_deadline_hours(definition_id))
    return timedelta(hours=app.loaded.config.defaults.retry_deadline_hours)
