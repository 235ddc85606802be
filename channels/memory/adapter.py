"""The memory channel: keeps what it publishes in a process-wide store, plays scripted failures."""

from __future__ import annotations

import copy
import re
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import Field, SecretStr, field_validator

from channels.base import (
    AlreadyPublished,
    AuthExpired,
    Channel,
    ChannelContext,
    ChannelError,
    ChannelSettings,
    ConfigurationError,
    ContentRejected,
    Limits,
    Message,
    NotSupported,
    OutcomeUnknown,
    Payload,
    PermanentChannelError,
    RateLimited,
    Receipt,
    TransientChannelError,
)

KIND = "memory"
OUTCOMES = (
    "ok", "transient", "rate_limited", "auth_expired", "permanent", "content_rejected",
    "configuration", "already_published", "outcome_unknown", "timeout", "lost",
)
_OUTCOME = re.compile(r"(?P<name>[a-z_]+)(?::(?P<seconds>[0-9]+(?:\.[0-9]+)?))?")


def parse_outcome(text: str) -> tuple[str, float | None]:
    """Split ``transient:2.5`` into its name and seconds; ValueError on an unknown outcome."""
    match = _OUTCOME.fullmatch(text)
    if match is None or match["name"] not in OUTCOMES:
        raise ValueError(f"未知的脚本结果 / unknown scripted outcome {text!r}; known: {OUTCOMES}")
    seconds = match["seconds"]
    if seconds is not None and match["name"] not in ("transient", "rate_limited"):
        raise ValueError(
            f"只有 transient 和 rate_limited 带秒数 / only those two take seconds: {text!r}"
        )
    return match["name"], None if seconds is None else float(seconds)


class MemorySettings(ChannelSettings):
    """Settings of a memory channel: its failure script, its title limit, a dummy secret."""

    fail_script: list[str] = Field(default_factory=list)
    max_title_chars: int = Field(64, ge=1, le=10_000)
    token: SecretStr | None = None

    @field_validator("fail_script")
    @classmethod
    def _known_outcomes(cls, value: list[str]) -> list[str]:
        for text in value:
            parse_outcome(text)
        return value


class MemoryStore:
    """Process-wide state of every memory channel, by channel name; safe across threads."""

    _lock: ClassVar[threading.Lock] = threading.Lock()
    _published: ClassVar[dict[str, list[dict[str, Any]]]] = {}
    _receipts: ClassVar[dict[str, dict[str, Receipt]]] = {}
    _scripts: ClassVar[dict[str, deque[str]]] = {}
    _seeded: ClassVar[set[str]] = set()
    _retracted: ClassVar[dict[str, list[str]]] = {}
    _follow_ups: ClassVar[dict[str, list[dict[str, Any]]]] = {}
    _unfindable: ClassVar[set[tuple[str, str]]] = set()

    @classmethod
    def reset(cls) -> None:
        """Forget everything (call between tests)."""
        with cls._lock:
            for table in (cls._published, cls._receipts, cls._scripts, cls._retracted,
                          cls._follow_ups):
                table.clear()
            cls._seeded.clear()
            cls._unfindable.clear()

    @classmethod
    def script(cls, name: str, outcomes: list[str]) -> None:
        """Queue outcomes for the next ``send`` calls of channel ``name``."""
        for text in outcomes:
            parse_outcome(text)
        with cls._lock:
            cls._scripts.setdefault(name, deque()).extend(outcomes)

    @classmethod
    def seed(cls, name: str, outcomes: list[str]) -> None:
        """Queue a channel's configured ``fail_script`` once per process (not per instance)."""
        with cls._lock:
            if name in cls._seeded:
                return
            cls._seeded.add(name)
            cls._scripts.setdefault(name, deque()).extend(outcomes)

    @classmethod
    def next_outcome(cls, name: str) -> str:
        """The next scripted outcome, ``ok`` when the script is empty."""
        with cls._lock:
            queue = cls._scripts.get(name)
            return queue.popleft() if queue else "ok"

    @classmethod
    def published(cls, name: str) -> list[dict[str, Any]]:
        """Every publication of channel ``name``, in order, duplicates included (copies)."""
        with cls._lock:
            return copy.deepcopy(cls._published.get(name, []))

    @classmethod
    def retracted(cls, name: str) -> list[str]:
        """Remote ids retracted on channel ``name``."""
        with cls._lock:
            return list(cls._retracted.get(name, []))

    @classmethod
    def follow_ups(cls, name: str) -> list[dict[str, Any]]:
        """Follow-ups attached on channel ``name``."""
        with cls._lock:
            return copy.deepcopy(cls._follow_ups.get(name, []))

    @classmethod
    def record(
        cls, name: str, key: str, payload: Payload, receipt_of: Callable[[int], Receipt]
    ) -> Receipt:
        """Store one publication; ``receipt_of(sequence)`` builds its receipt."""
        with cls._lock:
            rows = cls._published.setdefault(name, [])
            receipt = receipt_of(len(rows) + 1)
            rows.append({"key": key, "remote_id": receipt.remote_id, **copy.deepcopy(
                dict(payload.data))})
            cls._receipts.setdefault(name, {}).setdefault(key, receipt)
            return receipt

    @classmethod
    def lookup(cls, name: str, key: str) -> Receipt | None:
        """The first receipt recorded for ``key`` on channel ``name``."""
        with cls._lock:
            return cls._receipts.get(name, {}).get(key)

    @classmethod
    def lose(cls, name: str, key: str) -> None:
        """From now on ``find`` cannot tell whether ``key`` landed (NotSupported)."""
        with cls._lock:
            cls._unfindable.add((name, key))

    @classmethod
    def findable(cls, name: str, key: str) -> bool:
        with cls._lock:
            return (name, key) not in cls._unfindable

    @classmethod
    def knows(cls, name: str, remote_id: str) -> bool:
        with cls._lock:
            return any(r["remote_id"] == remote_id for r in cls._published.get(name, []))

    @classmethod
    def note_retract(cls, name: str, remote_id: str) -> None:
        with cls._lock:
            cls._retracted.setdefault(name, []).append(remote_id)

    @classmethod
    def note_follow_up(cls, name: str, remote_id: str, payload: Payload) -> None:
        with cls._lock:
            cls._follow_ups.setdefault(name, []).append(
                {"remote_id": remote_id, **copy.deepcopy(dict(payload.data))}
            )


