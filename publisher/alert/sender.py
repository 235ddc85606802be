"""The sender of one App's alerts: de-duplicated, queued, sent through Apprise on one thread."""

from __future__ import annotations

import atexit
import contextlib
import queue
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from publisher.alert.message import DRILL_MARK, compose, subject_of
from publisher.alert.url import REASONS, Target, Unusable, target
from publisher.config import AlertsConfig
from publisher.logs import REDACTOR, get_logger

if TYPE_CHECKING:
    from publisher.app import App

log = get_logger("publisher.alert")

QUEUE_SIZE = 100  # alerts waiting to be sent; more are dropped with a log line
CLOSE_WAIT_SECONDS = 15.0  # how long App.close() waits for queued alerts to go out
REASON_MAX_CHARS = 300  # Apprise's explanation of a failed send, in the log
PRUNE_AFTER = 1024  # remembered (kind, subject) pairs before old ones are forgotten


@dataclass(frozen=True)
class _Message:
    kind: str
    title: str
    body: str
    contacts_of: str | None = None  # a definition whose data contacts are told too


class Alerts:
    """One App's alert sender: de-duplicates, queues, and sends on one daemon thread.

    ``submit`` never waits on the network: a full queue drops the alert with a log line.
    ``close`` sends what is queued within a bounded wait; it also runs at interpreter exit,
    so a short command (``publisher trigger``) does not lose the alert it raised.
    """

    def __init__(self, app: App, queue_size: int = QUEUE_SIZE) -> None:
        self.app = app
        self.settings: AlertsConfig = app.loaded.config.alerts
        self._queue: queue.Queue[_Message | None] = queue.Queue(queue_size)
        self._cond = threading.Condition()
        self._last: dict[tuple[str, str], datetime] = {}
        self._pending = 0
        self._closed = False
        self._thread: threading.Thread | None = None
        self.targets: list[Target] | None = None  # built on the sender thread
        self.contacts: dict[str, list[Target]] = {}  # a definition's data contacts, as needed

    def start(self) -> None:
        """Start the sender thread now (it checks every URL and logs the unusable ones)."""
        with self._cond:
            if self.settings.urls:
                self._start_locked()

    def _start_locked(self) -> None:
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(target=self._run, name="alert-sender", daemon=True)
            self._thread.start()
            atexit.register(self.close)

    def submit(self, kind: str, text_zh: str, text_en: str, details: Mapping[str, Any], *,
               contacts_of: str | None = None) -> bool:
        """Queue an alert unless the same (kind, subject) went out within the interval; with
        ``contacts_of``, that definition's ``data_contacts`` are sent it too."""
        now = self.app.clock.now()
        key = (kind, subject_of(text_en, details))
        title, body = compose(kind, text_zh, text_en, details, now, self.app.loaded.zone)
        if self.app.sandbox:  # channels are on their emulators: staff must not mistake it
            title = f"{DRILL_MARK}{title}"
        interval = self.settings.min_interval_seconds
        with self._cond:
            if self._closed:
                outcome = "closed"
            else:
                last = self._last.get(key)
                if last is not None and abs((now - last).total_seconds()) < interval:
                    outcome = "repeated"
                else:
                    try:
                        self._queue.put_nowait(_Message(kind, title, body, contacts_of))
                    except queue.Full:
                        outcome = "dropped"
                    else:
                        outcome = "queued"
                        self._last[key] = now
                        self._pending += 1
                        self._prune_locked(now, interval)
                        self._start_locked()
        if outcome == "repeated":
            log.info("alert.repeated", alert=kind, subject=key[1], min_interval_seconds=interval)
        elif outcome == "dropped":
            log.error("alert.dropped", alert=kind, reason="queue full", queued=self._queue.maxsize)
        elif outcome == "closed":
            log.error("alert.dropped", alert=kind, reason="sender closed")
        return outcome == "queued"

    def _prune_locked(self, now: datetime, interval: float) -> None:
        if len(self._last) > PRUNE_AFTER:
            self._last = {k: at for k, at in self._last.items()
                          if abs((now - at).total_seconds()) < interval}

    def flush(self, wait_seconds: float = CLOSE_WAIT_SECONDS) -> bool:
        """Wait until every queued alert was tried (at most ``wait_seconds``); True if none is left."""
        deadline = time.monotonic() + wait_seconds
        with self._cond:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, wait_seconds: float = CLOSE_WAIT_SECONDS) -> bool:
        """Send what is queued (bounded wait), then stop the thread; later alerts are only logged."""
        with self._cond:
            if self._closed:
                return self._pending == 0
            self._closed = True
            thread = self._thread
        atexit.unregister(self.close)
        if thread is None:
            return True
        deadline = time.monotonic() + wait_seconds
        with contextlib.suppress(queue.Full):  # full: the join below still ends at the deadline
            self._queue.put(None, timeout=wait_seconds)
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            log.warning("alert.unsent", pending=self._pending, wait_seconds=wait_seconds)
            return False
        return True

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        self.targets = self._build_targets()
        while True:
            message = self._queue.get()
            if message is None:
                return
            try:
                self._send(message)
            except Exception:  # the thread must outlive any one alert
                log.exception("alert.failed", alert=message.kind)
            with self._cond:
                self._pending -= 1
                self._cond.notify_all()
                if self._closed and not self._pending:  # close() may have found the queue full
                    return

    def _build_targets(self) -> list[Target]:
        targets = []
        for index, raw in enumerate(self.settings.urls):
            try:
                targets.append(target(index, raw, self.app.environ, self.settings.timeout_seconds))
            except Unusable as exc:
                log.error("alert.url_unusable", url_index=index, reason=exc.reason)
            except Exception:  # Apprise failing to import or load must not stop the sender
                log.exception("alert.url_unusable", url_index=index)
        return targets

    def _contacts(self, definition_id: str | None) -> list[Target]:
        """The Apprise targets of a definition's data contacts (built once, on this thread)."""
        if definition_id is None:
            return []
        if definition_id not in self.contacts:
            definition = self.app.loaded.config.releases.get(definition_id)
            found = []
            for index, raw in enumerate(definition.data_contacts if definition else []):
                try:
                    found.append(target(index, raw, self.app.environ,
                                        self.settings.timeout_seconds))
                except Unusable as exc:
                    log.error("alert.contact_unusable", release=definition_id, url_index=index,
                              reason=exc.reason)
                except Exception:
                    log.exception("alert.contact_unusable", release=definition_id,
                                  url_index=index)
            self.contacts[definition_id] = found
        return self.contacts[definition_id]

    def _send(self, message: _Message) -> None:
        for one in [*(self.targets or []), *self._contacts(message.contacts_of)]:
            REASONS.watch()
            try:
                sent = bool(one.plugin.notify(body=message.body, title=message.title))
                error = ""
            except Exception as exc:  # a plugin bug or a network error Apprise did not catch
                sent, error = False, f"{type(exc).__name__}: {exc}"
            reasons = [*REASONS.collected(), error]
            if sent:
                log.info("alert.sent", alert=message.kind, url_index=one.index, service=one.service)
            else:
                reason = " | ".join(r for r in reasons if r) or "Apprise reported failure"
                reason = REDACTOR.redact_text(reason)[:REASON_MAX_CHARS]
                log.warning("alert.failed", alert=message.kind, url_index=one.index,
                            service=one.service, reason=reason)
