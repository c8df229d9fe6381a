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
    # Read the residents' inbox: the messages residents left for staff and the answers.
    READ_INBOX = "read_inbox"
    # Take, answer and close conversations of the inbox.
    ANSWER_INBOX = "answer_inbox"
    # Look residents up and read what the club holds about one (and, with CHANGE, erase
    # it at their request): the club's own staff only, as residents confided in the club.
    READ_RESIDENTS = "read_residents"
    # Keep the response templates staff insert into public notes.
    MANAGE_TEMPLATES = "manage_templates"
    # Add, rename and retire the villages residents choose from.
    MANAGE_VILLAGES = "manage_villages"
    # Add, rename, deactivate and merge the tags events are given.
    MANAGE_TAGS = "manage_tags"
    # Add the partner organisations needs are assigned to and events are co-hosted with.
    MANAGE_PARTNERS = "manage_partners"
    # Send, schedule and cancel broadcasts to residents.
    SEND_BROADCASTS = "send_broadcasts"
    # Run the service: repair the outbox (retry dead pushes, lift quota pauses) and push
    # the account's menu to WeChat; each reaches every resident at once.
    RUN_SERVICE = "run_service"
    # Read the impact dashboard and download its tables (a partner: its own organisation's
    # figures only, scoped in models/impact/scope.py).
    READ_IMPACT = "read_impact"
    # Turn the public impact page (/impact) on and off.
    PUBLISH_IMPACT = "publish_impact"
    # See the outbox and the broadcasts: counts, dead letters, pauses, progress.
    READ_OUTBOX = "read_outbox"
    # Export the residents' list as a file: every resident's contact details at once,
    # more than any one page shows, so admins only.
    EXPORT_RESIDENTS = "export_residents"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.STAFF: frozenset(
        {
            Permission.CHANGE,
            Permission.UPDATE_NEEDS,
            Permission.READ_RESIDENTS,
            Permission.READ_INBOX,
            Permission.ANSWER_INBOX,
            Permission.MANAGE_EVENTS,
            Permission.CHECK_IN,
            Permission.SEND_BROADCASTS,
            Permission.READ_IMPACT,
            Permission.READ_OUTBOX,
        }
    ),
    # The inbox holds what residents wrote to the club's staff, which concerns no
    # partner organisation: partners and the foundation do not see it.
    Role.PARTNER: frozenset(
        {Permission.CHANGE, Permission.UPDATE_NEEDS, Permission.CHECK_IN, Permission.READ_IMPACT}
    ),
    # Reads everything; approving projects comes with the projects.
    Role.FOUNDATION: frozenset(
        {Permission.READ_RESIDENTS, Permission.READ_IMPACT, Permission.READ_OUTBOX}
    ),
    Role.VIEWER: frozenset({Permission.READ_INBOX, Permission.READ_IMPACT, Permission.READ_OUTBOX}),
}


def allows(role: str, permission: Permission) -> bool:
    """Whether ``role`` may do ``permission``; an unknown role may do nothing."""
    try:
        return permission in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False
