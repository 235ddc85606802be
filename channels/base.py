"""The channel contract: messages, payloads, receipts, errors and the adapter interface."""

from __future__ import annotations

import abc
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar, get_args

import requests
from pydantic import BaseModel, ConfigDict, Field, SecretStr

# --------------------------------------------------------------------------- content


@dataclass(frozen=True)
class Attachment:
    """A file that travels with a message (a table export, a cover picture)."""

    name: str
    content_type: str
    path: Path


@dataclass(frozen=True)
class Message:
    """A release rendered for one channel, before the channel applies its limits.

    ``metadata`` holds the government metadata, all plain strings: ``issuing_organ``,
    ``subject_category``, ``signed_date``, ``published_date``, ``index_number``, ``column``,
    ``column_name``, ``slug`` (deterministic per release), and when present
    ``document_number`` and ``summary``; a later step of an incident has the incident page's
    ``slug`` and its own in ``release_slug`` (for kinds that publish each step as a new
    item). Times are aware datetimes.
    """

    release_key: str
    definition_id: str
    title: str
    body: str
    body_format: str  # "html" | "text" | "xml"
    metadata: Mapping[str, str] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()
    urgent: bool = False
    published_at: datetime | None = None


@dataclass(frozen=True)
class Payload:
    """A message prepared by its channel: validated, JSON-serialisable, ready to send."""

    kind: str
    data: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "data": dict(self.data)}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Payload:
        return cls(kind=str(raw["kind"]), data=dict(raw["data"]))


@dataclass(frozen=True)
class Receipt:
    """What the channel gave back: remote id, public URL, and channel-specific details."""

    remote_id: str
    url: str | None = None
    published_at: datetime | None = None
    # Accepted but still finishing remotely: the core polls ``status``; with
    # ``details["state"] == "queued"`` it does not poll but leaves the delivery ``queued``
    # until the channel's own cycle completes it (a gazette item waiting for its issue).
    # ``details["duplicates"]``: copies this delivery made twice (a request that landed after
    # its answer was lost, then a resend) which the channel found and removed, keeping this
    # one: a list of ``{"remote_id", "url", "status"}``; the core records them.
    pending: bool = False
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "remote_id": self.remote_id,
            "url": self.url,
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "pending": self.pending,
            "details": dict(self.details),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Receipt:
        published = raw.get("published_at")
        return cls(
            remote_id=str(raw["remote_id"]),
            url=raw.get("url"),
            published_at=datetime.fromisoformat(published) if published else None,
            pending=bool(raw.get("pending", False)),
            details=dict(raw.get("details") or {}),
        )


def is_queued(receipt: Receipt) -> bool:
    """The receipt of an item waiting in the channel's own queue (see ``Receipt.pending``)."""
    return receipt.pending and receipt.details.get("state") == "queued"


def idempotency_key(release_key: str, channel: str) -> str:
    """The delivery's idempotency key: derived, never random, 32 hex characters."""
    return hashlib.sha256(f"{release_key}\x1f{channel}".encode()).hexdigest()[:32]


# --------------------------------------------------------------------------- errors


class ChannelError(Exception):
    """Base of every error a channel raises; carries the remote's code and a staff sentence."""

    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        remote_message: str | None = None,
        explanation_zh: str | None = None,
        explanation_en: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.remote_message = remote_message
        self.explanation_zh = explanation_zh or message
        self.explanation_en = explanation_en or message

    def describe(self) -> dict[str, Any]:
        """A JSON-safe summary for attempts, logs and the delivery log."""
        return {
            "error": type(self).__name__,
            "message": str(self),
            "code": self.code,
            "remote_message": self.remote_message,
            "explanation_zh": self.explanation_zh,
            "explanation_en": self.explanation_en,
        }


class TransientChannelError(ChannelError):
    """Network trouble, 5xx or a busy code: worth another try, perhaps after ``retry_after``."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class RateLimited(TransientChannelError):
    """The remote refused for rate; ``retry_after`` seconds until the window reopens."""


class AuthExpired(ChannelError):
    """Credentials expired: refresh them and retry once."""

    retryable = True


class PermanentChannelError(ChannelError):
    """Will fail the same way every time: do not retry."""


class ContentRejected(PermanentChannelError):
    """The content breaks a limit; names the field and the limit."""

    def __init__(self, message: str, *, field: str, limit: str, **kw: Any) -> None:
        kw.setdefault("code", "content_rejected")
        super().__init__(message, **kw)
        self.field = field
        self.limit = limit


class ConfigurationError(PermanentChannelError):
    """The channel's settings are wrong or incomplete."""


