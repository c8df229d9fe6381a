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

A draft is never lost unsaid. When the resident goes elsewhere mid-flow (a menu tap, or
a command they chose to run), a flow that keeps drafts (``kept`` given) sets its draft
aside under the draft's key and the answer says so; the command that starts the flow
(需求/need) picks it up again at the step where it was left, or says that it expired.

A command word typed alone at a step of such a flow is going elsewhere too: at a step
that takes a choice (a category, yes or no, a number) it is no answer, so the command
runs with the draft kept. A step that takes free text (a description, a place, a name)
could take it as its answer, so the flow asks which was meant (1: run the command, the
draft kept; 2: take the word as the answer). The command words are the router's
registry, not a list kept here.

Stored shape: the draft's fields, leaving out those still at their default, plus
``touched`` (when the draft last moved to a step, ISO 8601) and, while the resident is
asked what a command word meant, ``asked`` (the word). A draft without ``touched``
counts as expired.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, fields, replace
from datetime import datetime, timedelta
from typing import Any, Generic, Self, TypeVar

from handlers.answers import is_yes_or_no, pick_option
from handlers.context import Context
from handlers.message import Message, MessageType, Reply
from handlers.router import Elsewhere, Handler, Prompt, Router

TOUCHED = "touched"
ASKED = "asked"
# The answers to "run the command, or take the word as the answer?", by number or name.
COMMAND_OR_ANSWER = (("命令", "command"), ("回答", "answer"))


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

    def kept_key(self) -> str:
        """Where the draft waits while set aside: one draft per flow (its type) unless a
        flow keeps one per subject (a sign-up, one per event)."""
        return type(self).__name__

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
    after a word that answers anywhere. ``free_text``, for a step whose answer is free
    text, names that answer ("the place") for asking what a command word typed alone
    there meant.
    """

    state: str
    answer: Callable[[Message, Context, DraftT], Reply]
    question: Callable[[Context, DraftT], str]
    free_text: Callable[[Context], str] | None = None

    def go(self, ctx: Context, draft: DraftT, asked: str | None = None) -> None:
        """Make this the flow's current step and store the draft; its age counts from now.
        ``asked``: the command word the resident is being asked about."""
        data = {**draft.dump(), TOUCHED: ctx.now.isoformat()}
        if asked is not None:
            data[ASKED] = asked
        ctx.start_flow(self.state, data)

    def ask(self, ctx: Context, draft: DraftT) -> Reply:
        """Go to this step and ask its question."""
        self.go(ctx, draft)
        return Reply(self.question(ctx, draft))


@dataclass(frozen=True)
class Flow(Generic[DraftT]):
    """A flow's steps over one draft type.

    ``expired`` words why a draft older than the flow TTL was dropped; ``gone``, if given,
    says why the flow cannot go on (what the draft is about vanished), or None. ``kept``,
    if given, makes the flow keep its draft when the resident goes elsewhere: it says the
    draft is kept and how to continue it.
    """

    draft: type[DraftT]
    steps: tuple[Step[DraftT], ...]
    expired: Callable[[Context, DraftT], str]
    gone: Callable[[Context, DraftT], str | None] | None = None
    kept: Callable[[Context, DraftT], str] | None = None

    def __post_init__(self) -> None:
        if self.kept is None and any(step.free_text is not None for step in self.steps):
            raise ValueError("a flow with free-text steps must keep its draft (kept=...)")

    def register(self, router: Router) -> None:
        keep = self._keep if self.kept is not None else None
        for step in self.steps:
            router.add_flow(step.state, self._answer(step, router), self._question(step), keep)

    def resume_or(self, ctx: Context, key: str, start: Callable[[], Reply]) -> Reply:
        """What the command that starts the flow does: continue the draft kept under
        ``key`` at the step where it was left (or say why it cannot go on), else
        ``start()`` afresh."""
        draft = self.take_back(ctx, key)
        if draft is None:
            return start()
        if isinstance(draft, str):
            return Reply(draft)
        question = self.current_step(ctx).ask(ctx, draft).text
        return Reply(f"{ctx.t('flow_resumed')}\n{question}")

    def take_back(self, ctx: Context, key: str) -> DraftT | str | None:
        """The draft kept under ``key``, current again at the step where it was left; why
        it cannot go on (expired, gone) instead; or None when none is kept."""
        kept = ctx.take_kept(key)
        if kept is None:
            return None
        ctx.start_flow(kept.name, kept.data)
        return self._resume(ctx)

    def current_step(self, ctx: Context) -> Step[DraftT]:
        """The step the resident is at in this flow."""
        for step in self.steps:
            if ctx.flow is not None and step.state == ctx.flow.name:
                return step
        raise RuntimeError("the current flow state is none of this flow's steps")

    def _keep(self, ctx: Context, elsewhere: Elsewhere) -> Reply | None:
        """Set the draft aside, go where the resident went, and add a line that says the
        draft is kept (unless where they went took it back: 需求 during a need draft), or
        that it had expired."""
        draft = self._resume(ctx)
        if isinstance(draft, str):
            return _followed_by(elsewhere(), draft)
        key = draft.kept_key()
        ctx.set_aside(key)
        reply = elsewhere()
        if self.kept is None or key not in ctx.kept:
            return reply
        return _followed_by(reply, self.kept(ctx, draft))

    def _answer(self, step: Step[DraftT], router: Router) -> Handler:
        def answer(message: Message, ctx: Context) -> Reply | None:
            draft = self._resume(ctx)
            if isinstance(draft, str):
                return Reply(draft)
            asked = ctx.flow.data.get(ASKED) if ctx.flow is not None else None
            if asked is not None:
                step.go(ctx, draft)
                return self._command_or_answer(step, router, str(asked), message, ctx, draft)
            if self._leaves_for_command(step, router, message.words):
                if step.free_text is None:
                    return self._keep(ctx, lambda: router.dispatch(message, ctx))
                word = message.words.strip()
                step.go(ctx, draft, asked=word)
                return Reply(_command_or_answer_question(ctx, step, word))
            return step.answer(message, ctx, draft)

        return answer

    def _leaves_for_command(self, step: Step[DraftT], router: Router, words: str) -> bool:
        """Whether a command word typed at this step runs (with the draft kept) rather
        than answering it: never at a step that asks yes or no when the word answers
        that too (取消/cancel is a no there, not the sign-up cancellation)."""
        if self.kept is None or not router.is_command(words):
            return False
        return step.free_text is not None or not is_yes_or_no(words)

    def _command_or_answer(
        self,
        step: Step[DraftT],
        router: Router,
        word: str,
        message: Message,
        ctx: Context,
        draft: DraftT,
    ) -> Reply | None:
        """The resident's choice for a command word typed at a free-text step: 1 runs the
        command with the draft kept, 2 takes the word as the answer; anything else is
        an answer to the step as usual (and a command word is asked about again)."""
        said = replace(message, type=MessageType.TEXT, text=word)
        choice = pick_option(message.words, COMMAND_OR_ANSWER)
        if choice == 0:
            return self._keep(ctx, lambda: router.dispatch(said, ctx))
        if choice == 1:
            return step.answer(said, ctx, draft)
        return self._answer(step, router)(message, ctx)

    def _question(self, step: Step[DraftT]) -> Prompt:
        def question(ctx: Context) -> str:
            draft = self._resume(ctx)
            if isinstance(draft, str):
                return draft
            asked = ctx.flow.data.get(ASKED) if ctx.flow is not None else None
            if asked is not None:
                return _command_or_answer_question(ctx, step, str(asked))
            return step.question(ctx, draft)

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


def _command_or_answer_question(ctx: Context, step: Step[Any], word: str) -> str:
    """Whether a command word typed at a free-text step was meant as the command."""
    if step.free_text is None:
        raise RuntimeError("only a free-text step asks what a command word meant")
    return ctx.t("flow_command_or_answer", word=word, answer=step.free_text(ctx))


def _followed_by(reply: Reply | None, line: str) -> Reply:
    """A reply with a line about the draft after it."""
    if reply is None or not reply.text:
        return Reply(line)
    return replace(reply, text=f"{reply.text}\n\n{line}")


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
