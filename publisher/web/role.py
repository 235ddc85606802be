"""Roles and what each may do: one table for API tokens and console accounts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# Permissions, named <object>.<verb>. Pages and API routes ask for one of these, never a role.
LOG_READ = "log.read"  # the delivery log, releases and their deliveries
INCIDENT_READ = "incident.read"  # incidents and their timelines
AUDIT_READ = "audit.read"  # the audit chain
REPORT_READ = "report.read"  # the annual report's figures and the rows behind them
RELEASE_PREVIEW = "release.preview"  # render a release without recording or sending it
RELEASE_TRIGGER = "release.trigger"  # create a release now
RELEASE_APPROVE = "release.approve"  # approve a release that needs review (never one's own)
DELIVERY_RETRY = "delivery.retry"  # send a failed or unknown delivery again
DELIVERY_RESOLVE = "delivery.resolve"  # decide an unknown delivery by hand (published / failed)
URGENT_POST = "urgent.post"
URGENT_UPDATE = "urgent.update"
URGENT_CANCEL = "urgent.cancel"
DATA_READ = "data.read"  # a definition's data page: its tables, templates, stored files, preview
DATA_UPLOAD = "data.upload"  # upload, replace or remove a definition's data for a period
ACCOUNT_MANAGE = "account.manage"  # console accounts: add, roles, disable, reset password
TOKEN_MANAGE = "token.manage"  # noqa: S105 (a permission name) API tokens: add, revoke
CHECKS_MANAGE = "checks.manage"  # the content checks' lists: add, change, remove, import
EVERYTHING = "*"

ALL_PERMISSIONS: tuple[str, ...] = (
    LOG_READ, INCIDENT_READ, AUDIT_READ, REPORT_READ, RELEASE_PREVIEW, RELEASE_TRIGGER, RELEASE_APPROVE,
    DELIVERY_RETRY, DELIVERY_RESOLVE, URGENT_POST, URGENT_UPDATE, URGENT_CANCEL, DATA_READ,
    DATA_UPLOAD, ACCOUNT_MANAGE, TOKEN_MANAGE, CHECKS_MANAGE)

_READ = frozenset({LOG_READ, INCIDENT_READ, AUDIT_READ, REPORT_READ, DATA_READ})

# Roles, least to most. An account may hold several (its permissions are the union); an API
# token holds exactly one. A supplier (the bureau staff or system that prepares a definition's
# data) is limited to the definitions named for it, and holds no other role.
SUPPLIER = "supplier"
ROLES: tuple[str, ...] = (SUPPLIER, "viewer", "editor", "approver", "urgent", "admin")
PERMISSIONS: Mapping[str, frozenset[str]] = {
    SUPPLIER: frozenset({DATA_READ, DATA_UPLOAD}),
    "viewer": _READ,
    "editor": _READ | {RELEASE_PREVIEW, RELEASE_TRIGGER, DELIVERY_RETRY, DATA_UPLOAD},
    "approver": _READ | {RELEASE_APPROVE},
    "urgent": _READ | {URGENT_POST, URGENT_UPDATE, URGENT_CANCEL},
    "admin": frozenset({EVERYTHING}),
}


def permissions(roles: str | Iterable[str]) -> frozenset[str]:
    """Every permission ``roles`` (one role or several) grant; ``*`` stands for all of them."""
    names = (roles,) if isinstance(roles, str) else tuple(roles)
    granted: set[str] = set()
    for name in names:
        granted |= PERMISSIONS.get(name, frozenset())
    return frozenset(granted)


def allows(roles: str | Iterable[str], permission: str) -> bool:
    """Whether ``roles`` (one role or several) may do ``permission``; unknown roles may do nothing."""
    granted = permissions(roles)
    return EVERYTHING in granted or permission in granted


def unknown(roles: Iterable[str]) -> list[str]:
    """The names in ``roles`` that are not roles."""
    return [name for name in roles if name not in PERMISSIONS]


def scoped(roles: str | Iterable[str]) -> bool:
    """Whether ``roles`` act only on the definitions named for them (a supplier)."""
    names = (roles,) if isinstance(roles, str) else tuple(roles)
    return SUPPLIER in names


def covers(roles: str | Iterable[str], definitions: Iterable[str], definition_id: str) -> bool:
    """Whether ``roles`` with the ``definitions`` named for them may act on ``definition_id``:
    a supplier only on those named (none named: none), every other role on every one."""
    return not scoped(roles) or definition_id in tuple(definitions)
