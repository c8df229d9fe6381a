"""Flows: a conversation of named steps over a typed draft, one mechanism for every feature.

A flow asks one question per step and keeps what the resident said so far in a *draft*,
a dataclass of JSON values stored as the flow state's data (in Redis, with the flow TTL).
Nothing reaches the database until a step decides so, so leaving or going quiet leaves
nothing behind.

Before a step takes an answer, and before its question is asked again (after 帮助/help or
English/中文, see router.py), the flow checks two things and ends itself if either fails:
- the draft's age, against the clock: Redis expires drafts with the flow TTL too, but the
  clock decides, so that a draft Redis kept a little longer (or a test's clock) behaves
  the same;
- optionally, that what the draft is about still exists (an event deleted meanwhile).

Stored shape: the draft's fields, leaving out those still at their default, plus
``touched`` (when the draft last moved to a step, ISO 8601). A draft without ``touched``
counts as expired.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, fields
from datetime import datetime, timedelta
from typing import Any, Generic, Self, TypeVar

from handlers.context import Context
from handlers.message import Message, Reply
from handlers.router import Handler, Prompt, Router

TOUCHED = "touched"


@dataclass
class Draft:
    """What a resident said so far in a flow. A flow's draft subclasses this as a dataclass
    of JSON values whose defaults mean "not said yet" (``""``, ``None``, ``[]``)."""

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> Self:
        """The draft from stored flow data; keys that are not fields (``touched``) are
        the mechanism's, and a field missing from the data keeps its default."""
        names = {item.name for item in fields(cls)}
        return cls(**{name: value for name, value in data.items() if name in names})

    def dump(self) -> dict[str, Any]:
        """The draft as stored: a field still at its default is left out, so the data
        holds only what the resident said, as flow data did before drafts were typed."""
        return {
            item.name: getattr(self, item.name)
            for item in fields(self)
            if not _at_default(item, getattr(self, item.name))
        }


def _at_default(item: Field[Any], value: Any) -> bool:
    if item.default is not MISSING:
        return bool(value == item.default)
    if item.default_factory is not MISSING:
        return bool(value == item.default_factory())
    return False


DraftT = TypeVar("DraftT", bound=Draft)


@dataclass(frozen=True)
class Step(Generic[DraftT]):
    """One question of a flow.

    ``state`` is the flow state's name while the step waits for its answer; ``answer``
    takes the resident's message with the draft (it moves the flow on with :meth:`ask` or
    :meth:`go`, or ends it); ``question`` is what the step asks, on arrival and again
    after a word that answers anywhere.
    """

    state: str
    answer: Callable[[Message, Context, DraftT], Reply]
    question: Callable[[Context, DraftT], str]

    def go(self, ctx: Context, draft: DraftT) -> None:
        """Make this the flow's current step and store the draft; its age counts from now."""
        ctx.start_flow(self.state, {**draft.dump(), TOUCHED: ctx.now.isoformat()})

    def ask(self, ctx: Context, draft: DraftT) -> Reply:
        """Go to this step and ask its question."""
        self.go(ctx, draft)
        return Reply(self.question(ctx, draft))


@dataclass(frozen=True)
class Flow(Generic[DraftT]):
    """A flow's steps over one draft type.

    ``expired`` words why a draft older than the flow TTL was dropped; ``gone``, if given,
    says why the flow cannot go on (what the draft is about vanished), or None.
    """

    draft: type[DraftT]
    steps: tuple[Step[DraftT], ...]
    expired: Callable[[Context, DraftT], str]
    gone: Callable[[Context, DraftT], str | None] | None = None

    def register(self, router: Router) -> None:
        for step in self.steps:
            router.add_flow(step.state, self._answer(step), self._question(step))

    def _answer(self, step: Step[DraftT]) -> Handler:
        def answer(message: Message, ctx: Context) -> Reply:
            draft = self._resume(ctx)
            if isinstance(draft, str):
                return Reply(draft)
            return step.answer(message, ctx, draft)

        return answer

    def _question(self, step: Step[DraftT]) -> Prompt:
        def question(ctx: Context) -> str:
            draft = self._resume(ctx)
            return draft if isinstance(draft, str) else step.question(ctx, draft)

        return question

    def _resume(self, ctx: Context) -> DraftT | str:
        """The draft where the resident left it, or why the flow ended instead."""
        if ctx.flow is None:
            raise RuntimeError("a flow's step ran outside its flow")
        draft = self.draft.load(ctx.flow.data)
        ended = self.expired(ctx, draft) if _outlived(ctx) else None
        if ended is None and self.gone is not None:
            ended = self.gone(ctx, draft)
        if ended is not None:
            ctx.end_flow()
            return ended
        return draft


def _outlived(ctx: Context) -> bool:
    """Whether the current flow's draft last moved longer ago than the flow TTL."""
    if ctx.flow is None:
        raise RuntimeError("a flow's age was asked outside a flow")
    touched = ctx.flow.data.get(TOUCHED)
    if touched is None:
        return True
    return ctx.now - datetime.fromisoformat(touched) > timedelta(seconds=ctx.settings.flow_ttl_s)


def ttl_minutes(ctx: Context) -> int:
    """The flow TTL as expiry replies word it."""
    return ctx.settings.flow_ttl_s // 60
