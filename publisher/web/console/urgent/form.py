"""The urgent forms' fields: read into the core's steps, with each field's problem in the page's words."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from channels import registry
from publisher.app import App
from publisher.severity import LEVELS
from publisher.urgent import Draft, UrgentCancel, UrgentPost, UrgentUpdate
from publisher.urgent import draft as draft_fields
from publisher.web.console.deps import field as text_field
from publisher.web.console.i18n import Translate

SEVERITIES = LEVELS  # the grades of the Emergency Response Law, and 未定级
STATUSES = ("Actual", "Exercise", "Test")
NONCE_FIELD = "confirm_nonce"
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")

# The fields of each form, in the order they are shown and carried through the confirmation.
POST_FIELDS = ("status", "title", "area", "severity", "facts", "instruction", "event_at")
UPDATE_FIELDS = ("facts", "correction", "title", "instruction", "severity")
CANCEL_FIELDS = ("reason",)

# Which words name each field in a problem (``urgent.field.<name>``), per form.
_LABELS = {"post": {}, "update": {"facts": "update_facts", "title": "update_title",
                                  "severity": "update_severity"}, "cancel": {}}

_CHOSEN = ("status", "severity")  # picked from a list, never typed: "choose …" when missing

StepT = TypeVar("StepT", bound=BaseModel)


@dataclass
class Read(Generic[StepT]):
    """A form read: the step (None when a field is wrong), the values to refill the form with,
    and each wrong field's problem in the page's language."""

    step: StepT | None
    values: dict[str, Any]
    problems: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ChannelChoice:
    """A channel offered on the compose form."""

    name: str
    kind: str
    enabled: bool
    default: bool


def channel_choices(app: App) -> list[ChannelChoice]:
    """Every configured channel whose kind takes urgent posts, the urgent section's checked."""
    section = app.loaded.config.urgent
    defaults = set(section.channels) if section else set()
    return [ChannelChoice(name, conf.kind, conf.enabled, name in defaults)
            for name, conf in app.loaded.config.channels.items()
            if registry.channel_class(conf.kind).takes_urgent]


def post_defaults(app: App) -> dict[str, Any]:
    """The compose form's starting values: the default channels, and neither a kind of post
    (actual or drill) nor a grade chosen: staff choose both every time."""
    return {"status": "", "title": "", "area": "", "severity": "", "facts": "",
            "instruction": "", "event_at": "",
            "channels": [c.name for c in channel_choices(app) if c.default and c.enabled]}


