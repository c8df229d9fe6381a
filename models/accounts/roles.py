"""Roles and what each may do, declared once (FixMyStreet groups permissions into roles the
same way): the console's views and the CLI's ``--as`` ask :func:`allows`, never the role's
name, so a role's reach changes here alone."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A console account's role (docs/data-model.md, account)."""

    ADMIN = "admin"
    STAFF = "staff"
    PARTNER = "partner"
    FOUNDATION = "foundation"
    VIEWER = "viewer"


class Permission(StrEnum):
    """Something a role may do."""

    # Change anything at all through the console: without it, every POST but signing
    # out and choosing one's own language is refused.
    CHANGE = "change"
    # Triage needs (a partner: only those assigned to its organisation).
    UPDATE_NEEDS = "update_needs"
    # Create, edit, publish and cancel events.
    MANAGE_EVENTS = "manage_events"
    # Check residents in at an event (a partner: only at events it co-hosts).
    CHECK_IN = "check_in"
    MANAGE_ACCOUNTS = "manage_accounts"
    READ_AUDIT = "read_audit"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.STAFF: frozenset(
        {Permission.CHANGE, Permission.UPDATE_NEEDS, Permission.MANAGE_EVENTS, Permission.CHECK_IN}
    ),
    Role.PARTNER: frozenset({Permission.CHANGE, Permission.UPDATE_NEEDS, Permission.CHECK_IN}),
    # Reads everything; approving projects comes with the projects.
    Role.FOUNDATION: frozenset(),
    Role.VIEWER: frozenset(),
}


def allows(role: str, permission: Permission) -> bool:
    """Whether ``role`` may do ``permission``; an unknown role may do nothing."""
    try:
        return permission in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False
