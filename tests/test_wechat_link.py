"""Linking a console account's WeChat by the one-time code its page shows: 绑定 CODE /
link CODE as transcripts at the handler level (a wrong, expired or used code, too many
tries, a WeChat already linked elsewhere, each with a clear reply and nothing linked),
and once through the real webhook."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.link_codes import CODE_TTL_S, KEY_PREFIX, MAX_ISSUED, MAX_TRIES, LinkCodes
from bot.services import Services
from models.accounts.operations import link_wechat
from models.accounts.tables import Account
from models.audit import Actor, AuditAction, AuditEntry
from tests.chat import Chat
from tests.console import MakeAccount
from tests.transcript import Talk

WRONG_ZH = (
    "绑定码不正确、已过期或已用过（每个绑定码 10 分钟内有效，只能用一次）。"
    "请在控制台“我的账号”页面获取新的绑定码。"
)
WRONG_EN = (
    "That link code is wrong, expired or already used (a code lasts 10 minutes and works "
    "once). Get a new one on your account page in the console."
)
LATER_ZH = "暂时无法绑定，请过 10 分钟再试。"


def linked_ids(services: Services, login: str) -> str | None:
    with services.session_factory() as db:
        query = select(Account.wechat_openid).where(Account.login == login)
        return db.execute(query).scalar_one()


@pytest.fixture
def codes(services: Services) -> LinkCodes:
    return LinkCodes(lambda: services.redis)


def test_a_code_links_the_wechat_that_sends_it_once(
    talk: Talk, services: Services, codes: LinkCodes, make_account: MakeAccount
) -> None:
    account_id = make_account("li", "staff")
    code = codes.issue(account_id)
    assert code is not None and len(code) == 6 and code.isdigit()
    assert 0 < int(services.redis.ttl(f"{KEY_PREFIX}:code:{code}")) <= CODE_TTL_S
    talk.verify(
        [
            (
                f"绑定 {code}",
                "已绑定控制台账号 li。可在控制台“我的账号”页面开启每周报告。",
            ),
            (f"绑定 {code}", WRONG_ZH),  # used
        ]
    )
    assert linked_ids(services, "li") == talk.openid
    with services.session_factory() as db:
        [entry] = db.execute(
            select(AuditEntry).where(AuditEntry.action == AuditAction.ACCOUNT_WECHAT)
        ).scalars()
    assert (entry.actor_name, entry.object_id) == ("li", account_id)
    assert entry.after == {"wechat_openid": talk.openid}


def test_a_wrong_or_expired_code_links_nothing(
    talk: Talk, services: Services, codes: LinkCodes, make_account: MakeAccount
) -> None:
    code = codes.issue(make_account("li", "staff"))
    assert code is not None
    services.redis.delete(f"{KEY_PREFIX}:code:{code}")  # what its TTL does
    wrong = "000000" if code != "000000" else "000001"
    talk.verify([(f"绑定 {code}", WRONG_ZH), (f"绑定 {wrong}", WRONG_ZH)])
    talk.as_resident("o-english").verify([("link abc", WRONG_EN)])
    assert linked_ids(services, "li") is None


def test_a_new_code_replaces_the_last_one(
    talk: Talk, services: Services, codes: LinkCodes, make_account: MakeAccount
) -> None:
    """Replies are in the follower's language (here, their first words'), not the account's."""
    account_id = make_account("li", "staff")
    first, second = codes.issue(account_id), codes.issue(account_id)
    assert first != second
    talk.verify(
        [
            (f"link {first}", WRONG_EN),
            (
                f"link {second}",
                "Linked to the console account li. You can turn on the weekly report on your "
                "account page in the console.",
            ),
        ]
    )


def test_too_many_tries_are_refused_even_with_the_right_code(
    talk: Talk, services: Services, codes: LinkCodes, make_account: MakeAccount
) -> None:
    code = codes.issue(make_account("li", "staff"))
    wrong = "000000" if code != "000000" else "000001"
    for _ in range(MAX_TRIES):
        assert talk.say(f"绑定 {wrong}") == WRONG_ZH
    assert talk.say(f"绑定 {code}") == LATER_ZH
    assert linked_ids(services, "li") is None
    # Another follower's tries are their own.
    other = talk.as_resident("o-other")
    assert other.say(f"绑定 {code}").startswith("已绑定控制台账号 li")


def test_an_account_asks_for_a_few_codes_at_most(
    codes: LinkCodes, make_account: MakeAccount
) -> None:
    account_id = make_account("li", "staff")
    issued = [codes.issue(account_id) for _ in range(MAX_ISSUED + 1)]
    assert None not in issued[:MAX_ISSUED]
    assert issued[MAX_ISSUED] is None


def test_a_wechat_linked_to_another_account_is_refused(
    talk: Talk, services: Services, codes: LinkCodes, make_account: MakeAccount
) -> None:
    taken = make_account("wang", "staff")
    with services.session_factory() as db, db.begin():
        link_wechat(
            db, Actor.os_user("root"), db.get_one(Account, taken), talk.openid, services.clock()
        )
    code = codes.issue(make_account("li", "staff"))
    talk.verify([(f"绑定 {code}", "这个微信已绑定账号 wang")])
    assert linked_ids(services, "li") is None


def test_linking_through_the_webhook(
    chat: Chat, services: Services, codes: LinkCodes, make_account: MakeAccount
) -> None:
    code = codes.issue(make_account("li", "staff"))
    reply = chat.say(f"绑定 {code}", openid="o-li-phone")
    assert reply.startswith("已绑定控制台账号 li")
    assert linked_ids(services, "li") == "o-li-phone"
