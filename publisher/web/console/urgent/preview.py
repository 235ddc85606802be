"""What each channel would publish, as staff read it: its text, its lengths against limits, its problem."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from channels.base import Payload
from channels.wechat import content as wechat_content
from channels.weibo.text import Counter
from publisher.app import App
from publisher.scan import Finding
from publisher.urgent import (
    Draft,
    IncidentClosed,
    IncidentNotFound,
    UrgentCancel,
    UrgentPost,
    UrgentRejected,
    UrgentUpdate,
    draft_of,
    prepare,
    preview_step,
    screen,
    urgent_config,
)

# A channel's problem as the core words it: "<channel>: <message> (field F, limit L)".
_LOCATED = re.compile(r"^(?P<message>.*) \(field (?P<field>[^,()]+), limit (?P<limit>.*)\)$",
                      re.DOTALL)
TEXT_KEYS = ("status", "text", "body", "body_html", "content")


@dataclass(frozen=True)
class Measure:
    """One length of a message against its limit (``under``: the limit must not be reached)."""

    name: str  # what is measured: words are t("urgent.measure.<name>")
    used: int
    limit: int | None
    unit: str = "chars"  # t("urgent.unit.<unit>")
    under: bool = False

    @property
    def ok(self) -> bool:
        if self.limit is None:
            return True
        return self.used < self.limit if self.under else self.used <= self.limit

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "used": self.used, "limit": self.limit, "unit": self.unit,
                "ok": self.ok}


@dataclass(frozen=True)
class ChannelPreview:
    """One channel's message of a step, or the problem that keeps it from going out."""

    channel: str
    kind: str
    action: str = "send"  # send | follow_up | retract
    title: str = ""
    text: str = ""
    measures: tuple[Measure, ...] = ()
    problem: str | None = None
    field: str | None = None
    limit: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"channel": self.channel, "kind": self.kind, "action": self.action,
                "title": self.title, "text": self.text,
                "measures": [m.to_json() for m in self.measures],
                "problem": self.problem, "field": self.field, "limit": self.limit}


@dataclass(frozen=True)
class Previews:
    """A step's previews, the problems that belong to no one channel, and skipped channels."""

    channels: list[ChannelPreview]
    problems: list[str]
    skipped: list[str]
    draft: Draft | None = None  # what the confirmation hands back (when every channel is ok)
    findings: list[Finding] = field(default_factory=list)  # the content checks'

    @property
    def stopping(self) -> list[Finding]:
        """Findings that stop the step until an approver overrides this preview."""
        return screen.stopping(self.findings)

    @property
    def ok(self) -> bool:
        return not self.problems and all(p.problem is None for p in self.channels)


def _plain(value: str) -> str:
    return wechat_content.plain_text(value) if "<" in value else value.strip()


def measures(app: App, name: str, payload: Payload, *, drill: bool = False
             ) -> tuple[Measure, ...]:
    """The lengths that a channel of this kind limits, measured as the channel measures them."""
    channel = app.channel(name, drill=drill)
    data = payload.data
    if payload.kind == "weibo":
        settings: Any = channel.settings
        status = str(data.get("status", ""))
        if data.get("comment"):
            counter = Counter(limit=channel.limits.comment_max_chars,  # type: ignore[attr-defined]
                              https_as_link=settings.https_counts_as_link)
            return (Measure("comment", counter.length(status), counter.limit, "weibo_chars"),)
        counter = Counter(limit=settings.limit, https_as_link=settings.https_counts_as_link)
        return (Measure("weibo_status", counter.length(status), counter.limit, "weibo_chars"),)
    if payload.kind == "wechat":
        return (Measure("title", len(str(data.get("title", ""))), wechat_content.TITLE_MAX_CHARS),
                Measure("digest", len(str(data.get("digest", "")).encode("utf-8")),
                        wechat_content.DIGEST_MAX_BYTES, "bytes"),
                Measure("content", len(str(data.get("content", ""))),
                        wechat_content.CONTENT_MAX_CHARS, under=True))
    found: list[Measure] = []
    if "title" in data:
        limit = getattr(channel.settings, "max_title_chars", None) or channel.limits.title_max_chars
        found.append(Measure("title", len(str(data["title"])), limit))
    body = next((str(data[k]) for k in TEXT_KEYS if isinstance(data.get(k), str)), None)
    if body is not None and channel.limits.body_max_chars:
        found.append(Measure("body", len(body), channel.limits.body_max_chars))
    return tuple(found)


