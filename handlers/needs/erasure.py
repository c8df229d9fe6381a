"""删除我的信息/delete my data: one question, then everything we keep about the
resident is erased, drafts set aside included."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.answers import is_no, is_yes
from handlers.context import Context
from handlers.flows import Draft, Flow, Step
from handlers.message import Message, Reply
from handlers.needs.draft import draft_expired
from models.needs.erasure import erase_resident_data


@dataclass
class EraseDraft(Draft):
    """Nothing to keep: the erasure's one question is answered yes or no."""


def ask_erase(message: Message, ctx: Context) -> Reply:
    return ERASE.ask(ctx, EraseDraft())


def _erase_question(ctx: Context, draft: EraseDraft) -> str:
    return ctx.t("erase_ask")


def on_erase(message: Message, ctx: Context, draft: EraseDraft) -> Reply:
    if is_no(message.words):
        ctx.end_flow()
        return Reply(ctx.t("erase_kept"))
    if not is_yes(message.words):
        return Reply(ctx.t("erase_ask_again"))
    ctx.end_flow()
    # Drafts set aside hold the resident's words too.
    ctx.drop_kept()
    erased = erase_resident_data(ctx.db, ctx.resident, ctx.now)
    return Reply(
        ctx.t(
            "erase_done",
            needs=ctx.t("erase_needs", count=erased.needs),
            photos=ctx.t("erase_photos", count=erased.photos),
            places=ctx.t("erase_places", count=erased.places),
            contact=ctx.t("erase_contact") if erased.contact else "",
            # This message too: it is stored without its words.
            messages=ctx.t("erase_messages", count=erased.messages + 1),
        ),
        erases_message=True,
    )


ERASE = Step("need.erase", on_erase, _erase_question)
# An erasure left unanswered expires with the need draft's reply, as it always has.
ERASE_FLOW = Flow(EraseDraft, (ERASE,), expired=draft_expired)
