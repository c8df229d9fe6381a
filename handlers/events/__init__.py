"""Events by chat: browse, sign up (contact details, party size, waitlist), cancel, check in.

Every rule lives in the models/events/ package; this package only asks the questions and
words the answers. A sign-up in progress lives in the flow state until the last answer
(its steps run on handlers/flows.py, which drops a draft older than the flow TTL and
keeps it aside when the resident goes elsewhere: 报名 N picks it up again), and the
final step calls :func:`models.events.signups.sign_up`, which checks everything again
under the event's lock, so a question left unanswered for a while can never overbook.

The modules: ``wording`` (how events and sign-ups read), ``refusals`` (a sentence per
broken rule), ``browsing`` (the list and one event), ``signup_draft``,
``signup_questions`` and ``signup_steps`` (the sign-up flow), ``cancelling``,
``my_events``, ``checkin``.
"""

from __future__ import annotations

from handlers.events.browsing import (
    LIST,
    MORE_WORDS,
    PREVIOUS_WORDS,
    list_events,
    list_flow,
    no_list,
    show_event,
)
from handlers.events.cancelling import ask_which, cancel
from handlers.events.checkin import on_checkin_scan, unknown_qr
from handlers.events.my_events import my_events
from handlers.events.signup_steps import SIGNUP_FLOW, start_signup
from handlers.router import Router
from models.events.checkin import QR_SCENE_PREFIX


def register(router: Router) -> None:
    router.add_keyword(("活动", "events"), list_events)
    router.add_click(("EVENTS",), list_events)
    router.add_arg_keyword(("活动", "events", "event"), show_event)
    router.add_arg_keyword(("报名", "signup", "sign up"), start_signup)
    router.add_arg_keyword(("取消报名", "cancel"), cancel)
    router.add_keyword(("报名", "signup", "取消报名", "cancel"), ask_which)
    router.add_keyword(MORE_WORDS | PREVIOUS_WORDS, no_list)
    router.add_keyword(("我的活动", "my events"), my_events)
    router.add_click(("MY_EVENTS",), my_events)
    router.add_scene(QR_SCENE_PREFIX, on_checkin_scan)
    router.set_unknown_scene(unknown_qr)
    router.add_flow(LIST, list_flow(router))
    SIGNUP_FLOW.register(router)
