"""The residents' inbox: conversations residents opened by leaving a message for staff.

Tabs: open conversations nobody has taken, those assigned to the reader, and all of them,
each narrowed to one village's residents when ``?village=`` names one. Staff open one,
take it or hand it to a colleague (or back to nobody), answer (the answer is a push,
delivered under WeChat's rules by the worker; the page says which channel can carry it
now, or that it waits for the resident's next message) and close it. Every change goes
through models/inbox, which audits it in the same transaction; each hand-over shows in
the thread. Viewers read; partners and the foundation do not see the inbox
(models/accounts/roles.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import Blueprint, abort, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from bot.console.auth import requires
from bot.console.changes import change_or_refuse
from bot.console.context import account, now, request_db, services
from bot.console.villages import chosen_village
from models.accounts.operations import actor_for
from models.accounts.roles import Permission
from models.accounts.tables import Account
from models.base import ID_MAX, is_id, local_text
from models.inbox.errors import InboxError
from models.inbox.notices import ANSWER_KIND
from models.inbox.operations import answer, assign, close, unassign
from models.inbox.queries import Delivery, InboxTab, assignable_accounts, inbox, thread
from models.inbox.tables import Conversation, ConversationStatus
from models.push.channels import Means, outlook
from models.push.consents import has_consent
from models.push.vocabulary import Channel, OutboxStatus
from models.residents import Resident
from models.villages.queries import active_villages
from scheduler.limits import read_limits

blueprint = Blueprint("inbox", __name__, url_prefix="/inbox")

# How often an open conversation's page asks for its thread again (htmx), so new
# messages and each answer's delivery show without a reload.
REFRESH_S = 5

TAB_TEXT_KEYS = {
    InboxTab.UNASSIGNED: "console_inbox_tab_unassigned",
    InboxTab.MINE: "console_inbox_tab_mine",
    InboxTab.ALL: "console_inbox_tab_all",
}
STATUS_TEXT_KEYS = {
    ConversationStatus.OPEN: "console_inbox_status_open",
    ConversationStatus.CLOSED: "console_inbox_status_closed",
}
CHANNEL_TEXT_KEYS = {
    Channel.CUSTOM: "console_channel_custom",
    Channel.TEMPLATE: "console_channel_template",
    Channel.SUBSCRIBE: "console_channel_subscribe",
    Channel.REPLY: "console_channel_reply",
    Channel.MASS: "console_channel_mass",
}
OUTLOOK_TEXT_KEYS = {
    Channel.CUSTOM: "console_outlook_custom",
    Channel.TEMPLATE: "console_outlook_template",
    Channel.SUBSCRIBE: "console_outlook_subscribe",
}


@blueprint.get("/")
@requires(Permission.READ_INBOX)
def index() -> str:
    wanted = request.args.get("tab", "")
    tab = InboxTab(wanted) if wanted in tuple(InboxTab) else InboxTab.UNASSIGNED
    db = request_db()
    chosen = chosen_village()
    return render_template(
        "console/inbox.html",
        rows=inbox(db, tab, account().id, chosen),
        tab=tab,
        tabs=TAB_TEXT_KEYS,
        statuses=STATUS_TEXT_KEYS,
        villages=active_villages(db),
        chosen=chosen,
    )


@blueprint.get("/<int:conversation_id>")
@requires(Permission.READ_INBOX)
def conversation_page(conversation_id: int) -> str:
    return _thread_page(_conversation(conversation_id))


@blueprint.post("/<int:conversation_id>/assign")
@requires(Permission.ANSWER_INBOX)
def take(conversation_id: int) -> ResponseReturnValue:
    """Assign the conversation to the account the picker names, or without one to the
    reader ("assign to me")."""
    conversation = _conversation(conversation_id)
    picked = request.form.get("account", "").strip()
    assignee = account() if not picked else _picked_account(picked)
    if assignee is None:
        error = gettext("console_inbox_pick_assignee")
        return _thread_page(conversation, assignee_error=error), 400
    done = (
        gettext("console_inbox_assigned")
        if assignee.id == account().id
        else gettext("console_inbox_handed").format(login=assignee.login)
    )
    return _change(
        conversation,
        lambda: assign(request_db(), actor_for(account()), conversation, assignee, now()),
        done,
        at_picker=True,
    )


@blueprint.post("/<int:conversation_id>/unassign")
@requires(Permission.ANSWER_INBOX)
def give_back(conversation_id: int) -> ResponseReturnValue:
    conversation = _conversation(conversation_id)
    return _change(
        conversation,
        lambda: unassign(request_db(), actor_for(account()), conversation, now()),
        gettext("console_inbox_unassigned"),
    )


def _picked_account(picked: str) -> Account | None:
    """The account the picker's value (an id) names, if there is one."""
    return request_db().get(Account, int(picked)) if is_id(picked) else None


@blueprint.post("/<int:conversation_id>/answer")
@requires(Permission.ANSWER_INBOX)
def send_answer(conversation_id: int) -> ResponseReturnValue:
    conversation = _conversation(conversation_id)
    text = request.form.get("answer", "")
    return _change(
        conversation,
        lambda: answer(request_db(), actor_for(account()), conversation, text, now()),
        gettext("console_inbox_answered"),
        draft=text,
    )