class MemoryChannel(Channel[MemorySettings]):
    """A channel that publishes into memory; for tests, demos and drills without remotes."""

    kind: ClassVar[str] = KIND
    platform_zh: ClassVar[str] = "测试渠道"
    platform_en: ClassVar[str] = "test channel"
    limits: ClassVar[Limits] = Limits(title_max_chars=64)
    settings_model: ClassVar[type[ChannelSettings]] = MemorySettings
    body_format: ClassVar[str] = "text"
    template_ext: ClassVar[str] = "txt"

    def __init__(self, name: str, settings: MemorySettings, context: ChannelContext) -> None:
        super().__init__(name, settings, context)
        MemoryStore.seed(name, settings.fail_script)

    def prepare(self, message: Message) -> Payload:
        """Pure: the title must be present and within ``max_title_chars``."""
        limit = self.settings.max_title_chars
        if not message.title.strip():
            raise ContentRejected(
                "标题不能为空 / title must not be empty",
                field="title", limit="non-empty", remote_message="memory: title_empty",
                explanation_zh="标题不能为空", explanation_en="the title must not be empty",
            )
        if len(message.title) > limit:
            raise ContentRejected(
                f"标题过长 / title too long ({len(message.title)} > {limit})",
                field="title", limit=f"<= {limit} characters", remote_message="memory: title_long",
                explanation_zh=f"标题超过 {limit} 字", explanation_en=f"the title exceeds {limit}",
            )
        return Payload(kind=KIND, data={
            "title": message.title,
            "body": message.body,
            "metadata": dict(message.metadata),
            "attachments": [a.name for a in message.attachments],
            "release_key": message.release_key,
            "urgent": message.urgent,
        })

    def send(self, payload: Payload, key: str) -> Receipt:
        """Record the publication, or raise the next scripted failure."""
        name, seconds = parse_outcome(MemoryStore.next_outcome(self.name))
        if name == "ok":
            return self._record(key, payload)
        if name == "already_published":
            earlier = MemoryStore.lookup(self.name, key) or self._record(key, payload)
            raise AlreadyPublished(
                "重复发布 / duplicate: already published", receipt=earlier,
                **_explained("already_published", "该信息此前已发布", "this was published before"),
            )
        if name == "outcome_unknown":
            self._record(key, payload)  # it landed, but the answer was lost
        if name == "lost":
            MemoryStore.lose(self.name, key)  # the answer was lost and nobody can look it up
        raise _scripted_error(name, seconds)

    def find(self, key: str, payload: Payload) -> Receipt | None:
        """The first receipt recorded under ``key``, else None; NotSupported after ``lost``."""
        if not MemoryStore.findable(self.name, key):
            raise NotSupported(
                "memory: this delivery cannot be looked up",
                **_explained("lost", "渠道无法查询此前是否已发布，需人工核对",
                             "the channel cannot tell whether it already published"))
        return MemoryStore.lookup(self.name, key)

    def retract(self, receipt: Receipt, payload: Payload | None = None) -> None:
        """Note the retraction; PermanentChannelError for an id never published."""
        if not MemoryStore.knows(self.name, receipt.remote_id):
            raise PermanentChannelError(
                f"没有这条信息 / no such item: {receipt.remote_id}",
                **_explained("not_found", "渠道中找不到这条信息", "the channel has no such item"),
            )
        MemoryStore.note_retract(self.name, receipt.remote_id)

    def follow_up(self, receipt: Receipt, payload: Payload) -> Receipt:
        """Note the follow-up and return the original receipt."""
        if not MemoryStore.knows(self.name, receipt.remote_id):
            raise PermanentChannelError(
                f"没有这条信息 / no such item: {receipt.remote_id}",
                **_explained("not_found", "渠道中找不到这条信息", "the channel has no such item"),
            )
        MemoryStore.note_follow_up(self.name, receipt.remote_id, payload)
        return receipt

    def _record(self, key: str, payload: Payload) -> Receipt:
        at = self.context.clock()
        return MemoryStore.record(
            self.name, key, payload,
            lambda seq: Receipt(
                remote_id=f"{self.name}-{seq}",
                url=f"memory://{self.name}/{seq}",
                published_at=at,
                details={"key": key},
            ),
        )