class AlreadyPublished(ChannelError):
    """The remote says this delivery already landed; ``receipt`` is what it found."""

    def __init__(self, message: str, *, receipt: Receipt, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.receipt = receipt


class OutcomeUnknown(ChannelError):
    """The request left but no answer came (a read timeout, a connection dropped after the
    request was written), and repeating it could publish twice: the core asks ``find``
    after the channel's settle time before any resend."""


class NotSupported(ChannelError):
    """The channel cannot do this operation (e.g. ``find`` where the remote has no lookup)."""


# --------------------------------------------------------------------------- collaborators


class TokenCache(Protocol):
    """Access tokens shared by the threads and processes on one database.

    ``refresh`` is the only way to replace a token: it runs ``fetch`` at most once across
    every thread and process for the same stale token, so an expiry never causes a storm.
    """

    def get(self, key: str) -> tuple[str, datetime] | None: ...

    def refresh(self, key: str, stale: str | None,
                fetch: Callable[[], tuple[str, datetime]]) -> str:
        """Return a token newer than ``stale``: the cached one if another caller already
        replaced it, else the result of ``fetch`` (stored before returning)."""
        ...


class SendLog(Protocol):
    """When each account sent which delivery, shared by every process on one database: rate
    windows that survive a restart, and a delivery's first send (where a search for it starts)."""

    def take(self, account: str, key: str, now: datetime, *, limit: int,
             window: timedelta) -> datetime | None:
        """Atomically, across processes: when fewer than ``limit`` sends of ``account`` are
        recorded in the ``window`` before ``now``, record one of delivery ``key`` at ``now`` and
        return None; else record nothing and return when the oldest of them leaves the window."""
        ...

    def first(self, account: str, key: str) -> datetime | None:
        """When a send of delivery ``key`` by ``account`` was first recorded; None if never."""
        ...


@dataclass
class ChannelContext:
    """What a channel needs from the core, handed to it instead of imported."""

    clock: Callable[[], datetime]  # returns aware datetimes
    sleep: Callable[[float], None]
    session: requests.Session
    work_dir: Path
    token_cache: TokenCache | None = None
    sandbox: bool = False
    register_secret: Callable[[str], None] | None = None  # masks run-time secrets (access tokens)
    # where the people reading the channel's pages and texts live (config ``timezone``): every
    # time a channel shows is in this zone, with its offset where markup allows
    zone: tzinfo = UTC
    # the database's record of sends (rate windows, first sends); None: this process's memory
    send_log: SendLog | None = None


class ChannelSettings(BaseModel):
    """Base of each kind's settings schema; ``SecretStr`` fields are the secret ones."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # How long a request whose answer was lost may still take to land remotely (a busy
    # server, a queued job): after an unknown outcome the core asks ``find`` again before
    # resending only once this has passed. Kinds talking to a remote raise the default.
    settle_seconds: float = Field(0.0, ge=0, le=86_400)

    @classmethod
    def secret_fields(cls) -> list[str]:
        """Names of the fields typed ``SecretStr`` (optional or not)."""
        return [
            name for name, f in cls.model_fields.items()
            if f.annotation is SecretStr or SecretStr in get_args(f.annotation)
        ]


@dataclass(frozen=True)
class Limits:
    """Declared limits of a channel kind (each kind subclasses this with its own fields)."""

    title_max_chars: int | None = None
    body_max_chars: int | None = None


SettingsT = TypeVar("SettingsT", bound=ChannelSettings)


class Channel(abc.ABC, Generic[SettingsT]):
    """One configured account of one channel kind, typed by its settings model."""

    kind: ClassVar[str]
    limits: ClassVar[Limits] = Limits()
    settings_model: ClassVar[type[ChannelSettings]] = ChannelSettings
    body_format: ClassVar[str] = "html"  # what its templates render: html | text | xml
    template_ext: ClassVar[str] = "html"  # templates/<release>/<kind>.<template_ext>.j2
    takes_urgent: ClassVar[bool] = True
    # a withdrawal retracts every post and, where this is set, also publishes the withdrawal
    # notice as an item of its own (a retracted WordPress post leaves nothing to read)
    retract_notice: ClassVar[bool] = False
    check_offline: ClassVar[bool] = False  # check() reads only local state: run it every check
    # what reports say about this kind, as data (publisher/report never names a kind): whether
    # its posts reach the public (an internal system's are not 主动公开), and its platform
    public: ClassVar[bool] = True
    platform_zh: ClassVar[str] = ""  # e.g. 政府网站; empty: the kind's name
    platform_en: ClassVar[str] = ""

    def __init__(self, name: str, settings: SettingsT, context: ChannelContext) -> None:
        if not isinstance(settings, self.settings_model):
            raise ConfigurationError(
                f"渠道 {name} 的设置类型错误 / channel {name} needs {self.settings_model.__name__}, "
                f"got {type(settings).__name__}",
                code="settings_type",
            )
        self.name = name
        self.settings: SettingsT = settings
        self.context = context

    # whether the kind has an emulator of its remote (``start_sandbox`` starts one); the
    # sandbox service (``publisher sandbox serve``) runs one for each such channel
    emulated: ClassVar[bool] = False

    @classmethod
    def start_sandbox(cls, settings: ChannelSettings, *, port: int = 0, host: str = "127.0.0.1",
                      state_file: Path | None = None
                      ) -> tuple[ChannelSettings, Callable[[], None]]:
        """Start this kind's emulator for ``--sandbox`` runs and drills, on ``host``:``port``
        (0: any free port), keeping its state in ``state_file`` when given.

        Returns the settings pointed at the emulator and a function that stops it. Kinds
        without a remote (the static portal) keep their settings.
        """
        return settings, lambda: None

    @classmethod
    def sandbox_settings(cls, settings: ChannelSettings, url: str) -> ChannelSettings:
        """The settings pointed at this kind's emulator already running at ``url`` (the
        sandbox service's), as ``start_sandbox`` would have made them."""
        return settings

    @classmethod
    def drill_settings(cls, settings: ChannelSettings, folder: Path) -> ChannelSettings:
        """The settings for a drill (演练), after ``start_sandbox``: kinds whose output is
        local (the portal's site) point it into ``folder`` so drills never reach the public."""
        return settings

    @abc.abstractmethod
    def prepare(self, message: Message) -> Payload:
        """Pure: apply the limits; raise ContentRejected naming the field and the limit."""

    def prepare_follow_up(self, message: Message) -> Payload:
        """Pure: prepare an update to attach to an earlier post (``follow_up``); kinds whose
        follow-ups have other limits (a Weibo comment) override this."""
        return self.prepare(message)

    @abc.abstractmethod
    def send(self, payload: Payload, key: str) -> Receipt:
        """The only publishing I/O; ``key`` is identical on every attempt of a delivery."""

    def status(self, receipt: Receipt) -> Receipt:
        """Follow a pending receipt to its final state (asynchronous channels)."""
        return receipt

    def find(self, key: str, payload: Payload) -> Receipt | None:
        """Ask the remote whether this delivery already landed; NotSupported where impossible."""
        raise NotSupported(
            f"{self.kind} cannot look up earlier deliveries",
            explanation_zh=f"{self.kind} 渠道无法查询此前是否已发布，需人工核对",
            explanation_en=f"the {self.kind} channel cannot tell whether it already published",
        )

    def settle_seconds(self, payload: Payload, key: str) -> float:
        """How long after a lost answer a resend must wait, since the first request may still
        land (0 where the remote dedupes a resend by the key); the ``settle_seconds`` setting."""
        return self.settings.settle_seconds

    def retract(self, receipt: Receipt, payload: Payload | None = None) -> None:
        """Withdraw or delete a published item; ``payload`` is the withdrawal notice prepared
        for this channel, for kinds that show one in place of the item (the portal)."""
        raise NotSupported(f"{self.kind} cannot retract")

    def follow_up(self, receipt: Receipt, payload: Payload) -> Receipt:
        """Attach an update to an earlier post."""
        raise NotSupported(f"{self.kind} cannot attach follow-ups")

    def check(self) -> list[str]:
        """Probe credentials and reachability; returns problems (empty when fine)."""
        return []
