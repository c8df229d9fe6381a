"""The needs workbench through the console's routes: the queue's filters, a bulk change
asked once more then made through the same operation as ``aixiang needs update`` (same
history, pushes and audit), a need's page and its changes, public and internal notes,
response templates, the category, a duplicate picked from a search, photos; and who may
do what (a partner's 404s, a read-only role's 403s, CSRF)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from bot.app import create_app
from bot.webhook_services import WebhookServices
from models.audit import AuditAction, AuditEntry
from models.needs.queries import get_need, need_history
from models.needs.tables import NeedPhoto, NeedStatus, PhotoStatus
from models.push.outbox import OutboxMessage
from models.push.registry import PushKind
from models.residents import Resident
from tests.cli import run
from tests.console import Console, MakeAccount
from tests.helpers import pushes
from tests.workbench import MakeNeed

ROWS = re.compile(r'<tr id="need-(N-\d+)"')


def queue_refs(person: Console, query: str = "") -> list[str]:
    response = person.get(f"/console/needs/?{query}")
    assert response.status_code == 200
    return ROWS.findall(response.get_data(as_text=True))


@pytest.fixture
def li(browser: Callable[[], Console], make_account: MakeAccount) -> Console:
    """A staff member, signed in."""
    make_account("li", "staff")
    person = browser()
    person.sign_in("li")
    return person


def test_the_queue_filters_sorts_and_keeps_the_filter_in_the_address(
    li: Console, make_need: MakeNeed, partners: dict[str, int]
) -> None:
    lamp = make_need("老街路灯坏了", days_old=4)
    books = make_need("图书室缺书", category="education", days_old=1, openid="o-b")
    river = make_need("河边垃圾", category="environment", partner=partners["绿源"])
    assert queue_refs(li) == [lamp, books, river]
    assert queue_refs(li, "status=open&q=路灯") == [lamp]
    assert queue_refs(li, "status=open&category=education") == [books]
    assert queue_refs(li, f"status=open&partner={partners['绿源']}") == [river]
    assert queue_refs(li, "status=open&over=1") == [lamp]
    assert queue_refs(li, "status=open&sort=newest") == [river, books, lamp]
    assert queue_refs(li, "status=open&age=2") == [lamp]
    # Values that are not choices narrow nothing; the page still opens.
    assert queue_refs(li, "status=nonsense&category=x&partner=abc&age=-1&sort=up&page=x") == [
        lamp,
        books,
        river,
    ]
    page = li.get("/console/needs/?status=open&q=路灯").get_data(as_text=True)
    assert "共 1 条 · 第 1/1 页" in page
    assert 'id="view-over_time"' in page and 'id="view-unassigned"' in page


def bulk(person: Console, refs: list[str], **fields: str) -> tuple[int, str]:
    data = [("need", ref) for ref in refs] + list(fields.items())
    response = person.client.post(
        "/console/needs/bulk", data=MultiDict([("csrf_token", person.csrf()), *data])
    )
    return response.status_code, response.get_data(as_text=True)


def test_a_bulk_acknowledge_asks_once_then_queues_what_the_cli_queues(
    li: Console,
    make_need: MakeNeed,
    services: WebhookServices,
    staff: CliRunner,
) -> None:
    by_console = [make_need(f"路灯 {n}", openid=f"o-{n}") for n in range(3)]
    by_cli = make_need("路灯 cli", openid="o-cli")
    status, page = bulk(li, by_console, action="acknowledge", note="收到", public="1")
    assert status == 200 and "确认处理 3 条需求" in page
    assert pushes(services) == []  # asked, not done
    status, _ = bulk(li, by_console, action="acknowledge", note="收到", public="1", confirmed="1")
    assert status == 302
    run(
        staff,
        "needs",
        "update",
        by_cli,
        "--status",
        "acknowledged",
        "--note",
        "收到",
        "--public",
        "--as",
        "li",
    )
    queued = pushes(services)
    assert [(p.kind, p.recipient_openid) for p in queued] == [
        (PushKind.NEED_STATUS, openid) for openid in ("o-0", "o-1", "o-2", "o-cli")
    ]
    with services.session_factory() as db:
        for ref, push in zip([*by_console, by_cli], queued, strict=True):
            need = get_need(db, ref)
            entry = need_history(db, need)[-1]
            assert (entry.by, entry.to_status, entry.note, entry.public) == (
                "li",
                NeedStatus.ACKNOWLEDGED,
                "收到",
                True,
            )
            assert push.idempotency_key == f"need_status:{need.id}:{entry.id}"
            assert push.payload["fields"]["ref"] == ref
            cli_text = queued[-1].payload["text"]["zh"].replace(by_cli, ref)
            assert push.payload["text"]["zh"] == cli_text
        changes = select(AuditEntry).where(AuditEntry.action != AuditAction.ACCOUNT_ADD)
        audits = db.execute(changes.order_by(AuditEntry.id)).scalars().all()
        assert [(a.action, a.actor_name) for a in audits] == [(AuditAction.NEED_UPDATE, "li")] * 4
        assert audits[0].after == audits[-1].after


def test_a_bulk_change_one_need_refuses_changes_none(
    li: Console, make_need: MakeNeed, services: WebhookServices
) -> None:
    fresh = make_need("新的")
    done = make_need("已解决", status=NeedStatus.RESOLVED)
    queued = len(pushes(services))
    status, page = bulk(li, [fresh, done], action="acknowledge", confirmed="1")
    assert status == 409
    assert f"未做任何更改：{done}: {done} 的状态是“已解决”，不能再更改（不能改为“已受理”）" in page
    with services.session_factory() as db:
        assert get_need(db, fresh).status == NeedStatus.SUBMITTED
    assert len(pushes(services)) == queued
    status, page = bulk(li, [], action="acknowledge", confirmed="1")
    assert status == 400 and "请先勾选需求。" in page
    status, page = bulk(li, [fresh], action="assign", confirmed="1")
    assert status == 400 and "请选择要分派的合作伙伴。" in page
    status, page = bulk(li, [fresh], action="fly", confirmed="1")
    assert status == 400 and "请选择一个操作。" in page
    assert bulk(li, ["N-999999"], action="acknowledge")[0] == 404


def test_a_bulk_assignment_hands_needs_to_a_partner(
    li: Console, make_need: MakeNeed, services: WebhookServices, partners: dict[str, int]
) -> None:
    refs = [make_need("一"), make_need("二")]
    partner = str(partners["镇建设办"])
    assert bulk(li, refs, action="assign", partner=partner, confirmed="1")[0] == 302
    with services.session_factory() as db:
        assert {get_need(db, ref).partner_id for ref in refs} == {partners["镇建设办"]}


def update(person: Console, ref: str, **fields: str) -> tuple[int, str]:
    response = person.post(f"/console/needs/{ref}/update", fields)
    return response.status_code, response.get_data(as_text=True)


def test_public_notes_reach_everyone_who_said_me_too_and_internal_notes_no_one(
    li: Console, make_need: MakeNeed, services: WebhookServices
) -> None:
    lamp = make_need("路灯坏了", days_old=2)
    me_too = make_need("我这边路灯也坏了", openid="o-b")
    assert update(li, me_too, duplicate_of=lamp, note="同一盏灯")[0] == 302
    before = len(pushes(services))
    assert update(li, lamp, note="只给同事看", public="")[0] == 302
    assert len(pushes(services)) == before
    assert update(li, lamp, note="明天来修", public="1")[0] == 302
    notes = pushes(services, PushKind.NEED_NOTE)
    assert sorted(p.recipient_openid for p in notes) == ["o-a", "o-b"]
    page = li.get(f"/console/needs/{lamp}").get_data(as_text=True)
    assert "只给同事看" in page and "明天来修" in page and me_too in page
    assert "/console/residents/2" in page  # who said "me too", for staff who read residents
    assert "待发送" in page  # the pushes about it, each with its status
    assert update(li, lamp, note="   ", public="1")[0] == 409  # a public note needs words


def test_a_duplicate_is_picked_from_a_search(
    li: Console, make_need: MakeNeed, services: WebhookServices
) -> None:
    lamp = make_need("老街路灯坏了", days_old=2)
    asking = make_need("路灯不亮", openid="o-b")
    found = li.get(f"/console/needs/{asking}/originals?q=老街").get_data(as_text=True)
    assert f'value="{lamp}"' in found and f'value="{asking}"' not in found
    assert update(li, asking, duplicate_of=lamp, note="同一盏")[0] == 302
    with services.session_factory() as db:
        need = get_need(db, asking)
        assert (need.status, need.duplicate_of_id) == (NeedStatus.DUPLICATE, get_need(db, lamp).id)
    assert update(li, lamp, duplicate_of="N-999999", note="x")[0] == 400


def test_a_template_fills_the_note_box_in_the_residents_language(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    make_need: MakeNeed,
    services: WebhookServices,
    li: Console,
) -> None:
    make_account("ops", "admin")
    admin = browser()
    admin.sign_in("ops")
    saved = admin.post(
        "/console/templates/",
        {
            "category": "infrastructure",
            "title": "已派人",
            "text_zh": "我们已派人查看。",
            "text_en": "Someone is on the way.",
        },
    )
    assert saved.status_code == 302
    refused = admin.post(
        "/console/templates/",
        {"category": "infrastructure", "title": "已派人", "text_zh": "x", "text_en": "y"},
    )
    assert refused.status_code == 400
    assert li.get("/console/templates/").status_code == 403
    ref = make_need("路灯")
    page = li.get(f"/console/needs/{ref}").get_data(as_text=True)
    template = re.search(r"template=(\d+)", page)
    assert template is not None
    box = li.get(f"/console/needs/{ref}/note-box?template={template.group(1)}")
    assert "我们已派人查看。" in box.get_data(as_text=True)
    with services.session_factory() as db, db.begin():
        need = get_need(db, ref)
        resident = db.get(Resident, need.resident_id)
        assert resident is not None
        resident.language = "en"
    box = li.get(f"/console/needs/{ref}/note-box?template={template.group(1)}")
    assert "Someone is on the way." in box.get_data(as_text=True)
    other = make_need("图书", category="education")
    assert (
        li.get(f"/console/needs/{other}/note-box?template={template.group(1)}").status_code == 404
    )


def test_the_category_changes_with_an_audit_entry(
    li: Console, make_need: MakeNeed, services: WebhookServices
) -> None:
    ref = make_need("路灯")
    assert li.post(f"/console/needs/{ref}/category", {"category": "education"}).status_code == 302
    assert li.post(f"/console/needs/{ref}/category", {"category": "nonsense"}).status_code == 400
    same = li.post(f"/console/needs/{ref}/category", {"category": "education"})
    assert same.status_code == 400 and f"{ref} 已属于“教育”" in same.get_data(as_text=True)
    with services.session_factory() as db:
        assert get_need(db, ref).category == "education"
        entry = db.execute(
            select(AuditEntry).where(AuditEntry.action == AuditAction.NEED_CATEGORY)
        ).scalar_one()
        assert (entry.before, entry.after) == (
            {"category": "infrastructure"},
            {"category": "education"},
        )


def add_photo(services: WebhookServices, ref: str, media: Path) -> None:
    (media / "p.jpg").write_bytes(b"\xff\xd8photo")
    with services.session_factory() as db, db.begin():
        need = get_need(db, ref)
        db.add(
            NeedPhoto(
                need_id=need.id,
                position=1,
                status=PhotoStatus.FETCHED,
                local_path="p.jpg",
                content_type="image/jpeg",
                created_at=need.created_at,
            )
        )


def test_a_partner_sees_only_its_organisations_needs_anywhere(
    services: WebhookServices,
    make_account: MakeAccount,
    make_need: MakeNeed,
    partners: dict[str, int],
    tmp_path: Path,
) -> None:
    config = replace(services.config, needs=replace(services.config.needs, media_dir=str(tmp_path)))
    app = create_app(services=replace(services, config=config))
    ours = make_need("我们的路灯", partner=partners["镇建设办"], status=NeedStatus.ACKNOWLEDGED)
    theirs = make_need("别人的路灯", partner=partners["绿源"], status=NeedStatus.ACKNOWLEDGED)
    unassigned = make_need("没分派的路灯")
    add_photo(services, theirs, tmp_path)
    make_account("jsb", "partner", partner="镇建设办")
    partner = Console(app.test_client())
    partner.sign_in("jsb")
    assert queue_refs(partner) == [ours]
    queue = partner.get("/console/needs/").get_data(as_text=True)
    assert "本机构的未结需求" in queue and 'id="view-unassigned"' not in queue
    assert 'id="filter-partner"' not in queue and 'value="assign"' not in queue
    assert queue_refs(partner, f"partner={partners['绿源']}&q=路灯&status=") == [ours]
    for ref in (theirs, unassigned):
        for path in ("", "/photos/1", "/originals?q=路灯", "/note-box?template=1"):
            response = partner.get(f"/console/needs/{ref}{path}")
            response.close()
            assert response.status_code == 404, (ref, path)
        assert update(partner, ref, status="in_progress")[0] == 404
        assert bulk(partner, [ours, ref], action="acknowledge")[0] == 404
    found = partner.get(f"/console/needs/{ours}/originals?q=路灯").get_data(as_text=True)
    assert theirs not in found and unassigned not in found
    # Its own need: it moves it on, but does not hand it to anyone or refile it.
    assert update(partner, ours, status="in_progress", note="开工")[0] == 302
    assert update(partner, ours, partner=str(partners["绿源"]))[0] == 403
    assert partner.post(f"/console/needs/{ours}/category", {"category": "other"}).status_code == 403
    staff_console = Console(app.test_client())
    make_account("li", "staff")
    staff_console.sign_in("li")
    photo = staff_console.get(f"/console/needs/{theirs}/photos/1")
    assert (photo.status_code, photo.data) == (200, b"\xff\xd8photo")
    assert photo.headers["Cache-Control"] == "private, no-store"
    photo.close()
    assert staff_console.get(f"/console/needs/{theirs}/photos/2").status_code == 404


@pytest.mark.parametrize("role", ["viewer", "foundation"])
def test_a_read_only_role_reads_the_queue_and_changes_nothing(
    browser: Callable[[], Console],
    make_account: MakeAccount,
    make_need: MakeNeed,
    services: WebhookServices,
    role: str,
) -> None:
    ref = make_need("路灯")
    make_account("reader", role)
    reader = browser()
    reader.sign_in("reader")
    assert queue_refs(reader) == [ref]
    page = reader.get(f"/console/needs/{ref}").get_data(as_text=True)
    assert 'id="need-note"' not in page and 'name="need"' not in page
    assert update(reader, ref, status="acknowledged")[0] == 403
    assert bulk(reader, [ref], action="acknowledge", confirmed="1")[0] == 403
    with services.session_factory() as db:
        assert get_need(db, ref).status == NeedStatus.SUBMITTED


def test_a_change_without_the_csrf_token_is_refused(
    li: Console, make_need: MakeNeed, services: WebhookServices
) -> None:
    ref = make_need("路灯")
    for path, data in (
        (f"/console/needs/{ref}/update", {"status": "acknowledged"}),
        ("/console/needs/bulk", {"need": ref, "action": "acknowledge", "confirmed": "1"}),
        (f"/console/needs/{ref}/category", {"category": "other"}),
    ):
        assert li.client.post(path, data=data).status_code == 400, path
    assert pushes(services) == []
    with services.session_factory() as db:
        need = get_need(db, ref)
        assert (need.status, need.category) == (NeedStatus.SUBMITTED, "infrastructure")
        assert db.execute(select(OutboxMessage)).first() is None


def test_the_place_is_a_map_only_with_a_tile_server(
    services: WebhookServices, make_account: MakeAccount, make_need: MakeNeed
) -> None:
    ref = make_need("路灯", latitude=30.27415, longitude=120.15515, place="西湖区文三路")
    make_account("li", "staff")
    plain = Console(create_app(services=services).test_client())
    plain.sign_in("li")
    page = plain.get(f"/console/needs/{ref}").get_data(as_text=True)
    assert "西湖区文三路 (30.27415, 120.15515)" in page
    assert 'id="need-map"' not in page and "leaflet" not in page
    tiles = "https://tiles.county.example/{z}/{x}/{y}.png"
    config = replace(services.config, console=replace(services.config.console, map_tile_url=tiles))
    mapped = Console(create_app(services=replace(services, config=config)).test_client())
    mapped.sign_in("li")
    page = mapped.get(f"/console/needs/{ref}").get_data(as_text=True)
    assert 'id="need-map"' in page and f'data-tiles="{tiles}"' in page
    for asset in re.findall(r'(?:src|href)="(/console/static/[^"]+)"', page):
        response = mapped.get(asset)
        response.close()
        assert response.status_code == 200, asset
