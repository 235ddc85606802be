"""Tests of CAP 1.2 documents: written from alerts, checked against the shipped OASIS schema."""

from __future__ import annotations

import hashlib
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import xmlschema

from publisher.cap import (
    NAMESPACE,
    SCHEMA_PATH,
    CapAlert,
    CapArea,
    CapInfo,
    CapInvalid,
    CapReference,
    cap_time,
    media_type,
    reference_of,
    schema,
    to_xml,
    validate,
)

ROOT = Path(__file__).resolve().parent.parent
# SHA-256 of https://docs.oasis-open.org/emergency/cap/v1.2/CAP-v1.2.xsd (10 098 bytes).
OASIS_SHA256 = "b7798ef25868b068c97b268bda02d067c7d4ba9373adc5638bf37105804ee723"
SHANGHAI = timezone(timedelta(hours=8))
SENDER = "www.example.gov.cn"
C = f"{{{NAMESPACE}}}"


def _info(**overrides: Any) -> CapInfo:
    values: dict[str, Any] = {
        "event": "桥梁垮塌",
        "urgency": "Immediate",
        "severity": "Severe",
        "certainty": "Observed",
        "sender_name": "某市人民政府新闻办公室",
        "headline": "某高架桥发生垮塌",
        "description": "今日9时40分，某高架桥一段桥面垮塌，现场已封闭。",
        "instruction": "请绕行。",
        "web": "http://portal.example.gov.cn/news/urgent-2026-0001.html",
        "contact": "12345",
        "areas": [CapArea(area_desc="某区某高架桥", geocodes=[("GB/T 2260", "110105")])],
    }
    values.update(overrides)
    return CapInfo(**values)


def _alert(**overrides: Any) -> CapAlert:
    values: dict[str, Any] = {
        "identifier": "www.example.gov.cn.urgent-2026-0001",
        "sender": SENDER,
        "sent": datetime(2026, 12, 2, 9, 45, tzinfo=SHANGHAI),
        "status": "Actual",
        "msg_type": "Alert",
        "infos": [_info()],
    }
    values.update(overrides)
    return CapAlert(**values)


def _incident() -> tuple[CapAlert, CapAlert, CapAlert]:
    first = _alert()
    update = _alert(identifier="www.example.gov.cn.urgent-2026-0001.u1",
                    sent=datetime(2026, 12, 2, 10, 30, tzinfo=SHANGHAI), msg_type="Update",
                    references=[reference_of(first)],
                    infos=[_info(headline="某高架桥垮塌：2人受伤送医")])
    cancel = _alert(identifier="www.example.gov.cn.urgent-2026-0001.c1",
                    sent=datetime(2026, 12, 2, 3, 0, tzinfo=UTC), msg_type="Cancel",
                    note="信息有误，予以撤销。", references=[reference_of(first), reference_of(update)],
                    infos=[_info(urgency="Past", certainty="Unknown", severity="Unknown")])
    return first, update, cancel



def _parse(xml: str) -> ET.Element:
    return ET.fromstring(xml.encode("utf-8"))  # noqa: S314 - our own document


def _problems(xml: str | bytes) -> str:
    with pytest.raises(CapInvalid) as caught:
        validate(xml)
    return "\n".join(caught.value.problems)


def test_the_shipped_schema_is_the_unmodified_oasis_cap_1_2_xsd() -> None:
    """The XSD in the package is byte for byte OASIS's CAP-v1.2.xsd and is declared package data."""
    assert hashlib.sha256(SCHEMA_PATH.read_bytes()).hexdigest() == OASIS_SHA256
    assert schema().target_namespace == NAMESPACE
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "cap/*.xsd" in pyproject["tool"]["setuptools"]["package-data"]["publisher"]


def test_alert_update_and_cancel_of_one_incident_validate() -> None:
    """An Alert, an Update referencing it and a Cancel referencing both pass the OASIS schema."""
    for alert in _incident():
        validate(to_xml(alert))
        validate(to_xml(alert).encode("utf-8"))


def test_references_are_space_separated_sender_identifier_sent_triples() -> None:
    """Read back, the Update and Cancel references hold exactly the earlier messages' triples."""
    _, update, cancel = _incident()
    first_triple = f"{SENDER},www.example.gov.cn.urgent-2026-0001,2026-12-02T09:45:00+08:00"
    update_triple = f"{SENDER},www.example.gov.cn.urgent-2026-0001.u1,2026-12-02T10:30:00+08:00"
    assert _parse(to_xml(update)).findtext(f"{C}references") == first_triple
    assert _parse(to_xml(cancel)).findtext(f"{C}references") == f"{first_triple} {update_triple}"
    assert reference_of(update).text == update_triple


def test_the_document_is_utf8_in_the_cap_default_namespace_in_schema_order() -> None:
    """The document opens with a UTF-8 declaration, uses no prefix, and orders elements as the XSD."""
    xml = to_xml(_incident()[2])
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<alert xmlns="' + NAMESPACE + '">')
    assert "ns0:" not in xml
    tags = [child.tag.removeprefix(C) for child in _parse(xml)]
    assert tags == ["identifier", "sender", "sent", "status", "msgType", "scope", "note",
                    "references", "info"]


def test_sent_has_an_offset_and_utc_is_written_minus_zero() -> None:
    """Sent is written to the second with its offset; UTC becomes -00:00 and never Z."""
    assert cap_time(datetime(2026, 12, 2, 9, 45, 7, 999, tzinfo=SHANGHAI)) == (
        "2026-12-02T09:45:07+08:00"
    )
    assert cap_time(datetime(2026, 12, 2, 1, 45, tzinfo=UTC)) == "2026-12-02T01:45:00-00:00"
    assert _parse(to_xml(_incident()[2])).findtext(f"{C}sent") == "2026-12-02T03:00:00-00:00"


