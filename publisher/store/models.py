"""SQLAlchemy tables: releases, deliveries, attempts, audit events and small coordination rows."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, stored as UTC on every database."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware one")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}  # noqa: RUF012


class Release(Base):
    """One occurrence of a definition (or one urgent post)."""

    __tablename__ = "releases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    definition_id: Mapped[str] = mapped_column(String(100), index=True)
    origin: Mapped[str] = mapped_column(String(20))  # scheduled | catch-up | manual | urgent
    # active | held | missed | awaiting_approval | rejected (publisher/review.py)
    state: Mapped[str] = mapped_column(String(20), index=True)
    due_at: Mapped[datetime]
    created_at: Mapped[datetime]
    deadline_at: Mapped[datetime]
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    title: Mapped[str | None] = mapped_column(Text)
    period_label: Mapped[str | None] = mapped_column(String(100))
    index_number: Mapped[str | None] = mapped_column(String(40))
    hold_reason: Mapped[dict[str, Any] | None]
    details: Mapped[dict[str, Any]]
    actor: Mapped[str] = mapped_column(String(100))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    msg_type: Mapped[str | None] = mapped_column(String(10))  # CAP: Alert | Update | Cancel
    # catalogue facts for the annual report (migration 0010); NULL on older rows: not recorded
    issuing_organ: Mapped[str | None] = mapped_column(String(200))
    subject_category: Mapped[str | None] = mapped_column(String(100))
    column_id: Mapped[str | None] = mapped_column(String(100))  # the portal column (栏目)
    document_type: Mapped[str | None] = mapped_column(String(30))  # report/settings.py
    signed_date: Mapped[date | None] = mapped_column(Date)  # 成文日期


class Incident(Base):
    """A thread of urgent releases: the first report, its updates, corrections, withdrawal."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(Text)
    area: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))  # open | withdrawn
    drill: Mapped[bool] = mapped_column(Boolean, default=False)
    opened_at: Mapped[datetime]
    opened_by: Mapped[str] = mapped_column(String(100))
    event_at: Mapped[datetime | None]  # when it happened (事件发生时间); NULL: not recorded


class Delivery(Base):
    """One release through one channel, with its state."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("release_id", "channel", "action", "target_id"),
        Index("ix_deliveries_due", "state", "next_attempt_at"),
        # the delivery log (publisher/logview.py) and /metrics, migration 0007
        Index("ix_deliveries_log", "updated_at", "id"),
        Index("ix_deliveries_channel_log", "channel", "updated_at", "id"),
        Index("ix_deliveries_state_log", "state", "updated_at", "id"),
        Index("ix_deliveries_channel_state_log", "channel", "state", "updated_at", "id"),
        Index("ix_deliveries_release_log", "release_id", "updated_at", "id"),
        Index("ix_deliveries_created_log", "created_at", "id"),
        Index("ix_deliveries_channel_created_log", "channel", "created_at", "id"),
        Index("ix_deliveries_state_created_log", "state", "created_at", "id"),
        Index("ix_deliveries_counts", "channel", "state", "drill"),
        Index("ix_deliveries_published", "published_at"),  # the annual report, migration 0010
        # the channels an outstanding urgent post holds back (dispatch.URGENT_FIRST), 0015
        Index("ix_deliveries_urgent_gate", "state", "urgent", "drill", "channel"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"))
    channel: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(40))
    # send: publish the payload | follow_up: attach it to ``target`` (a Weibo comment, a portal
    # timeline entry) | retract: withdraw ``target`` (the payload is the notice where needed)
    action: Mapped[str] = mapped_column(String(20), default="send", server_default="send")
    target_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id"))
    drill: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # emulators
    state: Mapped[str] = mapped_column(String(20))
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    payload: Mapped[dict[str, Any]]
    claims: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    claimed_at: Mapped[datetime | None]
    receipt: Mapped[dict[str, Any] | None]
    last_error: Mapped[dict[str, Any] | None]
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # since when a request of this delivery may have landed unseen (its answer was lost, or
    # the process died mid-send): a claim asks the channel (find) before sending again, and
    # once published by a resend it is looked at once more for a late copy (migration 0008)
    unconfirmed_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]  # the channel took it (a job may still be finishing)
    published_at: Mapped[datetime | None]  # the public URL exists


class Attempt(Base):
    """One try of a delivery."""

    __tablename__ = "attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    duration_ms: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(30))
    error: Mapped[dict[str, Any] | None]
    receipt: Mapped[dict[str, Any] | None]


class AuditEvent(Base):
    """An append-only, hash-chained record of an action and who did it."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_action_at", "action", "at"),)  # migration 0010

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                     autoincrement=False)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's head (one row): serialises appends and catches a cut-off tail."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """How far the chain was found intact (one row, migration 0012): the console's audit page
    recomputes only the events after it; a full check can still recompute every event."""

    __tablename__ = "audit_checkpoint"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    hash: Mapped[str] = mapped_column(String(64))  # the hash of event ``seq``
    verified_at: Mapped[datetime]
    full: Mapped[bool]  # whether the check that set it recomputed the chain from its start


class IndexCounter(Base):
    """The last 索引号 serial given out per organisation and year."""

    __tablename__ = "index_counters"

    organ_code: Mapped[str] = mapped_column(String(20), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_serial: Mapped[int] = mapped_column(Integer)


class Lease(Base):
    """Who holds a singleton role (the scheduler) and until when."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class SendRow(Base):
    """One send an account made (or tried) at a time: its hourly window across restarts and
    processes, and a delivery's first send (see publisher/sendlog.py)."""

    __tablename__ = "send_log"
    __table_args__ = (Index("ix_send_log_account_at", "account", "sent_at"),
                      Index("ix_send_log_account_key", "account", "key"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(300))  # "<channel>@<API base URL>"
    key: Mapped[str] = mapped_column(String(64))  # the delivery's idempotency key
    sent_at: Mapped[datetime]


class BotState(Base):
    """Small named facts the bot keeps (e.g. when the scheduler first started)."""

    __tablename__ = "bot_state"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class ScheduleMark(Base):
    """How far a scheduled definition's fire times are accounted for (scheduler.py): every fire
    time after ``kept_since`` and up to ``handled_until`` ended as a release or a recorded
    missed run (a row at its due time), and (for one that needs review) every one up to
    ``rendered_until`` was rendered ahead for approval."""

    __tablename__ = "schedule_marks"

    definition_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    kept_since: Mapped[datetime]
    handled_until: Mapped[datetime]
    rendered_until: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class TokenRow(Base):
    """An access token shared by every process on the database, encrypted (see tokens.py)."""

    __tablename__ = "token_cache"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    sealed: Mapped[str] = mapped_column(Text)  # Fernet token: the access token, encrypted
    expires_at: Mapped[datetime]


class ApiToken(Base):
    """An API token of the HTTP API: only its SHA-256 is stored, with the role it acts in."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    definitions: Mapped[str | None] = mapped_column(Text)  # a supplier's, comma-separated
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class Account(Base):
    """A staff account of the console: an argon2 hash of its password, never the password."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id, PHC string
    roles: Mapped[str] = mapped_column(String(200))  # comma-separated, e.g. "editor,approver"
    definitions: Mapped[str | None] = mapped_column(Text)  # a supplier's, comma-separated
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))
    password_changed_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]
    last_sign_in_at: Mapped[datetime | None]


