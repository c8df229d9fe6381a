"""What the workbench's pages share: who is asking (a partner account sees only its own
organisation's needs, and anything else is a 404, as if it did not exist), the
deadlines the queue marks needs over time by, and the names people read."""

from __future__ import annotations

from flask import abort
from flask_babel import get_locale, gettext

from bot.console.context import account, request_db, services
from models.accounts.operations import actor_for
from models.audit import Actor
from models.needs.details import visible_need
from models.needs.errors import NeedError
from models.needs.queue import AckDeadlines
from models.needs.tables import Need


def scope_partner_id() -> int | None:
    """The organisation the signed-in account is limited to, if any (partners only)."""
    return account().partner_id


def find_need(ref: str) -> Need:
    """The need ``ref`` names if the signed-in account may see it; 404 otherwise."""
    need = visible_need(request_db(), ref, scope_partner_id())
    if need is None:
        abort(404)
    return need


def actor() -> Actor:
    return actor_for(account())


def deadlines() -> AckDeadlines:
    return services().config.ack_deadlines


def category_names() -> dict[str, str]:
    """Each configured category's key and its name in the page's language."""
    english = str(get_locale()) == "en"
    return {c.key: c.en if english else c.zh for c in services().config.needs.categories}


def refusal(exc: NeedError) -> str:
    """A refused change, said in the signed-in person's language: nothing was changed."""
    return gettext("console_needs_refused").format(reason=exc.text(account().language))