def shown(app: App, name: str, payload: Payload, *, action: str = "send",
          drill: bool = False) -> ChannelPreview:
    """A prepared payload as staff read it: its title, its text, its measures."""
    data = payload.data
    body = next((str(data[k]) for k in TEXT_KEYS if isinstance(data.get(k), str)), "")
    title = str(data.get("title", "")) if payload.kind != "weibo" else ""
    return ChannelPreview(name, payload.kind, action, title, _plain(body),
                          measures(app, name, payload, drill=drill))


def refused(app: App, name: str, problem: str, *, action: str = "send") -> ChannelPreview:
    """A channel whose message cannot go out: the core's problem, its field and limit apart."""
    message = problem.removeprefix(f"{name}: ")
    located = _LOCATED.match(message)
    kind = app.loaded.config.channels[name].kind
    if located is None:
        return ChannelPreview(name, kind, action, problem=message)
    return ChannelPreview(name, kind, action, problem=located["message"],
                          field=located["field"], limit=located["limit"])


def first_report(app: App, post: UrgentPost, now: datetime) -> Previews:
    """Each chosen channel's first report, prepared one channel at a time so that every channel
    shows its own message or its own problem; nothing is recorded."""
    try:
        section = urgent_config(app)
    except UrgentRejected as exc:
        return Previews([], exc.problems, [])
    names = post.channels or section.channels
    unknown = [n for n in names if n not in app.loaded.config.channels]
    if unknown:
        return Previews([], [f"未定义的渠道 / unknown channel(s): {', '.join(unknown)}"], [])
    skipped = [n for n in names if not app.enabled(n)]
    enabled = [n for n in names if app.enabled(n)]
    if not enabled:
        return Previews([], ["没有可用的渠道 / none of these channels is enabled: "
                             + ", ".join(names)], skipped)
    found: list[ChannelPreview] = []
    prepared: dict[str, Payload] = {}
    context: dict[str, Any] = {}
    for name in enabled:
        try:
            context, payloads, _skipped = prepare(
                app, post.model_copy(update={"channels": [name]}), now)
        except UrgentRejected as exc:
            found += [refused(app, name, problem) for problem in exc.problems]
        else:
            prepared[name] = payloads[name]
            found.append(shown(app, name, payloads[name], drill=post.drill))
    ok = len(prepared) == len(enabled)
    if not ok:
        return Previews(found, [], skipped)
    try:
        findings = screen.findings_of(app, [(n, "send", p) for n, p in prepared.items()])
    except UrgentRejected as exc:  # a list cannot be used
        return Previews(found, exc.problems, skipped)
    return Previews(found, [], skipped, draft_of(context, prepared, now), findings)


def later_step(app: App, incident_key: str, step: UrgentUpdate | UrgentCancel, *,
               drill: bool, now: datetime) -> Previews:
    """What an update, correction or withdrawal would send, planned exactly as it will be.
    The core prepares a later step all at once: a refusal lists every channel's problem."""
    try:
        planned = preview_step(app, incident_key, step, at=now)
    except (IncidentNotFound, IncidentClosed):
        raise
    except UrgentRejected as exc:
        named = [(n, p) for p in exc.problems
                 for n in app.loaded.config.channels if p.startswith(f"{n}: ")]
        general = [p for p in exc.problems if not any(p == q for _n, q in named)]
        return Previews([refused(app, n, p) for n, p in named], general, [])
    return Previews([shown(app, item.channel, payload, action=item.action, drill=drill)
                     for item, payload in planned.prepared], [], [], planned.draft,
                    planned.findings)
