"""Content checks of an urgent step: found in its preview, and a ``block`` or ``review`` finding
stops it unless a second person with the approver role overrides it for exactly that preview.

An emergency must not be stopped by a false positive, nor published with an ID number by one
person's click: the override names the preview's fingerprint (what each channel would publish),
is given by an approver who is not the person confirming, and both are audited.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.base import Payload
from publisher import audit
from publisher.app import App
from publisher.review import same_person
from publisher.scan import Finding, ListError, summary
from publisher.store.models import Account, AuditEvent
from publisher.urgent.post import UrgentRejected

OVERRIDDEN = "checks.overridden"  # the approver's override of one preview's findings
OVERRIDE_USED = "checks.override_used"  # the step recorded with it
OVERRIDE_ROLES = ("approver", "admin")
STOPPING = ("block", "review")


class ContentBlocked(UrgentRejected):
    """The step has findings that stop it; nothing was recorded or sent. ``fingerprint`` is the
    preview an approver may override (None without a preview)."""

    def __init__(self, findings: list[Finding], fingerprint: str | None) -> None:
        self.findings = findings
        self.fingerprint = fingerprint
        how = (f"须由另一位审核人确认放行：publisher urgent override {fingerprint} --reason … / "
               f"a second person with the approver role must override this preview"
               if fingerprint else
               "请先预览；如确需发布，由另一位审核人对该预览确认放行 / preview it first; an "
               "approver may then override that preview")
        super().__init__([f.describe() for f in findings] + [how])


class OverrideRefused(UrgentRejected):
    """An override that may not be given (not an approver, no reason)."""


def label(channel: str, action: str) -> str:
    """The name a step's delivery goes by in findings: the channel, and its action if not a send."""
    return channel if action == "send" else f"{channel}（{action}）"


def findings_of(app: App, items: Iterable[tuple[str, str, Payload]]) -> list[Finding]:
    """The content checks over a step's payloads (channel, action, payload); UrgentRejected
    when a list cannot be used."""
    if not app.loaded.config.checks.enabled:
        return []
    try:
        return app.scanner.scan({label(c, a): p for c, a, p in items})
    except ListError as exc:
        raise UrgentRejected([str(p) for p in exc.problems]) from None


def stopping(findings: Iterable[Finding]) -> list[Finding]:
    """The findings that stop an urgent step until an approver overrides them."""
    return [f for f in findings if f.level in STOPPING]


def enforce(session: Session, findings: list[Finding], *, fingerprint: str | None, actor: str,
            key: str, now: datetime) -> None:
    """ContentBlocked when a finding stops the step and no other approver overrode this very
    preview; else, when an override let it through, audit that it was used."""
    held = stopping(findings)
    if not held:
        return
    given = _override(session, fingerprint, actor) if fingerprint else None
    if given is None:
        raise ContentBlocked(held, fingerprint)
    audit.append(session, at=now, actor=actor, action=OVERRIDE_USED, subject=f"release:{key}",
                 details={"approver": given.actor, "reason": given.details.get("reason"),
                          "fingerprint": fingerprint, "findings_summary": summary(findings),
                          "findings": [f.to_json() for f in held]})


def kept(findings: list[Finding]) -> dict[str, object]:
    """What a recorded step's details keep of its findings (personal data only masked)."""
    if not findings:
        return {}
    return {"findings": [f.to_json() for f in findings], "findings_summary": summary(findings)}


def _override(session: Session, fingerprint: str, actor: str) -> AuditEvent | None:
    """The override of this preview by someone other than ``actor``, if one was given."""
    rows = session.execute(select(AuditEvent).where(
        AuditEvent.action == OVERRIDDEN, AuditEvent.subject == f"draft:{fingerprint}")
        .order_by(AuditEvent.seq)).scalars()
    return next((row for row in rows if not same_person(row.actor, actor)), None)


def override(app: App, fingerprint: str, *, actor: str, reason: str) -> None:
    """Let the previewed step ``fingerprint`` through despite its findings: ``actor`` must hold
    the approver (or admin) role on a console account, give a reason, and be someone other
    than the person who then confirms the step. Audited."""
    reason = reason.strip()
    if not reason:
        raise OverrideRefused(["放行须说明理由 / an override needs a reason"])
    if len(fingerprint) != 64 or any(c not in "0123456789abcdef" for c in fingerprint):
        raise OverrideRefused(["预览编号无效 / not a preview fingerprint"])
    name = actor.partition(":")[2] if ":" in actor else actor
    now = app.clock.now()
    with app.store.write() as session:
        account = session.execute(select(Account).where(
            Account.name == name.strip().lower(), Account.disabled_at.is_(None))
        ).scalar_one_or_none()
        roles = {r.strip() for r in (account.roles if account else "").split(",")}
        if not roles & set(OVERRIDE_ROLES):
            raise OverrideRefused([f"{actor} 不是审核人，不能放行 / only an account with the "
                                   "approver role may override the content checks"])
        audit.append(session, at=now, actor=actor, action=OVERRIDDEN,
                     subject=f"draft:{fingerprint}", details={"reason": reason})
