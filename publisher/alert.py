"""Alerts to staff: held releases, failed deliveries, missed runs (logged and audited)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from publisher.logs import get_logger

if TYPE_CHECKING:
    from publisher.app import App

log = get_logger("publisher.alert")


def alert(app: App, kind: str, text_zh: str, text_en: str, **details: Any) -> None:
    """Tell staff something needs a person. Delivered as a log line at WARNING for now.

    Sending alerts to a chat group or e-mail (Apprise) is a later issue; every alert already
    leaves an ``alert`` log line with its kind and both texts.
    """
    log.warning("alert", alert=kind, text_zh=text_zh, text_en=text_en, **details)
