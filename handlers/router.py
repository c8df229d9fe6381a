"""One explicit registry: text keywords, menu keys, event types, message types, flow states.

Dispatch order, and why:
0. A resident whose language is not known yet (never chosen, never guessed) gets the
   language of their first words: someone who opens with "hello" or "help" reads English
   from then on, and 中文/English still switch.
1. 退出/exit always leaves a flow, so no one is ever stuck in one; like every whole-word
   command, it may end with the punctuation people type ("退出！", "help?").
2. Events (follow, menu tap, scan) come next. A menu tap leaves any flow, since the
   resident chose to go elsewhere; a flow that keeps drafts (handlers/flows.py) sets its
   draft aside and the answer to the tap says so, so a draft is never lost unsaid.
3. In a flow, everything else goes to the flow's current step, except the words that
   answer anywhere (帮助/help, 中文/English): they are answered and the step's question
   is asked again, so a name or an address is never taken to be "help". In a flow that
   keeps drafts, a command word typed alone runs with the draft kept, except at a step
   that takes free text, which asks what was meant (handlers/flows.py).
4. Keywords, exact first, then "keyword + argument" (longest keyword first, so that
   取消报名 3 is never read as 报名), then patterns that are recognised on their own (a
   need's reference, N-000001). A voice message WeChat recognised counts as the words
   it heard: many residents speak rather than type.
5. Handlers by message type (image, voice, location...), then an unsupported-type reply.
6. The fallback says briefly that the message was not understood and suggests the
   closest commands (the full help is one word away), never an error; a resident with a
   conversation open with staff has the words passed on to it instead, and a second miss
   in a row brings the offer to leave staff a message (handlers/inbox.py).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from handlers.context import Context
from handlers.message import Message, MessageType, Reply
from texts.catalog import Catalog, Language

Handler = Callable[[Message, Context], Reply | None]
ArgHandler = Callable[[Message, Context, str], Reply | None]
# A flow step's question, asked again where the resident left it.
Prompt = Callable[[Context], str]
# What the resident went to instead of answering a flow's step, run by the flow.
Elsewhere = Callable[[], Reply | None]
# A flow that keeps its draft while the resident goes elsewhere: it sets the draft aside,
# runs what they went to, and adds a line saying the draft is kept.
Keep = Callable[[Context, Elsewhere], Reply | None]
_Registered = TypeVar("_Registered")

QR_SUBSCRIBE_PREFIX = "qrscene_"

EXIT_WORDS = ("退出", "exit")
# What people end a command with on a phone ("退出！", "help?", "exit."), after NFKC has
# folded the full-width forms (！？．～) to ASCII; 。 and … have no such fold.
COMMAND_END_PUNCTUATION = "。.!?~…"
# Words that tell a language: any Chinese character, or an English word (two letters or
# more, so a reference such as "N-000001" tells nothing).
CHINESE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
ENGLISH_WORD = re.compile(r"[a-z]{2,}")


def normalize(text: str) -> str:
    """Fold what residents type on phones: full-width digits and letters, case, spaces."""
    return " ".join(unicodedata.normalize("NFKC", text).strip().lower().split())


def command_word(text: str) -> str:
    """A normalized message as a command: without the punctuation people end it with, so
    "退出！" leaves a flow instead of becoming a name, and "帮助？" is answered. Only whole
    commands are matched this way; an answer keeps its punctuation, and a message that is
    only punctuation ("?", itself a way to ask for help) stays as it is."""
    return text.rstrip(COMMAND_END_PUNCTUATION).rstrip() or text


def language_of(text: str) -> Language | None:
    """The language a normalized message is written in, or None if it does not tell."""
    if CHINESE.search(text):
        return Language.ZH
    if ENGLISH_WORD.search(text):
        return Language.EN
    return None


@dataclass(frozen=True)
class _ArgKeyword:
    word: str
    handler: ArgHandler


@dataclass(frozen=True)
class _Pattern:
    pattern: re.Pattern[str]
    handler: ArgHandler


@dataclass(frozen=True)
class _Flow:
    handler: Handler
    prompt: Prompt | None
    keep: Keep | None


class Router:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._keywords: dict[str, Handler] = {}
        # keywords_in's answers, worked out once per language until a keyword is added.
        self._keywords_by_language: dict[str | None, tuple[str, ...]] = {}
        self._arg_keywords: list[_ArgKeyword] = []
        self._patterns: list[_Pattern] = []
        self._clicks: dict[str, Handler] = {}
        self._events: dict[str, Handler] = {}
        self._types: dict[str, Handler] = {}
        self._flows: dict[str, _Flow] = {}
        self._anywhere: set[str] = set()
        self._scenes: dict[str, ArgHandler] = {}
        self._exit: Handler | None = None
        self._fallback: Handler | None = None
        self._unsupported: Handler | None = None
        self._coming_soon: Handler | None = None
        self._unknown_scene: Handler | None = None

    # Registration -------------------------------------------------------------------

    def add_keyword(self, words: Iterable[str], handler: Handler) -> None:
        self._keywords_by_language.clear()
        for word in words:
            self._claim(self._keywords, normalize(word), handler, "keyword")

    def add_anywhere_keyword(self, words: Iterable[str], handler: Handler) -> None:
        """A keyword that answers in the middle of a flow too; the flow keeps its place
        and asks its question again after the answer (see ``add_flow``)."""
        self.add_keyword(words, handler)
        self._anywhere.update(normalize(word) for word in words)

    def add_arg_keyword(self, words: Iterable[str], handler: ArgHandler) -> None:
        """Register ``word N`` (with or without a space) where N is the argument."""
        for word in words:
            self._arg_keywords.append(_ArgKeyword(normalize(word), handler))
        self._arg_keywords.sort(key=lambda k: len(k.word), reverse=True)

    def add_pattern(self, pattern: str, handler: ArgHandler) -> None:
        """A message that, normalized, matches ``pattern`` as a whole (the argument: the
        whole message), tried after every keyword."""
        self._patterns.append(_Pattern(re.compile(pattern), handler))

    def keywords_in(self, language: str | None) -> tuple[str, ...]:
        """Every whole-word command written in ``language``, normalized and sorted: what
        the fallback suggests from. Sorted once per language, not for each message no
        handler took (a third of the benchmark's messages, and common in real chats)."""
        keywords = self._keywords_by_language.get(language)
        if keywords is None:
            keywords = tuple(sorted(w for w in self._keywords if language_of(w) == language))
            self._keywords_by_language[language] = keywords
        return keywords

    def is_command(self, words: str) -> bool:
        """Whether what a resident said is, on its own, a whole-word command."""
        return command_word(normalize(words)) in self._keywords

    def add_click(self, keys: Iterable[str], handler: Handler) -> None:
        for key in keys:
            self._claim(self._clicks, key, handler, "menu key")

    def add_event(self, names: Iterable[str], handler: Handler) -> None:
        for name in names:
            self._claim(self._events, name.lower(), handler, "event")

    def add_message_type(self, types: Iterable[str], handler: Handler) -> None:
        for message_type in types:
            self._claim(self._types, message_type, handler, "message type")

    def add_scene(self, prefix: str, handler: ArgHandler) -> None:
        """Register a parametric QR code scene such as ``checkin:`` (argument: the rest).

        WeChat reports a scan as a SCAN event with the scene as key, or, for someone who
        follows by scanning, as a subscribe event with the key ``qrscene_<scene>``.
        """
        if prefix in self._scenes:
            raise ValueError(f"QR scene {prefix!r} is registered twice")
        self._scenes[prefix] = handler

    def add_flow(
        self, state: str, handler: Handler, prompt: Prompt | None = None, keep: Keep | None = None
    ) -> None:
        """``prompt`` asks the state's question again after a word that answers anywhere;
        a state without one (the event list, which hands other words back to the router
        itself) gets those words like any other. ``keep`` sets the state's draft aside
        when the resident goes elsewhere (a menu tap); without it, the flow just ends."""
        self._claim(self._flows, state, _Flow(handler, prompt, keep), "flow state")

    def set_exit(self, handler: Handler) -> None:
        self._exit = handler

    def set_fallback(self, handler: Handler) -> None:
        self._fallback = handler

    def set_unsupported(self, handler: Handler) -> None:
        self._unsupported = handler

    def set_unknown_scene(self, handler: Handler) -> None:
        """Answer for a scanned QR code whose scene no handler knows (an old poster, a
        code from elsewhere): a scan always gets an answer. A follow by scanning one is
        answered by the welcome."""
        self._unknown_scene = handler

    def set_coming_soon(self, handler: Handler) -> None:
        """Answer for a menu key in the menu whose feature has no handler yet."""
        self._coming_soon = handler

    @staticmethod
    def _claim(table: dict[str, _Registered], key: str, value: _Registered, what: str) -> None:
        if key in table:
            raise ValueError(f"{what} {key!r} is registered twice")
        table[key] = value

    # Dispatch -----------------------------------------------------------------------

    def dispatch(self, message: Message, ctx: Context) -> Reply | None:
        text = normalize(message.words)
        if text and ctx.contact.language is None and ctx.resident.language is None:
            ctx.resident.language = language_of(text)
        command = command_word(text)
        if command in EXIT_WORDS and self._exit is not None:
            return self._exit(message, ctx)
        if message.type == MessageType.EVENT:
            return self._dispatch_event(message, ctx)
        if ctx.flow is not None:
            flow = self._flows.get(ctx.flow.name)
            if flow is not None:
                if command in self._anywhere and flow.prompt is not None:
                    return self._answer_mid_flow(command, message, ctx, flow.prompt)
                return flow.handler(message, ctx)
            ctx.end_flow()
        if message.type == MessageType.TEXT or text:
            reply = self._dispatch_text(text, message, ctx)
            if reply is not None:
                return reply
        elif message.type in self._types:
            return self._types[message.type](message, ctx)
        elif self._unsupported is not None:
            return self._unsupported(message, ctx)
        return self._call_fallback(message, ctx)

    def _answer_mid_flow(self, text: str, message: Message, ctx: Context, prompt: Prompt) -> Reply:
        reply = self._keywords[text](message, ctx)
        answer = f"{reply.text}\n\n" if reply is not None and reply.text else ""
        return Reply(f"{answer}{prompt(ctx)}")

    def _dispatch_event(self, message: Message, ctx: Context) -> Reply | None:
        event = message.event.lower()
        if event == "click":
            handler = self._clicks.get(message.event_key) or self._coming_soon
            return self._leave_flow_for(
                ctx, lambda: handler(message, ctx) if handler is not None else None
            )
        handler = self._events.get(event)
        reply = handler(message, ctx) if handler is not None else None
        scene_reply = self._dispatch_scene(message, ctx)
        if scene_reply is None:
            return reply
        if reply is None:
            return scene_reply
        return Reply(f"{scene_reply.text}\n\n{reply.text}")

    def _leave_flow_for(self, ctx: Context, elsewhere: Elsewhere) -> Reply | None:
        """Go where the resident went mid-flow: a flow that keeps drafts sets its draft
        aside and says so; any other simply ends."""
        current = self._flows.get(ctx.flow.name) if ctx.flow is not None else None
        if current is not None and current.keep is not None:
            return current.keep(ctx, elsewhere)
        if ctx.flow is not None:
            ctx.end_flow()
        return elsewhere()

    def _dispatch_scene(self, message: Message, ctx: Context) -> Reply | None:
        scene = message.event_key
        if message.event.lower() == "subscribe":
            if not scene.startswith(QR_SUBSCRIBE_PREFIX):
                return None
            scene = scene[len(QR_SUBSCRIBE_PREFIX) :]
        elif message.event.lower() != "scan":
            return None
        for prefix, handler in self._scenes.items():
            if scene.startswith(prefix):
                return handler(message, ctx, scene[len(prefix) :])
        if message.event.lower() == "scan" and self._unknown_scene is not None:
            return self._unknown_scene(message, ctx)
        return None

    def _dispatch_text(self, text: str, message: Message, ctx: Context) -> Reply | None:
        handler = self._keywords.get(command_word(text))
        if handler is not None:
            return handler(message, ctx)
        for keyword in self._arg_keywords:
            if text.startswith(keyword.word):
                argument = text[len(keyword.word) :].strip()
                if argument:
                    return keyword.handler(message, ctx, argument)
        for pattern in self._patterns:
            if pattern.pattern.fullmatch(text):
                return pattern.handler(message, ctx, text)
        return None

    def _call_fallback(self, message: Message, ctx: Context) -> Reply | None:
        return self._fallback(message, ctx) if self._fallback is not None else None
