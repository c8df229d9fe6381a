"""The flow mechanism (handlers/flows.py): a toy flow at the handler level, the sign-up's
new TTL, and the stored shape of the need and sign-up drafts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.services import Services
from handlers.context import Context, FlowState, HandlerSettings, Redemption
from handlers.flows import Draft, Flow, Step
from handlers.message import Message, MessageType, Reply
from handlers.router import Router
from models import Need, NeedPhoto, Resident
from models.events.staff import create_event
from models.events.tables import Signup
from models.inbound import Contact
from tests.chat import Chat
from tests.conftest import FakeClock
from texts.catalog import Catalog

OPENID = "o-flow"


class NoLinkCodes:
    """The toy flow links no accounts."""

    def redeem(self, code: str, openid: str) -> Redemption:
        return Redemption(None)


NO_LINK_CODES = NoLinkCodes()


# The mechanism, on a toy flow --------------------------------------------------------------


@dataclass
class Order(Draft):
    dish: str
    count: int = 0
    notes: list[str] = field(default_factory=list)


def _ask_count(ctx: Context, draft: Order) -> str:
    return f"How many {draft.dish}?"


def _on_count(message: Message, ctx: Context, draft: Order) -> Reply:
    if not message.text.isdecimal():
        return Reply("A number, please.")
    draft.count = int(message.text)
    return CONFIRM.ask(ctx, draft)


def _ask_confirm(ctx: Context, draft: Order) -> str:
    return f"{draft.count} {draft.dish}, right?"


def _on_confirm(message: Message, ctx: Context, draft: Order) -> Reply:
    ctx.end_flow()
    return Reply(f"Ordered {draft.count} {draft.dish}.")


def _expired(ctx: Context, draft: Order) -> str:
    return f"Your {draft.dish} order expired."


def _gone(ctx: Context, draft: Order) -> str | None:
    return "Sold out." if draft.dish in SOLD_OUT else None


SOLD_OUT: set[str] = set()
COUNT = Step("order.count", _on_count, _ask_count)
CONFIRM = Step("order.confirm", _on_confirm, _ask_confirm)
ORDER = Flow(Order, (COUNT, CONFIRM), expired=_expired, gone=_gone)


class MemorySessions:
    def __init__(self) -> None:
        self.stored: dict[str, FlowState] = {}

    def save(self, openid: str, state: FlowState) -> None:
        self.stored[openid] = FlowState(state.name, json.loads(json.dumps(state.data)))

    def clear(self, openid: str) -> None:
        self.stored.pop(openid, None)


@dataclass
class Transcript:
    """A resident talking to a router that knows only the toy flow and one word that
    answers anywhere."""

    router: Router = field(init=False)
    sessions: MemorySessions = field(default_factory=MemorySessions)
    now: datetime = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)

    def __post_init__(self) -> None:
        self.router = Router(Catalog({}))
        self.router.add_anywhere_keyword(("help",), lambda message, ctx: Reply("Help."))
        ORDER.register(self.router)

    def context(self) -> Context:
        return Context(
            db=None,  # type: ignore[arg-type]  # the toy flow never reaches the database
            contact=Contact(
                resident_id=1,
                openid=OPENID,
                language="en",
                has_held_pushes=False,
                has_open_conversation=False,
            ),
            sessions=self.sessions,
            link_codes=NO_LINK_CODES,
            catalog=self.router.catalog,
            settings=HandlerSettings(timezone=ZoneInfo("Asia/Shanghai"), flow_ttl_s=600),
            now=self.now,
            flow=self.sessions.stored.get(OPENID),
        )

    def start(self, dish: str) -> str:
        return COUNT.ask(self.context(), Order(dish=dish)).text

    def say(self, text: str) -> str:
        message = Message(openid=OPENID, type=MessageType.TEXT, created_at=self.now, text=text)
        reply = self.router.dispatch(message, self.context())
        return reply.text if reply is not None else ""

    def stored(self) -> FlowState | None:
        return self.sessions.stored.get(OPENID)


@pytest.fixture
def toy() -> Iterator[Transcript]:
    yield Transcript()
    SOLD_OUT.clear()


def test_steps_move_the_draft_on_and_store_only_what_was_said(toy: Transcript) -> None:
    assert toy.start("dumplings") == "How many dumplings?"
    assert toy.stored() == FlowState(
        "order.count", {"dish": "dumplings", "touched": "2026-05-01T02:00:00+00:00"}
    )
    assert toy.say("many") == "A number, please."
    assert toy.say("3") == "3 dumplings, right?"
    stored = toy.stored()
    assert stored is not None and stored.name == "order.confirm"
    assert stored.data == {"dish": "dumplings", "count": 3, "touched": stored.data["touched"]}
    assert toy.say("yes") == "Ordered 3 dumplings."
    assert toy.stored() is None


def test_a_word_that_answers_anywhere_asks_the_step_again(toy: Transcript) -> None:
    toy.start("noodles")
    toy.say("2")
    assert toy.say("help") == "Help.\n\n2 noodles, right?"
    assert toy.say("yes") == "Ordered 2 noodles."


def test_the_draft_expires_after_the_flow_ttl_from_its_last_step(toy: Transcript) -> None:
    toy.start("buns")
    toy.now += timedelta(seconds=600)
    assert toy.say("2") == "2 buns, right?"
    toy.now += timedelta(seconds=601)
    assert toy.say("yes") == "Your buns order expired."
    assert toy.stored() is None


def test_the_question_asked_again_says_the_draft_expired(toy: Transcript) -> None:
    toy.start("buns")
    toy.now += timedelta(seconds=601)
    assert toy.say("help") == "Help.\n\nYour buns order expired."
    assert toy.stored() is None


def test_a_draft_stored_without_its_age_counts_as_expired(toy: Transcript) -> None:
    toy.sessions.save(OPENID, FlowState("order.count", {"dish": "rice"}))
    assert toy.say("1") == "Your rice order expired."


def test_the_flow_ends_when_what_it_is_about_is_gone(toy: Transcript) -> None:
    toy.start("tofu")
    SOLD_OUT.add("tofu")
    assert toy.say("help") == "Help.\n\nSold out."
    assert toy.stored() is None


def test_a_draft_leaves_out_fields_at_their_default_and_loads_what_is_stored() -> None:
    assert Order(dish="tea").dump() == {"dish": "tea"}
    full = Order(dish="tea", count=2, notes=["hot"])
    assert full.dump() == {"dish": "tea", "count": 2, "notes": ["hot"]}
    assert Order.load({**full.dump(), "touched": "2026-05-01T02:00:00+00:00"}) == full


# The sign-up gains the flow TTL --------------------------------------------------------------


@pytest.fixture
def event_id(services: Services, clock: FakeClock) -> int:
    """A published event two days ahead that asks for a name and mobile and a party size."""
    with services.session_factory() as db, db.begin():
        return create_event(
            db,
            title="社区花园共建",
            starts_at=clock.now + timedelta(days=2),
            capacity=10,
            now=clock.now,
            max_party_size=3,
            contact_required=True,
            publish=True,
        ).id


def stored_flow(services: Services, openid: str) -> FlowState | None:
    return services.sessions.parse(services.redis.get(f"aixiang:flow:{openid}"))


def signups(services: Services) -> list[Signup]:
    with services.session_factory() as db:
        return list(db.execute(select(Signup)).scalars())


def test_a_sign_up_left_for_the_flow_ttl_expires(
    chat: Chat, services: Services, clock: FakeClock, event_id: int
) -> None:
    ttl = services.config.bot.flow_ttl_s
    chat.say(f"报名 {event_id}")
    clock.advance(seconds=ttl - 1)
    assert chat.say("张三") == "请回复您的手机号（11 位）。"
    clock.advance(seconds=ttl + 1)
    assert chat.say("13812345678") == (
        f"您对活动 {event_id} 的报名超过 30 分钟没有回复，已过期，没有为您报名。"
        f"发送“报名 {event_id}”重新开始。"
    )
    assert stored_flow(services, chat.openid) is None
    assert chat.say("同意").startswith("抱歉，没有看懂")
    assert signups(services) == []
    with services.session_factory() as db:
        person = db.execute(select(Resident).where(Resident.openid == chat.openid)).scalar_one()
        assert person.name is None and person.mobile is None


def test_help_after_a_sign_up_expired_says_it_expired_in_english(
    chat: Chat, services: Services, clock: FakeClock, event_id: int
) -> None:
    chat.say("English")
    chat.say(f"signup {event_id}")
    clock.advance(seconds=services.config.bot.flow_ttl_s + 1)
    assert chat.say("help").endswith(
        f"\n\nYour sign-up for event {event_id} waited more than 30 minutes and expired; "
        f"you are not signed up. Send 'signup {event_id}' to start again."
    )
    assert stored_flow(services, chat.openid) is None


def test_a_sign_up_stored_before_drafts_had_an_age_counts_as_expired(
    chat: Chat, services: Services, event_id: int
) -> None:
    """Sign-up drafts were stored without ``touched`` before the flow TTL applied to them;
    one still in Redis at the upgrade is dropped with the expiry reply, never signed up."""
    services.sessions.save(chat.openid, FlowState("event.party_size", {"event_id": event_id}))
    assert "已过期" in chat.say("2")
    assert signups(services) == []


# The stored shape ---------------------------------------------------------------------------


def test_a_sign_up_draft_is_stored_with_its_keys_of_before(
    chat: Chat, services: Services, clock: FakeClock, event_id: int
) -> None:
    touched = clock.now.isoformat()
    chat.say(f"报名 {event_id}")
    chat.say("张三")
    assert stored_flow(services, chat.openid) == FlowState(
        "event.contact_mobile",
        {"event_id": event_id, "name": "张三", "touched": touched},
    )
    chat.say("13812345678")
    chat.say("同意")
    # Agreed: the name and mobile are the resident's now, no longer the draft's.
    assert stored_flow(services, chat.openid) == FlowState(
        "event.party_size", {"event_id": event_id, "touched": touched}
    )


def test_a_need_draft_is_stored_with_its_keys_of_before(
    chat: Chat, services: Services, clock: FakeClock
) -> None:
    chat.say("需求")
    chat.say("同意")
    chat.say("2")
    chat.say("村口垃圾桶满了")
    assert stored_flow(services, chat.openid) == FlowState(
        "need.photos",
        {"category": "environment", "text": "村口垃圾桶满了", "touched": clock.now.isoformat()},
    )


def test_a_need_draft_stored_by_the_old_code_is_submitted(
    chat: Chat, services: Services, clock: FakeClock
) -> None:
    """The need flow stored unanswered keys as null and photos as pairs; such a draft
    still in Redis at the upgrade goes on where it was."""
    data = {
        "touched": clock.now.isoformat(),
        "category": "environment",
        "text": "村口垃圾桶满了",
        "photos": [["media-1", "https://example.invalid/1.jpg"]],
        "place": None,
        "lat": None,
        "lng": None,
    }
    chat.say("需求")
    chat.say("同意")
    services.sessions.save(chat.openid, FlowState("need.confirm", data))
    assert "N-000001" in chat.say("确认")
    with services.session_factory() as db:
        need = db.execute(select(Need)).scalar_one()
        photos = list(db.execute(select(NeedPhoto)).scalars())
    assert (need.category, need.description, need.place) == ("environment", "村口垃圾桶满了", None)
    assert [photo.media_id for photo in photos] == ["media-1"]
