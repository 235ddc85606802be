"""Alerts to staff: always a log line, and a message through Apprise (group bots, e-mail) if configured."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from publisher.alert.message import DRILL_MARK, compose, subject_of
from publisher.alert.sender import Alerts
from publisher.alert.url import LITERAL_PROBLEM, UNPARSEABLE_PROBLEM, check_urls, resolve_url
from publisher.logs import get_logger

if TYPE_CHECKING:
    from publisher.app import App

__all__ = ["DRILL_MARK", "LITERAL_PROBLEM", "UNPARSEABLE_PROBLEM", "Alerts", "alert", "check_urls",
           "compose", "resolve_url", "subject_of"]

log = get_logger("publisher.alert")


def alert(app: App, kind: str, text_zh: str, text_en: str, *, contacts_of: str | None = None,
          **details: Any) -> None:
    """Tell staff something needs a person: a WARNING log line, then Apprise if configured
    (with ``contacts_of``, that definition's ``data_contacts`` too).

    Never blocks on the network and never raises: the message is queued for the App's
    sender thread (see ``Alerts``), once per (kind, subject) within ``min_interval_seconds``.
    """
    log.warning("alert", alert=kind, text_zh=text_zh, text_en=text_en, **details)
    contacts = contacts_of is not None and bool(
        getattr(app.loaded.config.releases.get(contacts_of), "data_contacts", None))
    if not app.loaded.config.alerts.urls and not contacts:
        return
    try:
        app.alerts.submit(kind, text_zh, text_en, details,
                          contacts_of=contacts_of if contacts else None)
    except Exception:  # an alert must never break the work that raised it
        log.exception("alert.failed", alert=kind, reason="could not queue the alert")
