"""Urgent posts: incidents opened by a first report, then updated, corrected or withdrawn."""

from __future__ import annotations

from publisher.urgent.draft import Draft, PreviewOutdated
from publisher.urgent.incident import DEFINITION, draft_of, open_incident, prepare, urgent_config
from publisher.urgent.post import (
    DRILL_STATUSES,
    IncidentClosed,
    IncidentNotFound,
    UrgentCancel,
    UrgentOutcome,
    UrgentPicture,
    UrgentPost,
    UrgentRejected,
    UrgentUpdate,
)
from publisher.urgent.step import StepPreview, cancel_incident, preview_step, update_incident
from publisher.urgent.timeline import Step, timeline

__all__ = [
    "DEFINITION",
    "DRILL_STATUSES",
    "Draft",
    "IncidentClosed",
    "IncidentNotFound",
    "PreviewOutdated",
    "Step",
    "StepPreview",
    "UrgentCancel",
    "UrgentOutcome",
    "UrgentPicture",
    "UrgentPost",
    "UrgentRejected",
    "UrgentUpdate",
    "cancel_incident",
    "draft_of",
    "open_incident",
    "prepare",
    "preview_step",
    "timeline",
    "update_incident",
    "urgent_config",
]
