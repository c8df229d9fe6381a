"""Residents say which village they live in: asked once, at their first need or sign-up,
by number or name, and changed with 我的村 / my village; as handler-level transcripts,
and once through the webhook."""

from __future__ import annotations

from sqlalchemy import select

from bot.services import Services
from models import Need
from models.villages.queries import find_village, village_entry
from tests.chat import Chat
from tests.events import MakeEvent
from tests.helpers import resident, signups
from tests.transcript import Talk
from tests.villages import add_villages

LIST = "1. 朝阳村\n2. 朝阳村·一组\n3. 朝阳村·二组\n4. 李家村"
ASK = f"请问您住在哪个村（社区）？回复编号或名称：\n{LIST}\n不想说请回复“跳过”。"
CATEGORIES = "请选择需求类别（回复数字或名称）："


def village_of(services: Services, openid: str = "o-resident-1") -> str | None:
    """The resident's village as residents read it, or None."""
    with services.session_factory() as db:
        entry = village_entry(db, resident(services, openid).village_id)
    return entry.label if entry is not None else None


def village_id(services: Services, name: str) -> int:
    with services.session_factory() as db:
        return find_village(db, name).id


def finish_need(talk: Talk, place: str = "跳过") -> str:
    """From the category question to the submitted need."""
    talk.say("2")
    talk.say("村口垃圾桶满了没人清")
    talk.say("跳过")
    talk.say(place)
    return talk.say("确认")


def needs_villages(services: Services) -> list[int | None]:
    with services.session_factory() as db:
        return list(db.execute(select(Need.village_id).order_by(Need.id)).scalars())


def test_the_first_need_asks_the_village_by_number(talk: Talk, services: Services) -> None:
    add_villages(services)
    talk.say("需求")
    assert talk.say("同意") == ASK
    chosen = talk.say("4")
    assert chosen.startswith("已记下：李家村。以后发送“我的村”可以随时更改。\n\n")
    assert CATEGORIES in chosen
    assert "N-000001" in finish_need(talk)
    assert village_of(services) == "李家村"
    assert needs_villages(services) == [resident(services, "o-resident-1").village_id]


def test_by_name_a_unique_start_or_part(talk: Talk, services: Services) -> None:
    add_villages(services)
    talk.say("需求")
    talk.say("同意")
    assert talk.say("朝阳").startswith("已记下：朝阳村。")
    talk.say("退出")
    talk.as_resident("o-2").say("需求")
    assert talk.as_resident("o-2").say("同意") == ASK
    assert talk.as_resident("o-2").say("二组").startswith("已记下：朝阳村·二组。")
    talk.as_resident("o-3").say("需求")
    talk.as_resident("o-3").say("同意")
    assert talk.as_resident("o-3").say("朝阳村 一组").startswith("已记下：朝阳村·一组。")
    assert village_of(services, "o-2") == "朝阳村·二组"
    assert village_of(services, "o-3") == "朝阳村·一组"


def test_an_unknown_or_ambiguous_name_is_asked_again_and_the_draft_kept(
    talk: Talk, services: Services
) -> None:
    add_villages(services, {"朝阳村": ("一组",), "李家村": ("一组",)})
    listed = "1. 朝阳村\n2. 朝阳村·一组\n3. 李家村\n4. 李家村·一组"
    talk.say("需求")
    talk.say("同意")
    talk.verify(
        [
            ("王庄", f"没有找到“王庄”。请回复下面的编号或名称：\n{listed}"),
            ("9", f"没有找到“9”。请回复下面的编号或名称：\n{listed}"),
            ("一组", "“一组”可能是以下几个，请回复编号：\n2. 朝阳村·一组\n4. 李家村·一组"),
        ]
    )
    assert resident(services, "o-resident-1").village_asked_at is None
    assert CATEGORIES in talk.say("4")
    assert "N-000001" in finish_need(talk)
    assert village_of(services) == "李家村·一组"


def test_never_asked_twice_even_after_a_skip(talk: Talk, services: Services) -> None:
    add_villages(services)
    talk.say("需求")
    talk.say("同意")
    skipped = talk.say("跳过")
    assert skipped.startswith("好的，不记录。以后发送“我的村”可以随时填写。\n\n")
    assert CATEGORIES in skipped
    finish_need(talk)
    assert CATEGORIES in talk.say("需求")
    assert needs_villages(services) == [None]
    assert resident(services, "o-resident-1").village_asked_at is not None