class ConsoleSession(Base):
    """A signed-in browser: the id is the SHA-256 of the token kept only in its cookie."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    user_agent: Mapped[str] = mapped_column(String(120))


class SignInFailure(Base):
    """A refused sign-in, kept for the lock-out window (per name and per client address)."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (
        Index("ix_sign_in_failures_name_at", "name", "at"),
        Index("ix_sign_in_failures_client_at", "client", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]


class DataFile(Base):
    """One data file handed in for a table of a definition's period (console or API): where it
    lies in the inbox, its SHA-256, who gave it; a replaced or removed one is kept aside."""

    __tablename__ = "data_files"
    __table_args__ = (Index("ix_data_files_slot", "definition_id", "period", "table_name",
                            "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition_id: Mapped[str] = mapped_column(String(100))
    period: Mapped[str] = mapped_column(String(20))  # Period.key: 2026-W49
    table_name: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20))  # current | replaced | removed
    path: Mapped[str] = mapped_column(String(500))  # relative to the inbox
    kept_path: Mapped[str | None] = mapped_column(String(500))  # once replaced or removed
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    file_format: Mapped[str] = mapped_column(String(10))  # csv | xlsx | json
    rows: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[datetime]
    ended_by: Mapped[str | None] = mapped_column(String(100))
    ended_at: Mapped[datetime | None]


class PreflightCheck(Base):
    """The pre-flight check of one scheduled run's data (``data_due_hours`` before it): whether
    it was ready, and its problems; one row per run, so a run is alerted once."""

    __tablename__ = "preflight_checks"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # the occurrence key
    definition_id: Mapped[str] = mapped_column(String(100))
    due_at: Mapped[datetime]
    checked_at: Mapped[datetime]
    ready: Mapped[bool] = mapped_column(Boolean)
    problems: Mapped[list[str]] = mapped_column(JSON)


class Node(Base):
    """One ``publisher run`` process of a cluster (publisher/cluster.py): who it is, when it
    started and last beat, and whether it holds the scheduler role."""

    __tablename__ = "nodes"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)  # holder_id(): host:pid:nonce
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    version: Mapped[str] = mapped_column(String(50))
    started_at: Mapped[datetime]
    beat_at: Mapped[datetime]
    role: Mapped[str] = mapped_column(String(20))  # scheduler, standby, silent, stopped
