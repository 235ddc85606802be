"""CAP alert documents on the portal: the payload's ``cap`` part read back, and where it is written.

The core builds and validates the CAP 1.2 document (channels never import the core); the
portal only checks that the part is whole and names the document it carries, then writes it
as ``cap/<identifier>.xml`` and lists it in ``cap/feed.atom``.
"""

from __future__ import annotations

import hashlib
import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from channels.base import Payload
from channels.portal.content import XML_INVALID
from channels.portal.errors import conflict, payload_invalid
from channels.portal.manifest import ENTRY_NAMESPACE, CapEntry, Item, Manifest, rfc3339

CAP_DIR = "cap"
CAP_FEED_NAME = "feed.atom"
CAP_FEED_PATH = f"{CAP_DIR}/{CAP_FEED_NAME}"
CAP_NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_MEDIA_TYPE = "application/cap+xml"
MSG_TYPES = ("Alert", "Update", "Cancel")
# CAP forbids spaces, commas, < and &; the portal also needs a safe file name (no / or ..).
IDENTIFIER_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+=@-]{0,199}")
HEADLINE_MAX_CHARS = 500


def cap_entry_id(identifier: str) -> str:
    """The permanent Atom id of a CAP document's feed entry, derived from its identifier."""
    return f"urn:uuid:{uuid.uuid5(ENTRY_NAMESPACE, 'cap:' + identifier)}"


def cap_file_path(identifier: str) -> str:
    """Where the document lives, relative to the site: ``cap/<identifier>.xml``."""
    return f"{CAP_DIR}/{identifier}.xml"


def cap_href(base_url: str, identifier: str) -> str:
    """The document's public URL."""
    return base_url + CAP_DIR + "/" + quote(f"{identifier}.xml", safe=":@+=")


@dataclass(frozen=True)
class CapSpec:
    """The ``cap`` part of a portal payload: a finished, validated CAP 1.2 document."""

    identifier: str
    xml: bytes
    msg_type: str
    sent: str  # RFC 3339, as the feed writes it
    headline: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.xml).hexdigest()

    @property
    def path(self) -> str:
        return cap_file_path(self.identifier)

    def entry(self, item: Item) -> CapEntry:
        """The manifest entry recording this document against the page it came with."""
        return CapEntry(identifier=self.identifier, entry_id=cap_entry_id(self.identifier),
                        msg_type=self.msg_type, sent=self.sent, headline=self.headline,
                        slug=item.slug, path=item.path, sha256=self.sha256)

    @classmethod
    def from_payload(cls, payload: Payload | None) -> CapSpec | None:
        """The payload's CAP document, None when it has none; refuses a malformed part."""
        raw: Any = None if payload is None else payload.data.get("cap")
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise payload_invalid("cap must be an object")
        fields = ("identifier", "xml", "msg_type", "sent", "headline")
        values = {name: raw.get(name) for name in fields}
        if not all(isinstance(value, str) and value.strip() for value in values.values()):
            raise payload_invalid(f"cap needs non-empty texts {', '.join(fields)}")
        identifier, text = str(values["identifier"]), str(values["xml"])
        msg_type, headline = str(values["msg_type"]), str(values["headline"])
        if not IDENTIFIER_PATTERN.fullmatch(identifier) or ".." in identifier:
            raise payload_invalid(f"cap identifier {identifier!r} is not {IDENTIFIER_PATTERN.pattern}")
        if msg_type not in MSG_TYPES:
            raise payload_invalid(f"cap msg_type {msg_type!r} is not one of {', '.join(MSG_TYPES)}")
        if len(headline) > HEADLINE_MAX_CHARS or XML_INVALID.search(headline):
            raise payload_invalid("cap headline is too long or holds control characters")
        try:
            sent = datetime.fromisoformat(str(values["sent"]))
        except ValueError as exc:
            raise payload_invalid(f"cap sent {values['sent']!r} is not an ISO timestamp") from exc
        if sent.utcoffset() is None:
            raise payload_invalid(f"cap sent {values['sent']!r} has no offset")
        document = text.encode("utf-8")
        _check_document(document, identifier, msg_type)
        return cls(identifier=identifier, xml=document, msg_type=msg_type, sent=rfc3339(sent),
                   headline=headline)


def _check_document(document: bytes, identifier: str, msg_type: str) -> None:
    """The XML is a CAP 1.2 alert with this identifier and msgType (the core validated the rest)."""
    try:
        root = ET.fromstring(document)  # noqa: S314 - built and schema-validated by the core
    except ET.ParseError as exc:
        raise payload_invalid(f"cap xml is not well-formed: {exc}") from exc
    ns = f"{{{CAP_NAMESPACE}}}"
    if root.tag != ns + "alert":
        raise payload_invalid(f"cap xml root is {root.tag}, not a CAP 1.2 alert")
    found = (root.findtext(ns + "identifier"), root.findtext(ns + "msgType"))
    if found != (identifier, msg_type):
        raise payload_invalid(f"cap xml holds identifier/msgType {found}, "
                              f"not ({identifier!r}, {msg_type!r})")


def check_cap_owner(manifest: Manifest, cap: CapSpec, slug: str) -> None:
    """Refuse a CAP identifier already published with another page (identifiers never repeat)."""
    known = manifest.caps.get(cap.identifier)
    if known is not None and known.slug != slug:
        raise conflict("cap_identifier_taken",
                       f"预警标识 {cap.identifier} 已用于信息 {known.slug}",
                       f"CAP identifier {cap.identifier} already belongs to {known.slug}",
                       cap.identifier)


def cap_recorded(manifest: Manifest, cap: CapSpec) -> bool:
    """Whether the manifest already holds exactly this document."""
    known = manifest.caps.get(cap.identifier)
    return known is not None and known.sha256 == cap.sha256