@blueprint.post("/<int:conversation_id>/close")
@requires(Permission.ANSWER_INBOX)
def close_conversation(conversation_id: int) -> ResponseReturnValue:
    conversation = _conversation(conversation_id)
    return _change(
        conversation,
        lambda: close(request_db(), actor_for(account()), conversation, now()),
        gettext("console_inbox_closed"),
    )


def _change(
    conversation: Conversation,
    change: Callable[[], object],
    done: str,
    draft: str = "",
    *,
    at_picker: bool = False,
) -> ResponseReturnValue:
    """Make one change and come back to the conversation saying ``done``; a refused one
    shows the page again with the sentence (next to the assignee picker when it is about
    the pick) and what was typed, nothing written."""

    def made() -> str:
        change()
        return done

    def refused(sentence: str) -> ResponseReturnValue:
        if at_picker:
            return _thread_page(conversation, assignee_error=sentence), 409
        return _thread_page(conversation, sentence, draft), 409

    return change_or_refuse(
        made,
        refused,
        url_for("console.inbox.conversation_page", conversation_id=conversation.id),
        (InboxError,),
    )


def _conversation(conversation_id: int) -> Conversation:
    """The conversation, locked for a change (a resident's message may be reopening it
    at this moment: the close or answer waits for it rather than crossing it)."""
    locked = request.method == "POST"
    found = (
        request_db().get(Conversation, conversation_id, with_for_update=locked)
        if conversation_id <= ID_MAX
        else None
    )
    if found is None:
        abort(404)
    return found


def _thread_page(
    conversation: Conversation, error: str = "", draft: str = "", assignee_error: str = ""
) -> str:
    shown = thread(request_db(), conversation)
    deliveries = {
        entry.message.id: _delivery_text(entry.delivery)
        for entry in shown.entries
        if entry.delivery is not None
    }
    return render_template(
        "console/conversation.html",
        thread=shown,
        deliveries=deliveries,
        statuses=STATUS_TEXT_KEYS,
        refresh_s=REFRESH_S,
        outlook=_outlook_text(shown.resident),
        error=error,
        draft=draft,
        assignees=assignable_accounts(request_db()),
        assignee_error=assignee_error,
    )


def _outlook_text(resident: Resident) -> str:
    """Whether an answer can go out now and how, or when it will: the worker's rules
    (models/push/channels.py) over the resident's window, the allowance the workers
    have spent in it and the quota pauses, both read from Redis in one call."""
    config = services().config
    moment = now()
    live = read_limits(services().redis, moment, config.wechat.account_type)
    subscribe = config.push.subscribe_templates.get(ANSWER_KIND)
    consent = subscribe is not None and has_consent(
        request_db(), resident.id, subscribe.template_id
    )
    opened_at = resident.last_interaction_at
    allowance_left = live.allowance_left(resident.openid, opened_at)
    seen = outlook(
        opened_at,
        resident.last_interaction_kind,
        moment,
        means=Means(
            template=config.sends_templates_of(ANSWER_KIND),
            subscription=subscribe is not None,
            paused=live.paused(ANSWER_KIND, moment),
        ),
        consent=consent,
        allowance_left=allowance_left,
    )
    closes = "" if seen.window_closes_at is None else _local(seen.window_closes_at)
    if seen.channel is not None:
        return gettext(OUTLOOK_TEXT_KEYS[seen.channel]).format(closes=closes)
    if seen.paused is not None:
        return gettext("console_outlook_paused").format(
            until=_local(seen.paused.until), resets=_local(seen.paused.resets_at)
        )
    if seen.window_closes_at is None:
        return gettext("console_outlook_never")
    if not allowance_left and seen.window_closes_at > moment:
        return gettext("console_outlook_spent").format(closes=closes)
    return gettext("console_outlook_held").format(closed=closes)


def _delivery_text(delivery: Delivery) -> str:
    """An answer's delivery as staff read it, from its outbox row."""
    status = delivery.status
    if status == OutboxStatus.SENT and delivery.sent_at is not None:
        channel = gettext(CHANNEL_TEXT_KEYS[Channel(delivery.channel)]) if delivery.channel else ""
        return gettext("console_delivery_sent").format(
            channel=channel, when=_local(delivery.sent_at)
        )
    if status == OutboxStatus.HELD:
        return gettext("console_delivery_held")
    if status == OutboxStatus.FAILED:
        return gettext("console_delivery_failed").format(when=_local(delivery.next_attempt_at))
    if status == OutboxStatus.DEAD:
        return gettext("console_delivery_dead").format(error=delivery.last_error or "")
    if status == OutboxStatus.SKIPPED:
        return gettext("console_delivery_skipped").format(error=delivery.last_error or "")
    if status == OutboxStatus.EXPIRED:
        return gettext("console_delivery_expired")
    if status == OutboxStatus.SENDING:
        return gettext("console_delivery_sending")
    return gettext("console_delivery_pending")


def _local(moment: datetime) -> str:
    return local_text(moment, services().config.bot.tz)
