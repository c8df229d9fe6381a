"""Needs by chat: submit one step by step, follow them, and erase what we keep.

The draft lives only in the flow state (Redis, with the flow TTL); nothing reaches the
database until the resident confirms, so leaving, going quiet or declining the privacy
notice leaves nothing behind. The steps run on handlers/flows.py, which drops a draft
older than the flow TTL even where Redis kept it, and keeps it aside when the resident
goes elsewhere (需求 picks it up again).

A photo or a location sent with no draft open is kept in a new draft while the resident
is asked whether to start a need with it, or goes into the draft kept aside: what a
resident gave is never dropped unsaid, and nothing is written unless they go on.

The modules: ``draft`` (what the resident said so far), ``wording`` (how categories,
statuses and places read), ``questions`` and ``steps`` (the flow), ``starting`` (需求 and
media sent with no draft open), ``following`` (my needs, one need), ``erasure``.
"""

from __future__ import annotations

from handlers.message import MessageType
from handlers.needs.erasure import ERASE_FLOW, ask_erase
from handlers.needs.following import NEED_REF_ALONE, my_needs, show_need
from handlers.needs.starting import media_outside_a_draft, start_need
from handlers.needs.steps import NEED_FLOW
from handlers.router import Router


def register(router: Router) -> None:
    router.add_keyword(("需求", "need", "提交需求", "new need"), start_need)
    router.add_click(("NEED_NEW",), start_need)
    router.add_arg_keyword(("需求", "need"), show_need)
    router.add_pattern(NEED_REF_ALONE, show_need)
    router.add_keyword(("我的需求", "my needs", "my need"), my_needs)
    router.add_click(("MY_NEEDS",), my_needs)
    router.add_keyword(("删除我的信息", "delete my data"), ask_erase)
    router.add_message_type((MessageType.IMAGE, MessageType.LOCATION), media_outside_a_draft)
    NEED_FLOW.register(router)
    ERASE_FLOW.register(router)
