"""Starting a need: 需求/need, and a photo or a place sent with no draft open."""

from __future__ import annotations

from handlers.context import Context
from handlers.message import Message, Reply
from handlers.needs.draft import NeedDraft
from handlers.needs.steps import NEED_FLOW, OFFER, add_media, ask_again, first_question


def media_outside_a_draft(message: Message, ctx: Context) -> Reply:
    """A photo or a place sent on its own is most likely a problem being reported: it
    goes into the need draft kept aside if there is one, else into a new draft offered
    to the resident (nothing is written until a need is submitted)."""
    kept = NEED_FLOW.take_back(ctx, NeedDraft().kept_key())
    if isinstance(kept, NeedDraft):
        added = add_media(ctx, kept, message)
        return Reply(f"{added}\n{ask_again(ctx, kept).text}")
    expired = f"{kept}\n" if isinstance(kept, str) else ""
    draft = NeedDraft()
    added = add_media(ctx, draft, message)
    if not draft.photos and draft.lat is None:
        return Reply(f"{expired}{added}")
    return Reply(f"{expired}{OFFER.ask(ctx, draft).text}")


def start_need(message: Message, ctx: Context) -> Reply:
    """需求/need: the draft kept aside, where it was left, or a new one."""
    return NEED_FLOW.resume_or(
        ctx, NeedDraft().kept_key(), lambda: first_question(ctx, NeedDraft())
    )
