"""CAP 1.2 (Common Alerting Protocol): urgent posts as alert documents, checked against OASIS's schema."""

from __future__ import annotations

from publisher.cap.document import SCHEMA_PATH, schema, to_xml, validate
from publisher.cap.model import (
    NAMESPACE,
    CapAlert,
    CapArea,
    CapInfo,
    CapInvalid,
    CapReference,
    cap_time,
    media_type,
    reference_of,
)

__all__ = [
    "NAMESPACE",
    "SCHEMA_PATH",
    "CapAlert",
    "CapArea",
    "CapInfo",
    "CapInvalid",
    "CapReference",
    "cap_time",
    "media_type",
    "reference_of",
    "schema",
    "to_xml",
    "validate",
]
