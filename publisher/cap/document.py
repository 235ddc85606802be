"""CAP 1.2 documents: an alert written as XML, and XML checked against the OASIS schema."""

from __future__ import annotations

import functools
import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING

from publisher.cap.model import NAMESPACE, CapAlert, CapInfo, CapInvalid, cap_time

SCHEMA_PATH = Path(__file__).with_name("CAP-v1.2.xsd")
DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
MAX_SCHEMA_PROBLEMS = 20

if TYPE_CHECKING:  # xmlschema costs ~0.4 s to import: loaded by the first validation only
    import xmlschema
# identifier and sender: "MUST NOT include spaces, commas or restricted characters (< and &)".
FORBIDDEN_IN_ID = re.compile(r"[\s,<&]")
CAP_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d")
NEEDS_REFERENCES = ("Update", "Cancel")
_NS = f"{{{NAMESPACE}}}"


def _add(parent: ET.Element, tag: str, text: str | None) -> None:
    if text is not None:
        ET.SubElement(parent, tag).text = text


def _info(parent: ET.Element, info: CapInfo) -> None:
    block = ET.SubElement(parent, "info")
    _add(block, "language", info.language)
    for category in info.categories:
        _add(block, "category", category)
    _add(block, "event", info.event)
    _add(block, "responseType", info.response_type)
    _add(block, "urgency", info.urgency)
    _add(block, "severity", info.severity)
    _add(block, "certainty", info.certainty)
    _add(block, "expires", None if info.expires is None else cap_time(info.expires, "expires"))
    _add(block, "senderName", info.sender_name)
    _add(block, "headline", info.headline)
    _add(block, "description", info.description)
    _add(block, "instruction", info.instruction)
    _add(block, "web", info.web)
    _add(block, "contact", info.contact)
    for area in info.areas:
        element = ET.SubElement(block, "area")
        _add(element, "areaDesc", area.area_desc)
        for value_name, value in area.geocodes:
            geocode = ET.SubElement(element, "geocode")
            _add(geocode, "valueName", value_name)
            _add(geocode, "value", value)


def to_xml(alert: CapAlert) -> str:
    """The alert as a CAP 1.2 document (default namespace, schema order, XML declaration)."""
    root = ET.Element("alert", {"xmlns": NAMESPACE})
    _add(root, "identifier", alert.identifier)
    _add(root, "sender", alert.sender)
    _add(root, "sent", cap_time(alert.sent))
    _add(root, "status", alert.status)
    _add(root, "msgType", alert.msg_type)
    _add(root, "scope", alert.scope)
    _add(root, "restriction", alert.restriction)
    _add(root, "addresses", alert.addresses)
    _add(root, "note", alert.note)
    if alert.references:
        _add(root, "references", " ".join(reference.text for reference in alert.references))
    _add(root, "incidents", alert.incidents)
    for info in alert.infos:
        _info(root, info)
    ET.indent(root, space="  ")
    return DECLARATION + ET.tostring(root, encoding="unicode") + "\n"


@functools.cache
def schema() -> xmlschema.XMLSchema:
    """The official OASIS CAP 1.2 schema shipped with the package, loaded once."""
    import xmlschema

    return xmlschema.XMLSchema(str(SCHEMA_PATH))


def _text(root: ET.Element, tag: str) -> str | None:
    return root.findtext(_NS + tag)


def _rule_problems(root: ET.Element) -> list[str]:
    """What CAP 1.2 requires beyond its schema (spec section 3.2.1 and the profiles we follow)."""
    problems = []
    for tag in ("identifier", "sender"):
        value = _text(root, tag)
        if value is not None and FORBIDDEN_IN_ID.search(value):
            problems.append(f"/alert/{tag}: {value!r} contains a space, comma, '<' or '&', "
                            "which CAP 1.2 forbids")
    sent = _text(root, "sent")
    if sent is not None and sent.strip().upper().endswith("Z"):
        problems.append(f"/alert/sent: {sent!r} uses 'Z'; CAP 1.2 writes UTC as -00:00")
    msg_type = _text(root, "msgType")
    references = (_text(root, "references") or "").split()
    if msg_type in NEEDS_REFERENCES and not references:
        problems.append(f"/alert/references: required for msgType {msg_type} "
                        "(the earlier messages as sender,identifier,sent)")
    if msg_type == "Alert" and root.find(_NS + "references") is not None:
        problems.append("/alert/references: not allowed for msgType Alert")
    for triple in references:
        parts = triple.split(",")
        if len(parts) != 3 or not all(parts) or not CAP_TIME.fullmatch(parts[2]):
            problems.append(f"/alert/references: {triple!r} is not a sender,identifier,sent triple "
                            "with sent as YYYY-MM-DDThh:mm:ss±hh:mm")
    scope = _text(root, "scope")
    for needed_by, tag in (("Restricted", "restriction"), ("Private", "addresses")):
        if scope == needed_by and not (_text(root, tag) or "").strip():
            problems.append(f"/alert/{tag}: required when scope is {needed_by}")
    return problems


def validate(xml: str | bytes) -> None:
    """Check a CAP document against the OASIS CAP 1.2 schema and the rules it cannot express.

    Raises ``CapInvalid`` listing each failing path with its reason. Entities and external
    references are refused: the document is data, never a pointer to a file or URL.
    """
    import xmlschema

    source = io.BytesIO(xml.encode("utf-8") if isinstance(xml, str) else xml)
    try:
        resource = xmlschema.XMLResource(source, defuse="always", allow="none")
    except xmlschema.XMLResourceError as exc:
        raise CapInvalid([f"not well-formed or not allowed XML: {exc}"]) from exc
    root = resource.root
    if root.tag != _NS + "alert":
        raise CapInvalid([f"/: the root element is {root.tag}, not {{{NAMESPACE}}}alert"])
    problems = _rule_problems(root)
    for error in schema().iter_errors(resource):
        problems.append(f"{error.path or '/alert'}: {error.reason or error.message}")
        if len(problems) >= MAX_SCHEMA_PROBLEMS:
            break
    if problems:
        raise CapInvalid(problems)