def test_naive_times_and_an_alert_without_info_are_refused() -> None:
    """An alert cannot be built with a time lacking its zone, or without any info block."""
    with pytest.raises(CapInvalid, match="no time zone"):
        _alert(sent=datetime(2026, 12, 2, 9, 45))
    with pytest.raises(CapInvalid, match="references"):
        CapReference(SENDER, "x", datetime(2026, 12, 2, 9, 45)).text  # noqa: B018
    with pytest.raises(CapInvalid, match="info"):
        _alert(infos=[])


def test_drill_status_exercise_round_trips() -> None:
    """A drill's Exercise status and note are written, validate and read back unchanged."""
    drill = _alert(status="Exercise", note="演练信息，请勿转发。")
    xml = to_xml(drill)
    validate(xml)
    decoded = schema().to_dict(xmlschema.XMLResource(xml.encode(), defuse="always", allow="none"))
    assert isinstance(decoded, dict)
    assert (decoded["status"], decoded["note"]) == ("Exercise", "演练信息，请勿转发。")


def test_chinese_text_round_trips() -> None:
    """Chinese headline, description, instruction and area survive writing and reading back."""
    description = "“某路”积水约0.5米；请注意安全 & 绕行 <东侧>。"
    info = _info(headline="【快报】某路段积水严重", description=description,
                 areas=[CapArea(area_desc="某区某街道")])
    xml = to_xml(_alert(infos=[info]))
    validate(xml)
    block = _parse(xml).find(f"{C}info")
    assert block is not None
    assert block.findtext(f"{C}headline") == "【快报】某路段积水严重"
    assert block.findtext(f"{C}description") == description
    assert block.findtext(f"{C}area/{C}areaDesc") == "某区某街道"
    assert "某路段积水严重".encode() in xml.encode("utf-8")


@pytest.mark.parametrize(
    ("name", "document", "expected"),
    [
        ("missing info event", lambda: to_xml(_alert()).replace("<event>桥梁垮塌</event>", ""),
         "cap:event"),
        ("Z in sent", lambda: to_xml(_alert()).replace("09:45:00+08:00</sent>", "01:45:00Z</sent>"),
         "/alert/sent: '2026-12-02T01:45:00Z' uses 'Z'"),
        ("space in identifier", lambda: to_xml(_alert(identifier="urgent 0001")),
         "/alert/identifier: 'urgent 0001' contains a space"),
        ("comma in sender", lambda: to_xml(_alert(sender="gov,cn")), "/alert/sender"),
        ("update without references", lambda: to_xml(_alert(msg_type="Update")),
         "/alert/references: required for msgType Update"),
        ("cancel without references", lambda: to_xml(_alert(msg_type="Cancel")),
         "/alert/references: required for msgType Cancel"),
        ("alert with references",
         lambda: to_xml(_alert(references=[reference_of(_alert(identifier="earlier"))])),
         "/alert/references: not allowed for msgType Alert"),
        ("broken triple", lambda: to_xml(_incident()[1]).replace(",2026-12-02T09:45:00+08:00", ""),
         "is not a sender,identifier,sent triple"),
        ("unknown status", lambda: to_xml(_alert()).replace(">Actual<", ">Real<"), "/alert/status"),
        ("restricted without restriction", lambda: to_xml(_alert(scope="Restricted")),
         "/alert/restriction: required when scope is Restricted"),
    ],
)
def test_bad_documents_are_refused_naming_the_problem(
    name: str, document: Any, expected: str
) -> None:
    """Each broken document raises CapInvalid whose problems name the failing element."""
    assert expected in _problems(document()), name


def test_every_problem_is_listed_at_once() -> None:
    """One document with several faults reports all of them, each with its path."""
    xml = to_xml(_alert(identifier="a b", msg_type="Update", sent=datetime(2026, 1, 1, tzinfo=UTC)))
    problems = _problems(xml.replace("-00:00</sent>", "Z</sent>"))
    for path in ("/alert/identifier", "/alert/sent", "/alert/references"):
        assert path in problems


def test_documents_that_are_not_cap_alerts_are_refused() -> None:
    """Malformed XML, entity declarations and a foreign root element are refused cleanly."""
    assert "not well-formed" in _problems("<alert><identifier></alert>")
    bomb = '<!DOCTYPE alert [<!ENTITY e "x">]><alert xmlns="' + NAMESPACE + '">&e;</alert>'
    assert "not allowed" in _problems(bomb)
    assert "root element" in _problems('<feed xmlns="http://www.w3.org/2005/Atom"/>')
    assert "not well-formed" in _problems("/etc/passwd")  # read as text, never as a path
    assert "not well-formed" in _problems(b"")


def test_an_info_block_carries_expiry_response_and_several_categories() -> None:
    """Optional info fields (responseType, expires, two categories) validate in schema order."""
    info = _info(categories=["Safety", "Transport"], response_type="Avoid",
                 expires=datetime(2026, 12, 2, 18, 0, tzinfo=SHANGHAI))
    xml = to_xml(replace(_alert(), infos=(info,)))
    validate(xml)
    block = _parse(xml).find(f"{C}info")
    assert block is not None
    assert [c.text for c in block.findall(f"{C}category")] == ["Safety", "Transport"]
    assert block.findtext(f"{C}expires") == "2026-12-02T18:00:00+08:00"
    assert media_type == "application/cap+xml"
