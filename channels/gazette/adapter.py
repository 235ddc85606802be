"""The gazette channel: each delivery queues an item for the next issue, published when it is."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from channels.base import (
    Channel,
    ChannelContext,
    ChannelSettings,
    ConfigurationError,
    Limits,
    Message,
    Payload,
    Receipt,
)
from channels.gazette.issue import Gazette, dequeue, enqueue, upcoming, verify
from channels.gazette.page import Section
from channels.gazette.state import (
    DOCUMENT,
    ERRATA_SECTION,
    INTERPRETATION,
    GazetteItem,
    GazetteState,
    load_state,
)
from channels.portal.adapter import base_url_problem
from channels.portal.content import NAME_PATTERN, check_date
from channels.portal.errors import os_error, payload_invalid, rejected
from channels.portal.site import SiteInfo

KIND = "gazette"
DEFAULT_SECTIONS = (
    ("rules", "市政府规章"), ("government", "市政府文件"), ("general-office", "市政府办公厅文件"),
    ("departments", "部门文件"), ("interpretations", "政策解读"), ("appointments", "人事任免"),
)
ITEM_FIELDS = ("section", "title", "organ", "signed_date", "published_date", "body_html",
               "doc_no", "effective_date", "kind", "slug", "paired_with", "release_key")


class SectionSettings(BaseModel):
    """One section (栏目) of the gazette: an id for config and a name for readers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=NAME_PATTERN.pattern, max_length=40)
    name: str = Field(min_length=1, max_length=40)