def _problems(exc: ValidationError, t: Translate, form: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        name = str(error["loc"][0]) if error["loc"] else ""
        if name in found:
            continue
        label = t(f"urgent.field.{_LABELS[form].get(name, name)}") if name else ""
        kind = error["type"]
        if name in _CHOSEN and kind in ("missing", "string_too_short", "literal_error"):
            found[name] = t("urgent.problem.choose", field=label)
        elif kind in ("missing", "string_too_short"):
            found[name] = t("urgent.problem.required", field=label)
        elif kind == "duplicate_channel":
            found[name] = t("urgent.problem.duplicate", field=label,
                            names=error.get("ctx", {}).get("names", ""))
        elif kind == "hidden_character":
            ctx = error.get("ctx", {})
            found[name] = t("urgent.problem.hidden", field=label,
                            position=ctx.get("position", "?"), code=ctx.get("code", "?"))
        elif kind == "string_too_long":
            found[name] = t("urgent.problem.too_long", field=label,
                            max=error.get("ctx", {}).get("max_length", "?"))
        else:
            found[name] = t("urgent.problem.invalid", field=label)
    return found


def _build(model: type[StepT], fields: dict[str, Any], t: Translate, form: str
           ) -> tuple[StepT | None, dict[str, str]]:
    try:
        return model(**fields), {}
    except ValidationError as exc:
        return None, _problems(exc, t, form)


def _optional(value: str) -> str | None:
    return value if value.strip() else None


def _local_time(text: str, zone: tzinfo | None) -> datetime | str | None:
    """A ``datetime-local`` field in the configured zone ("" → None; unreadable: the text,
    which the model then refuses naming the field)."""
    if not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return text
    return moment.replace(tzinfo=zone) if moment.tzinfo is None and zone else moment


def read_post(form: FormData, t: Translate, zone: tzinfo | None = None) -> Read[UrgentPost]:
    """The first report of the compose form (or of its confirmation's hidden fields); the
    event time is local time in ``zone``."""
    values: dict[str, Any] = {name: text_field(form, name) for name in POST_FIELDS}
    values["channels"] = [str(v) for v in form.getlist("channels") if isinstance(v, str) and v]
    fields = {"title": values["title"], "facts": values["facts"], "area": values["area"],
              "instruction": _optional(values["instruction"]),
              "event_at": _local_time(values["event_at"], zone),
              "channels": values["channels"] or None}
    # no default for either: an unchosen one is missing (the API's default status does not apply)
    fields |= {name: values[name] for name in _CHOSEN if values[name]}
    step, problems = _build(UrgentPost, fields, t, "post")
    if not values["status"]:
        problems["status"] = t("urgent.problem.choose", field=t("urgent.field.status"))
        step = None
    if not values["channels"]:
        problems["channels"] = t("urgent.problem.no_channel")
        step = None
    return Read(step, values, problems)


def read_update(form: FormData, t: Translate) -> Read[UrgentUpdate]:
    """An update, or a correction when its ``correction`` is filled in."""
    values: dict[str, Any] = {name: text_field(form, name) for name in UPDATE_FIELDS}
    step, problems = _build(UrgentUpdate, {
        "facts": values["facts"], "correction": _optional(values["correction"]),
        "title": _optional(values["title"]), "instruction": _optional(values["instruction"]),
        "severity": _optional(values["severity"])}, t, "update")
    return Read(step, values, problems)


def read_cancel(form: FormData, t: Translate) -> Read[UrgentCancel]:
    """A withdrawal with its reason."""
    values: dict[str, Any] = {"reason": text_field(form, "reason")}
    step, problems = _build(UrgentCancel, {"reason": values["reason"]}, t, "cancel")
    return Read(step, values, problems)


def hidden_fields(values: dict[str, Any], draft: Draft | None = None) -> list[tuple[str, str]]:
    """The values as (name, value) pairs for hidden inputs (a list gives one pair per item),
    and the preview's draft, so that publishing sends what was previewed."""
    pairs: list[tuple[str, str]] = []
    for name, value in values.items():
        if isinstance(value, list):
            pairs += [(name, str(item)) for item in value]
        else:
            pairs.append((name, str(value)))
    return pairs + list((draft.fields() if draft else {}).items())


def read_draft(form: FormData) -> Draft | None:
    """The draft a confirmation carries (None for a form that was never previewed);
    PreviewOutdated when it cannot be read."""
    return Draft.from_fields({name: text_field(form, name)
                              for name in (draft_fields.AT_FIELD, draft_fields.FINGERPRINT_FIELD)})


class Confirmations:
    """Confirmation forms already acted on in this process, by account and the form's nonce: a
    second press of the same "publish now" (a double click, a resent form) leads to what the
    first one made instead of publishing again."""

    def __init__(self, keep: int = 1000) -> None:
        self.keep = keep
        self._done: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._lock = threading.Lock()

    def once(self, who: str, nonce: str, act: Callable[[], str]) -> tuple[str, bool]:
        """``act()`` (returning where it leads) unless this nonce was acted on: (where, acted).
        A form without a well-formed nonce is always acted on."""
        if not _NONCE.match(nonce):
            return act(), True
        with self._lock:  # one confirmation at a time: the second press waits for the first
            earlier = self._done.get((who, nonce))
            if earlier is not None:
                return earlier, False
            result = act()
            self._done[(who, nonce)] = result
            while len(self._done) > self.keep:
                self._done.popitem(last=False)
            return result, True


CONFIRMED = Confirmations()
