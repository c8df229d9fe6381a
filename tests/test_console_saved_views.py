"""Saved views of the needs queue (models/needs/saved_views.py, bot/console/needs/
saved_views.py), on both databases: an account saves the queue's filters and sort under a
name, sees them beside the built-in views, opens, renames and deletes its own (each
audited); another account's view is a 404; a view's filters that no longer apply are left
out with a notice, never an error; a partner's view never widens its scope."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from bot.webhook_services import WebhookServices
from models.accounts.queries import get_account
from models.audit import AuditEntry, AuditObject
from models.needs.queue import OPEN, FilterKey, QueueSort, read_filter
from models.needs.tables import SavedView
from tests.conftest import FakeClock
from tests.console import Console, MakeAccount, alert
from tests.helpers import count
from tests.workbench import MakeNeed

ROWS = re.compile(r'<tr id="need-(N-\d+)"')
NOTICE = re.compile(r'class="notice" role="status">([^<]*)<')


def signed_in(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    login: str,
    role: str,
    partner: str | None = None,
) -> Console:
    make_account(login, role, partner=partner)
    person = browser()
    person.sign_in(login)
    return person


def save(person: Console, name: str, **filters: str) -> tuple[int, str]:
    response = person.post("/console/needs/views", {"name": name, "back": urlencode(filters)})
    return response.status_code, response.get_data(as_text=True)


def opened(person: Console, view_id: int) -> tuple[str, list[str], list[str]]:
    """Opening a view: the queue address it leads to, the needs there, the notices."""
    response = person.get(f"/console/needs/views/{view_id}")
    assert response.status_code == 302
    target = response.headers["Location"]
    page = person.get(target).get_data(as_text=True)
    return target, ROWS.findall(page), NOTICE.findall(page)


def views_of(services: WebhookServices, login_id: int) -> list[SavedView]:
    with services.session_factory() as db:
        return list(db.execute(select(SavedView).where(SavedView.account_id == login_id)).scalars())


def test_staff_save_open_rename_and_delete_their_own_views_each_audited(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    make_need: MakeNeed,
    services: WebhookServices,
) -> None:
    lamp = make_need("老街路灯坏了", days_old=4)
    books = make_need("图书室缺书", category="education", days_old=1, openid="o-b")
    later_books = make_need("缺少儿童读物", category="education", openid="o-c")
    li = signed_in(browser, make_account, "li", "staff")
    code, _ = save(li, "  教育 最新 ", status="open", category="education", sort="newest")
    assert code == 302
    [view] = views_of(services, _account_id(services, "li"))
    assert view.name == "教育 最新"
    assert view.filters == {"status": "open", "category": "education", "sort": "newest"}
    queue = li.get("/console/needs/").get_data(as_text=True)
    assert f'id="my-view-{view.id}"' in queue and 'id="view-open"' in queue
    target, rows, notices = opened(li, view.id)
    assert "category=education" in target and "sort=newest" in target
    assert rows == [later_books, books] and notices == []
    assert lamp not in rows

    renamed = li.post(f"/console/needs/views/{view.id}/rename", {"name": "教育"})
    assert renamed.status_code == 302
    assert li.post(f"/console/needs/views/{view.id}/delete").status_code == 302
    assert views_of(services, _account_id(services, "li")) == []
    with services.session_factory() as db:
        entries = db.execute(
            select(AuditEntry)
            .where(AuditEntry.object_type == AuditObject.SAVED_VIEW)
            .order_by(AuditEntry.id)
        ).scalars()
        assert [(e.actor_name, e.action, e.object_id, e.before, e.after) for e in entries] == [
            (
                "li",
                "view.save",
                view.id,
                None,
                {"name": "教育 最新", "status": "open", "category": "education", "sort": "newest"},
            ),
            ("li", "view.rename", view.id, {"name": "教育 最新"}, {"name": "教育"}),
            (
                "li",
                "view.delete",
                view.id,
                {"name": "教育", "status": "open", "category": "education", "sort": "newest"},
                None,
            ),
        ]


def _account_id(services: WebhookServices, login: str) -> int:
    with services.session_factory() as db:
        return get_account(db, login).id


def test_a_bad_name_is_said_next_to_the_field_and_nothing_is_saved(
    browser: Callable[[], Console], make_account: MakeAccount, services: WebhookServices
) -> None:
    li = signed_in(browser, make_account, "li", "staff")
    assert save(li, "新需求", status="submitted")[0] == 302
    audited = count(services, AuditEntry)
    for name, says in [
        ("   ", "视图名称须为 1 到 60 个字"),
        ("长" * 61, "视图名称须为 1 到 60 个字"),
        ("新需求", "您已经有一个名为“新需求”的视图"),
    ]:
        code, page = save(li, name, status="open")
        assert code == 400 and 'id="view-name-error"' in page
        assert says in page
    [view] = views_of(services, _account_id(services, "li"))
    manage = li.get("/console/needs/views").get_data(as_text=True)
    assert f'id="rename-{view.id}"' in manage
    assert save(li, "另一个", status="open")[0] == 302
    refused = li.post(f"/console/needs/views/{view.id}/rename", {"name": "另一个"})
    assert refused.status_code == 400 and alert(refused) == "您已经有一个名为“另一个”的视图"
    assert 'id="rename-error"' in refused.get_data(as_text=True)
    assert count(services, AuditEntry) == audited + 1, "only the second view's save"


def test_nobody_opens_renames_or_deletes_another_accounts_view(
    browser: Callable[[], Console], make_account: MakeAccount, services: WebhookServices
) -> None:
    li = signed_in(browser, make_account, "li", "staff")
    save(li, "我的", status="open")
    [view] = views_of(services, _account_id(services, "li"))
    wang = signed_in(browser, make_account, "wang", "admin")
    assert f'id="my-view-{view.id}"' not in wang.get("/console/needs/").get_data(as_text=True)
    assert wang.get(f"/console/needs/views/{view.id}").status_code == 404
    assert wang.post(f"/console/needs/views/{view.id}/rename", {"name": "x"}).status_code == 404
    assert wang.post(f"/console/needs/views/{view.id}/delete").status_code == 404
    assert wang.get("/console/needs/views/99999999999").status_code == 404
    assert [v.name for v in views_of(services, _account_id(services, "li"))] == ["我的"]


def test_an_old_views_filters_that_no_longer_apply_are_left_out_with_a_notice(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    make_need: MakeNeed,
    services: WebhookServices,
    clock: FakeClock,
) -> None:
    lamp = make_need("路灯", days_old=2)
    li = signed_in(browser, make_account, "li", "staff")
    with services.session_factory() as db, db.begin():
        old = SavedView(
            account_id=_account_id(services, "li"),
            name="旧的",
            filters={
                "status": "open",
                "category": "retired",
                "sort": "loudest",
                "colour": "red",
                "age": 5,
            },
            created_at=clock.now,
            updated_at=clock.now,
        )
        db.add(old)
        db.flush()
        view_id = old.id
    target, rows, notices = opened(li, view_id)
    assert rows == [lamp]
    assert notices == [
        "这个视图的部分筛选已不再适用，已略去：类别、至少已等待（天）、排序、旧版本的筛选。"
    ]
    assert "category" not in target and "sort" not in target


def test_a_partners_view_never_widens_its_scope(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    make_need: MakeNeed,
    partners: dict[str, int],
    services: WebhookServices,
    clock: FakeClock,
) -> None:
    ours = make_need("我们的路灯", partner=partners["镇建设办"])
    make_need("别人的路灯", partner=partners["绿源"], openid="o-b")
    make_need("没分派的路灯", openid="o-c")
    jsb = signed_in(browser, make_account, "jsb", "partner", partner="镇建设办")
    assert save(jsb, "路灯", status="open", q="路灯", partner=str(partners["绿源"]))[0] == 302
    [view] = views_of(services, _account_id(services, "jsb"))
    assert view.filters == {"status": "open", "q": "路灯"}, "no partner, no scope stored"
    assert opened(jsb, view.id)[1] == [ours]
    with services.session_factory() as db, db.begin():
        stored = db.get_one(SavedView, view.id)
        stored.filters = {"status": "", "partner": str(partners["绿源"])}
    _, rows, notices = opened(jsb, view.id)
    assert rows == [ours]
    assert notices == ["这个视图的部分筛选已不再适用，已略去：合作机构。"]


@pytest.mark.parametrize("role", ["viewer", "foundation"])
def test_a_read_only_role_keeps_views_of_its_own(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    services: WebhookServices,
    role: str,
) -> None:
    reader = signed_in(browser, make_account, "reader", role)
    assert save(reader, "全部", status="")[0] == 302
    [view] = views_of(services, _account_id(services, "reader"))
    assert reader.post(f"/console/needs/views/{view.id}/delete").status_code == 302
    assert reader.post("/console/needs/bulk", {"action": "acknowledge"}).status_code == 403


def test_read_filter_leaves_out_what_is_not_a_choice() -> None:
    read = read_filter(
        {
            "status": 7,
            "category": "education",
            "village": "x",
            "age": "12",
            "over": "yes",
            "sort": "demand",
            "q": ["a"],
        },
        ["education"],
        None,
    )
    assert read.wanted.status == OPEN and read.wanted.category == "education"
    assert read.wanted.min_age_days == 12 and read.wanted.sort == QueueSort.DEMAND
    assert read.dropped == (
        FilterKey.STATUS,
        FilterKey.VILLAGE,
        FilterKey.TEXT,
        FilterKey.OVER_TIME,
    )
    assert read_filter({}, [], 3).wanted.scope_partner_id == 3