def test_a_need_whose_place_names_a_village_is_in_it(talk: Talk, services: Services) -> None:
    add_villages(services)
    talk.say("需求")
    talk.say("同意")
    talk.say("4")
    finish_need(talk, place="朝阳村二组村口的桥")
    talk.say("需求")
    finish_need(talk, place="村口的桥")
    with services.session_factory() as db:
        second_group = find_village(db, "朝阳村·二组").id
        home = find_village(db, "李家村").id
    assert needs_villages(services) == [second_group, home]


def test_not_asked_when_no_village_is_configured(talk: Talk, services: Services) -> None:
    talk.say("需求")
    assert CATEGORIES in talk.say("同意")
    talk.say("退出")
    assert talk.say("我的村") == "目前还没有可选的村（社区）。"
    assert resident(services, "o-resident-1").village_asked_at is None


def test_my_village_changes_it_any_time(talk: Talk, services: Services) -> None:
    add_villages(services)
    change = f"您还没有登记村。\n回复编号或名称更改：\n{LIST}\n不改请回复“跳过”。"
    talk.verify(
        [
            ("我的村", change),
            ("王庄", f"没有找到“王庄”。请回复下面的编号或名称：\n{LIST}"),
            ("2", "已记下：朝阳村·一组。以后发送“我的村”可以随时更改。"),
            ("我的村", change.replace("您还没有登记村。", "您登记的村：朝阳村·一组。")),
            ("跳过", "好的，没有更改。"),
            ("我的村！", change.replace("您还没有登记村。", "您登记的村：朝阳村·一组。")),
            ("李家", "已记下：李家村。以后发送“我的村”可以随时更改。"),
        ]
    )
    talk.say("需求")
    assert CATEGORIES in talk.say("同意"), "set through 我的村: not asked again"


def test_the_first_sign_up_asks_and_then_signs_up(
    talk: Talk, services: Services, make_event: MakeEvent
) -> None:
    add_villages(services)
    event = make_event(max_party_size=4)
    assert talk.say(f"报名 {event} 2") == ASK
    assert signups(services, event) == []
    done = talk.say("李家村")
    assert done.startswith("已记下：李家村。")
    assert "报名成功" in done
    assert [s.party_size for s in signups(services, event)] == [2]
    other = make_event(title="读书会")
    assert "报名成功" in talk.say(f"报名 {other}")


def test_in_english(talk: Talk, services: Services, make_event: MakeEvent) -> None:
    add_villages(services)
    event = make_event()
    talk.say("English")
    english = "1. 朝阳村\n2. 朝阳村·一组\n3. 朝阳村·二组\n4. 李家村"
    assert talk.say(f"signup {event}") == (
        "Which village or community do you live in? Reply with its number or name:\n"
        f"{english}\nReply 'skip' if you would rather not say."
    )
    assert talk.say("Wangzhuang") == (
        f"'Wangzhuang' was not found. Reply with a number or a name below:\n{english}"
    )
    assert talk.say("skip").startswith(
        "All right, not noted. Send 'my village' any time to give it.\n\n"
    )
    assert talk.say("my village").startswith("You have not given your village yet.\n")
    assert talk.say("3") == "Noted: 朝阳村·二组. Send 'my village' any time to change it."


def test_through_the_webhook(chat: Chat, services: Services) -> None:
    add_villages(services)
    chat.say("需求")
    assert chat.say("同意") == ASK
    assert CATEGORIES in chat.say("1")
    assert village_of(services, chat.openid) == "朝阳村"


def test_erasing_ones_data_forgets_the_village_but_not_the_needs(
    talk: Talk, services: Services
) -> None:
    add_villages(services)
    talk.say("需求")
    talk.say("同意")
    talk.say("李家村")
    finish_need(talk)
    talk.say("删除我的信息")
    talk.say("确认")
    assert village_of(services) is None
    assert resident(services, "o-resident-1").village_asked_at is None
    with services.session_factory() as db:
        assert needs_villages(services) == [find_village(db, "李家村").id]


def test_a_draft_left_at_the_question_goes_on_without_it_once_answered_elsewhere(
    talk: Talk, services: Services
) -> None:
    add_villages(services)
    talk.say("需求")
    talk.say("同意")
    changed = talk.say("我的村")
    assert changed.startswith("您还没有登记村。")
    assert talk.say("2").startswith("已记下：朝阳村·一组。")
    resumed = talk.say("需求")
    assert CATEGORIES in resumed and "哪个村" not in resumed
    assert "N-000001" in finish_need(talk)
    assert needs_villages(services) == [village_id(services, "朝阳村·一组")]
