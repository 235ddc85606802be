"""The CAP 1.2 alert document of each step of an incident, and its place in the portal payload."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from channels.base import Payload
from publisher.cap import (
    CapAlert,
    CapArea,
    CapInfo,
    CapInvalid,
    CapReference,
    cap_time,
    to_xml,
    validate,
)
from publisher.config import UrgentConfig
from publisher.release import slug_of
from publisher.severity import CapSeverity

CAP_KINDS = ("portal",)  # the kinds that publish the CAP document (in their CAP Atom feed)


def identifier_of(section: UrgentConfig, release_key: str) -> str:
    """``<sender>.<release slug>``: unique per sender, and a safe file name on the portal."""
    return f"{section.sender}.{slug_of(release_key)}"


def cap_severity(section: UrgentConfig, level: str) -> CapSeverity:
    """The CAP severity of an incident's grade, as ``urgent.cap_severity`` maps it."""
    found = next((cap for grade, cap in section.cap_severity.items() if grade == level), None)
    if found is None:
        raise CapInvalid([f"severity: “{level}” 不是事件等级 / is no incident grade "
                          f"({', '.join(section.cap_severity)})"])
    return found


def build(section: UrgentConfig, *, release_key: str, incident_key: str, sent: datetime,
          status: str, msg_type: str, context: dict[str, Any],
          earlier: list[dict[str, str]]) -> dict[str, str]:
    """The step's CAP document, checked against the CAP 1.2 schema; returns what the release
    keeps and the portal publishes: identifier, sent, msg_type, headline and the XML.

    ``earlier`` lists the incident's earlier documents (identifier and sent); an Update
    references every one still valid, a Cancel every one it withdraws.
    """
    urgent = context["urgent"]
    sent = sent.replace(microsecond=0)
    description = urgent.get("facts") or urgent.get("reason") or ""
    if urgent.get("correction"):
        description = f"更正：{urgent['correction']}\n{description}"
    note = {"Cancel": urgent.get("reason"), "Update": urgent.get("correction")}.get(msg_type)
    if status in ("Exercise", "Test"):
        note = "演练 / exercise" + (f": {note}" if note else "")
    alert = CapAlert(
        identifier=identifier_of(section, release_key),
        sender=section.sender,
        sent=sent,
        status=status,  # type: ignore[arg-type]
        msg_type=msg_type,  # type: ignore[arg-type]
        note=note,
        references=[CapReference(section.sender, e["identifier"], datetime.fromisoformat(e["sent"]))
                    for e in earlier],
        incidents=incident_key,
        infos=[CapInfo(
            categories=(urgent.get("category") or "Safety",),
            event=urgent.get("event") or context["incident"]["title"],
            urgency="Past" if msg_type == "Cancel" else "Immediate",
            severity=cap_severity(section, urgent["severity"]),
            certainty="Observed",
            sender_name=section.issuing_organ,
            headline=urgent["title"][:160],
            description=description,
            instruction=urgent.get("instruction"),
            areas=[CapArea(area_desc=urgent["area"])],
        )],
    )
    xml = to_xml(alert)
    validate(xml)
    return {"identifier": alert.identifier, "sent": cap_time(sent), "msg_type": msg_type,
            "headline": urgent["title"][:160], "xml": xml}


def attach(kind: str, payload: Payload, document: dict[str, str]) -> Payload:
    """The payload with the CAP document, for the kinds that publish it."""
    if kind not in CAP_KINDS:
        return payload
    return replace(payload, data={**payload.data, "cap": dict(document)})


__all__ = ["CAP_KINDS", "CapInvalid", "attach", "build", "cap_severity", "identifier_of"]