def _explained(code: str, zh: str, en: str) -> dict[str, Any]:
    return {"code": code, "remote_message": f"memory: {code}", "explanation_zh": zh,
            "explanation_en": en}


def _scripted_error(name: str, seconds: float | None) -> ChannelError:
    """The error a scripted outcome stands for, with its code and both explanations."""
    if name == "transient":
        return TransientChannelError(
            "暂时失败 / transient failure", retry_after=seconds,
            **_explained("transient", "渠道暂时不可用，稍后重试", "the channel is busy; retry"),
        )
    if name == "rate_limited":
        return RateLimited(
            "频率受限 / rate limited", retry_after=seconds,
            **_explained("rate_limited", "发送过于频繁，稍后重试", "sent too often; wait"),
        )
    if name == "auth_expired":
        return AuthExpired(
            "凭据过期 / credentials expired",
            **_explained("auth_expired", "登录凭据已过期，需刷新", "credentials expired; refresh"),
        )
    if name == "permanent":
        return PermanentChannelError(
            "永久失败 / permanent failure",
            **_explained("permanent", "渠道拒绝了请求，重试无用", "the channel refused for good"),
        )
    if name == "content_rejected":
        return ContentRejected(
            "内容被拒 / content rejected", field="body", limit="scripted",
            **_explained("content_rejected", "渠道拒绝了内容", "the channel rejected the content"),
        )
    if name == "configuration":
        return ConfigurationError(
            "配置错误 / configuration error",
            **_explained("configuration", "渠道设置有误", "the channel settings are wrong"),
        )
    if name == "outcome_unknown":
        return OutcomeUnknown(
            "结果未知 / outcome unknown",
            **_explained("outcome_unknown", "请求已发出但无应答，需核对",
                         "the request left but no answer came; reconcile"),
        )
    if name == "lost":
        return OutcomeUnknown(
            "应答丢失 / answer lost",
            **_explained("lost", "请求已发出但应答丢失，且无法查询，需人工核对",
                         "the answer was lost and the channel cannot look it up"))
    if name == "timeout":
        return OutcomeUnknown(
            "超时 / timed out",
            **_explained("timeout", "请求超时，结果未知，需核对", "timed out; outcome unknown"),
        )
    raise AssertionError(name)  # parse_outcome admits nothing else
