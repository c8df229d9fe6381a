"""Which village a resident lives in: asked once, the first time it matters, and changed
with 我的村 / village whenever they like.

The first need or sign-up asks it through :class:`VillageQuestion`, a step a flow puts
before its first question: the flow's draft waits in the flow state meanwhile, and the
flow goes on where it was once the village is said (or skipped). A resident who has
answered, or skipped, is never asked again; with no village configured nobody is asked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic

from handlers.answers import is_skip
from handlers.context import Context
from handlers.flows import Draft, DraftT, Flow, Step, ttl_minutes
from handlers.message import Message, Reply
from handlers.router import Router
from models.villages.operations import set_resident_village
from models.villages.queries import (
    VillageEntry,
    active_villages,
    has_villages,
    match_village,
    village_entry,
)

# An answer is said back (not found, or which of several) at most this long.
ANSWER_SHOWN = 20


def must_ask(ctx: Context) -> bool:
    """Whether the resident is still to be asked: never asked, and there is a choice."""
    return ctx.resident.village_asked_at is None and has_villages(ctx.db)


def _numbered(entries: Sequence[VillageEntry], shown: Sequence[VillageEntry]) -> str:
    """The ``shown`` entries, each with its number in the full list."""
    return "\n".join(f"{entries.index(entry) + 1}. {entry.label}" for entry in shown)


def _first_question(ctx: Context) -> str:
    entries = active_villages(ctx.db)
    return ctx.t("village_ask", options=_numbered(entries, entries))


def _chosen(ctx: Context, message: Message) -> Reply | VillageEntry | None:
    """The village the answer names (None: skipped), or the reply asking again."""
    if is_skip(message.words):
        return None
    entries = active_villages(ctx.db)
    answer = message.words.strip()
    found = match_village(entries, answer)
    if len(found) == 1:
        return found[0]
    said = answer[:ANSWER_SHOWN]
    if found:
        return Reply(ctx.t("village_ambiguous", answer=said, options=_numbered(entries, found)))
    return Reply(ctx.t("village_unknown", answer=said, options=_numbered(entries, entries)))


def _saved(ctx: Context, chosen: VillageEntry | None) -> str:
    set_resident_village(ctx.db, ctx.resident, chosen.id if chosen else None, ctx.now)
    if chosen is None:
        return ctx.t("village_skipped")
    return ctx.t("village_saved", village=chosen.label)


class VillageQuestion(Generic[DraftT]):
    """The village question as a step of another flow, over that flow's draft.

    ``then`` is what the flow does next (ask its first question, or finish); :meth:`first`
    is how the flow starts: the village question when the resident is to be asked, else
    ``then`` straight away. The step's state belongs to the host flow, which registers
    :attr:`step` with its other steps, so its TTL and its checks apply here too.
    """

    def __init__(self, state: str, then: Callable[[Context, DraftT], Reply]) -> None:
        self.then = then
        self.step: Step[DraftT] = Step(state, self._answer, self._question)

    def first(self, ctx: Context, draft: DraftT) -> Reply:
        if must_ask(ctx):
            return self.step.ask(ctx, draft)
        return self.then(ctx, draft)

    def _question(self, ctx: Context, draft: DraftT) -> str:
        """The question, or, when it is no longer to be asked (the resident left the
        draft at this step and said their village with 我的村 meanwhile), the flow moved
        on: what ``then`` asks or answers."""
        if not must_ask(ctx):
            return self.then(ctx, draft).text
        return _first_question(ctx)

    def _answer(self, message: Message, ctx: Context, draft: DraftT) -> Reply:
        if not has_villages(ctx.db):
            return self.then(ctx, draft)
        chosen = _chosen(ctx, message)
        if isinstance(chosen, Reply):
            return chosen
        return Reply(f"{_saved(ctx, chosen)}\n\n{self.then(ctx, draft).text}")


# 我的村 --------------------------------------------------------------------------------------


@dataclass
class ChangeDraft(Draft):
    """Nothing to keep: the one question is the village itself."""


def my_village(message: Message, ctx: Context) -> Reply:
    if not has_villages(ctx.db):
        return Reply(ctx.t("village_none_configured"))
    return CHANGE.ask(ctx, ChangeDraft())


def _change_question(ctx: Context, draft: ChangeDraft) -> str:
    entries = active_villages(ctx.db)
    current = village_entry(ctx.db, ctx.resident.village_id)
    said = (
        ctx.t("village_current", village=current.label)
        if current is not None
        else ctx.t("village_current_none")
    )
    return ctx.t("village_change", current=said, options=_numbered(entries, entries))


def _none_left(ctx: Context, draft: ChangeDraft) -> str | None:
    """Why the question ended: every village was retired while it waited."""
    return None if has_villages(ctx.db) else ctx.t("village_none_configured")


def on_change(message: Message, ctx: Context, draft: ChangeDraft) -> Reply:
    if is_skip(message.words):
        ctx.end_flow()
        return Reply(ctx.t("village_kept"))
    chosen = _chosen(ctx, message)
    if isinstance(chosen, Reply):
        return chosen
    ctx.end_flow()
    return Reply(_saved(ctx, chosen))


def _expired(ctx: Context, draft: Draft) -> str:
    return ctx.t("village_expired", minutes=ttl_minutes(ctx))


CHANGE = Step("village.change", on_change, _change_question)
CHANGE_FLOW = Flow(ChangeDraft, (CHANGE,), expired=_expired, gone=_none_left)


def register(router: Router) -> None:
    router.add_keyword(("我的村", "我的社区", "my village", "village"), my_village)
    CHANGE_FLOW.register(router)