class GazetteSettings(ChannelSettings):
    """The gazette and the portal site its issues are published in."""

    gazette_name: str = Field(min_length=1, max_length=60)  # 某市人民政府公报
    site_name: str = Field(min_length=1, max_length=100)  # the portal's, as in its settings
    site_dir: str = Field(min_length=1)  # the portal's site_dir
    base_url: str  # the portal's base_url
    author: str | None = None
    column_name: str = Field(default="政府公报", min_length=1, max_length=50)
    sections: tuple[SectionSettings, ...] = tuple(
        SectionSettings(id=i, name=n) for i, n in DEFAULT_SECTIONS)
    section_by_release: dict[str, str] = Field(default_factory=dict)  # definition id -> section
    default_section: str = "departments"
    publication_days: tuple[int, ...] = (5, 20)  # days of the month; semi-monthly by default
    compile_at: str = Field(default="09:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")  # local
    first_issue_no: int = Field(default=1, ge=1)  # the first compiled issue's number in its year
    first_total_no: int = Field(default=1, ge=1)  # ... and its running total (总第…期)
    pdf: bool = False  # also render each issue as PDF (WeasyPrint, CJK fonts)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        problem = base_url_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("publication_days")
    @classmethod
    def _days(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(not 1 <= d <= 28 for d in value):
            raise ValueError("出版日须为 1–28 日 / publication days must be 1..28")
        return tuple(sorted(set(value)))

    @model_validator(mode="after")
    def _known_sections(self) -> GazetteSettings:
        ids = [s.id for s in self.sections]
        if len(set(ids)) != len(ids) or ERRATA_SECTION in ids:
            raise ValueError(f"栏目标识须唯一且不能为 {ERRATA_SECTION} / section ids must be "
                             f"unique and not {ERRATA_SECTION!r}")
        for used in (self.default_section, *self.section_by_release.values()):
            if used not in ids:
                raise ValueError(f"未配置的栏目 / unknown section {used!r}; known: {ids}")
        return self



class GazetteChannel(Channel[GazetteSettings]):
    """The government gazette (政府公报): items queue for the next numbered, immutable issue."""

    kind: ClassVar[str] = KIND
    platform_zh: ClassVar[str] = "政府公报"
    platform_en: ClassVar[str] = "government gazette"
    limits: ClassVar[Limits] = Limits(title_max_chars=200, body_max_chars=500_000)
    settings_model: ClassVar[type[ChannelSettings]] = GazetteSettings
    body_format: ClassVar[str] = "html"
    template_ext: ClassVar[str] = "html"
    takes_urgent: ClassVar[bool] = False  # the gazette is never the urgent channel
    check_offline: ClassVar[bool] = True  # check() verifies published files' SHA-256

    def __init__(self, name: str, settings: GazetteSettings, context: ChannelContext) -> None:
        super().__init__(name, settings, context)
        site_dir = Path(settings.site_dir)
        self.gazette = Gazette(
            site_dir=site_dir if site_dir.is_absolute() else context.work_dir / site_dir,
            site=SiteInfo(settings.site_name, settings.base_url,
                          settings.author or settings.site_name, context.zone),
            gazette_name=settings.gazette_name, column_name=settings.column_name,
            sections=tuple(Section(s.id, s.name) for s in settings.sections),
            publication_days=settings.publication_days, first_issue_no=settings.first_issue_no,
            first_total_no=settings.first_total_no, pdf=settings.pdf)

    # ------------------------------------------------------------------ contract

    def prepare(self, message: Message) -> Payload:
        """Pure: title, body, organ and dates checked; the section resolved from the settings."""
        if message.body_format != "html":
            raise rejected("body_format", "html", "公报模板须生成 HTML",
                           f"the gazette needs an html body, got {message.body_format!r}")
        title = message.title.strip()
        max_title = self.limits.title_max_chars or 200
        if not title or len(title) > max_title:
            raise rejected("title", f"1..{max_title} characters", "标题为空或过长",
                           "the title is empty or too long")
        if not message.body.strip() or len(message.body) > (self.limits.body_max_chars or 0):
            raise rejected("body", f"1..{self.limits.body_max_chars} characters",
                           "正文为空或过长", "the body is empty or too long")
        meta = message.metadata
        organ = meta.get("issuing_organ", "").strip()
        if not organ:
            raise rejected("metadata.issuing_organ", "required", "缺少发布机关",
                           "the issuing organ is missing")
        signed = check_date("metadata.signed_date", meta.get("signed_date", ""), "成文日期")
        published = check_date("metadata.published_date", meta.get("published_date", ""),
                                "公布日期")
        effective = meta.get("effective_date", "")
        if effective:
            check_date("metadata.effective_date", effective, "施行日期")
        kind = meta.get("gazette_kind", DOCUMENT)
        if kind not in (DOCUMENT, INTERPRETATION):
            raise rejected("metadata.gazette_kind", "document | interpretation",
                           f"公报条目类型无效：{kind!r}", f"unknown gazette item kind {kind!r}")
        section = self._section(message, kind)
        return Payload(kind=KIND, data={
            "section": section, "title": title, "organ": organ, "signed_date": signed,
            "published_date": published, "body_html": message.body,
            "doc_no": meta.get("document_number", ""), "effective_date": effective,
            "kind": kind, "slug": meta.get("slug", ""), "paired_with": meta.get("paired_with", ""),
            "release_key": message.release_key,
        })

    def send(self, payload: Payload, key: str) -> Receipt:
        """Queue the item for the next issue (idempotent on the key); pending until published."""
        item = self._item(payload, key)
        with self._disk("加入待出版队列", "queueing the item"):
            state = enqueue(self.gazette, item, self._now())
        receipt = self._receipt(key, state)
        assert receipt is not None
        return receipt

    def status(self, receipt: Receipt) -> Receipt:
        """Published once its issue is; until then pending, naming the issue it is queued for."""
        with self._disk("读取公报状态", "reading the gazette state"):
            state = load_state(self.gazette.site_dir)
        return self._receipt(receipt.remote_id, state) or receipt

    def find(self, key: str, payload: Payload) -> Receipt | None:
        """The item's receipt when it is queued or published."""
        with self._disk("读取公报状态", "reading the gazette state"):
            state = load_state(self.gazette.site_dir)
        return self._receipt(key, state)

    def retract(self, receipt: Receipt, payload: Payload | None = None) -> None:
        """Take a queued item out; a published text is immutable (correct it by an erratum)."""
        with self._disk("撤出待出版队列", "removing the queued item"):
            dequeue(self.gazette, receipt.remote_id)

    def check(self) -> list[str]:
        """Problems with base_url, and published files whose SHA-256 no longer matches."""
        problems = []
        url_problem = base_url_problem(self.gazette.site.base_url)
        if url_problem:
            problems.append(url_problem)
        with self._disk("校验已出版公报", "verifying published issues"):
            problems.extend(f"公报文件与出版时不符 / gazette file altered: {p}"
                            for p in verify(self.gazette.site_dir))
        return problems

    # ------------------------------------------------------------------ helpers

    def _section(self, message: Message, kind: str) -> str:
        ids = [s.id for s in self.gazette.sections]
        explicit = message.metadata.get("gazette_section")
        if explicit:
            if explicit not in ids:
                raise rejected("metadata.gazette_section", f"one of {ids}",
                               f"公报栏目未配置：{explicit!r}", f"unknown gazette section {explicit!r}")
            return explicit
        if kind == INTERPRETATION and "interpretations" in ids:
            return "interpretations"
        return self.settings.section_by_release.get(message.definition_id,
                                                    self.settings.default_section)

    def _item(self, payload: Payload, key: str) -> GazetteItem:
        if payload.kind != KIND:
            raise payload_invalid(f"kind is {payload.kind!r}, not {KIND!r}")
        try:
            values = {name: payload.data[name] for name in ITEM_FIELDS}
        except (KeyError, TypeError) as exc:
            raise payload_invalid(f"{type(exc).__name__}: {exc}") from exc
        if not all(isinstance(v, str) for v in values.values()):
            raise payload_invalid("every field must be text")
        return GazetteItem(item_id=key, **values)

    def _receipt(self, key: str, state: GazetteState) -> Receipt | None:
        found = state.published(key)
        if found is not None:
            issue, item = found
            return Receipt(
                remote_id=key, url=f"{self.gazette.site.base_url}{issue.path}#{item.anchor}",
                published_at=datetime.fromisoformat(issue.published_at),
                details={"state": "published", "issue": issue.number.full_label,
                         "issue_slug": issue.slug, "anchor": item.anchor})
        if state.queued(key) is None:
            return None
        number, when = upcoming(self.gazette, state, self._now().date())
        return Receipt(remote_id=key, pending=True, details={
            "state": "queued", "queued_for": number.label, "queued_for_en": number.label_en,
            "queued_for_date": when.isoformat()})

    def _now(self) -> datetime:
        moment = self.context.clock()
        if moment.tzinfo is None:
            raise ConfigurationError("时钟须带时区 / the clock must return aware times",
                                     code="naive_clock")
        return moment.astimezone(self.context.zone)  # its dates are the readers' dates

    @contextlib.contextmanager
    def _disk(self, action_zh: str, action_en: str) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            raise os_error(exc, action_zh, action_en, self.gazette.site_dir) from exc

