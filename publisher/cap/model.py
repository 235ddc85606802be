"""The CAP 1.2 alert as data: alert, info, area and reference, with CAP's time format."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from publisher.errors import PublisherError

NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"
media_type = "application/cap+xml"

Status = Literal["Actual", "Exercise", "System", "Test", "Draft"]
MsgType = Literal["Alert", "Update", "Cancel", "Ack", "Error"]
Scope = Literal["Public", "Restricted", "Private"]
Category = Literal["Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env",
                   "Transport", "Infra", "CBRNE", "Other"]
ResponseType = Literal["Shelter", "Evacuate", "Prepare", "Execute", "Avoid", "Monitor",
                       "Assess", "AllClear", "None"]
Urgency = Literal["Immediate", "Expected", "Future", "Past", "Unknown"]
Severity = Literal["Extreme", "Severe", "Moderate", "Minor", "Unknown"]
Certainty = Literal["Observed", "Likely", "Possible", "Unlikely", "Unknown"]


class CapInvalid(PublisherError):
    """A CAP document (or the alert it was made from) breaks CAP 1.2; ``problems`` says where."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        listing = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"CAP 1.2 文档无效 / invalid CAP 1.2 document:\n{listing}")


def cap_time(moment: datetime, field: str = "sent") -> str:
    """A CAP timestamp ``YYYY-MM-DDThh:mm:ss±hh:mm``, to the second; UTC is written ``-00:00``."""
    offset = moment.utcoffset()
    if offset is None:
        raise CapInvalid([f"{field}: {moment.isoformat()} has no time zone; CAP needs an offset"])
    if offset % timedelta(minutes=1):
        raise CapInvalid([f"{field}: offset {offset} is not a whole number of minutes"])
    stamp = moment.isoformat(timespec="seconds")
    return stamp[:-6] + "-00:00" if offset == timedelta(0) else stamp


@dataclass(frozen=True)
class CapReference:
    """An earlier message that an Update or Cancel refers to: its sender, identifier and sent."""

    sender: str
    identifier: str
    sent: datetime

    @property
    def text(self) -> str:
        """The ``sender,identifier,sent`` triple as written in ``<references>``."""
        return f"{self.sender},{self.identifier},{cap_time(self.sent, 'references')}"


@dataclass(frozen=True, kw_only=True)
class CapArea:
    """An affected area: its description and, optionally, geocodes as (valueName, value)."""

    area_desc: str
    geocodes: Sequence[tuple[str, str]] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "geocodes", tuple((n, v) for n, v in self.geocodes))


@dataclass(frozen=True, kw_only=True)
class CapInfo:
    """One ``<info>`` block (one language) of an alert; fields in CAP 1.2 schema order."""

    language: str = "zh-CN"
    categories: Sequence[Category] = ("Safety",)
    event: str
    response_type: ResponseType | None = None
    urgency: Urgency
    severity: Severity
    certainty: Certainty
    expires: datetime | None = None
    sender_name: str
    headline: str
    description: str
    instruction: str | None = None
    web: str | None = None
    contact: str | None = None
    areas: Sequence[CapArea] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "categories", tuple(self.categories))
        object.__setattr__(self, "areas", tuple(self.areas))
        if self.expires is not None:
            cap_time(self.expires, "info.expires")


@dataclass(frozen=True, kw_only=True)
class CapAlert:
    """A CAP 1.2 ``<alert>``: Alert opens an incident; Update and Cancel reference earlier ones."""

    identifier: str
    sender: str
    sent: datetime
    status: Status
    msg_type: MsgType
    scope: Scope = "Public"
    restriction: str | None = None  # required when scope is Restricted
    addresses: str | None = None  # required when scope is Private
    note: str | None = None
    references: Sequence[CapReference] = ()
    incidents: str | None = None
    infos: Sequence[CapInfo]

    def __post_init__(self) -> None:
        object.__setattr__(self, "references", tuple(self.references))
        object.__setattr__(self, "infos", tuple(self.infos))
        cap_time(self.sent)
        for reference in self.references:
            cap_time(reference.sent, "references")
        if not self.infos:
            raise CapInvalid(["info: an alert of the bot carries at least one <info> block"])


def reference_of(alert: CapAlert) -> CapReference:
    """How a later Update or Cancel refers to ``alert``."""
    return CapReference(sender=alert.sender, identifier=alert.identifier, sent=alert.sent)
