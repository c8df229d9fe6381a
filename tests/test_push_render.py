"""A push that cannot be rendered is dead-lettered with the reason, and its batch carries
on: config checks templates at load, but the send path does not rely on that (a payload
written before a template changed, or a pattern the check let through)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from sqlalchemy import select, update

from bot.config.sections import PushTemplate
from bot.services import Services
from bot.wechat.fake_api.server import FakeWeChatServer
from models.push.outbox import OutboxMessage
from scheduler.worker import Worker
from tests.conftest import FakeClock
from tests.pushes import MakePushServices, add_resident, queue


def with_template(services: Services, pattern: str) -> Services:
    """``services`` whose need_status template has ``pattern``, past config's checks."""
    template = PushTemplate("TPL-need", (("first", "{text}"), ("keyword1", pattern)))
    push = replace(services.config.push, templates={"need_status": template})
    return replace(services, config=replace(services.config, push=push))


def states(services: Services) -> dict[str, tuple[str, str | None]]:
    with services.session_factory() as db:
        found = db.execute(
            select(OutboxMessage.recipient_openid, OutboxMessage.status, OutboxMessage.last_error)
        ).all()
    return {openid: (status, error) for openid, status, error in found}


@pytest.mark.parametrize(
    ("pattern", "error"),
    [
        ("{ref", "ValueError"),  # a stray brace
        ("{ref.number}", "AttributeError"),
        ("{ref[0]}", "TypeError"),
        ("{0}", "IndexError"),
        ("{title}", "KeyError"),  # a value this push does not carry
    ],
)
def test_an_unrenderable_template_dead_letters_its_row_and_the_batch_goes_on(
    make_push_services: MakePushServices,
    make_worker: Callable[..., Worker],
    clock: FakeClock,
    fake_wechat: FakeWeChatServer,
    pattern: str,
    error: str,
) -> None:
    services = with_template(make_push_services(), pattern)
    worker = make_worker(services)
    add_resident(services, "o-far")  # no 48-hour window: the template
    add_resident(services, "o-near", last_seen=clock())  # a customer-service message
    queue(services, "o-near", "k-near", fields={"ref": 7})
    queue(services, "o-far", "k-far", fields={"ref": 7})

    assert worker.run_once() == 2

    found = states(services)
    assert found["o-near"] == ("sent", None)
    status, last_error = found["o-far"]
    assert status == "dead"
    assert f"cannot render the need_status template's field keyword1 = {pattern!r}" in (
        last_error or ""
    )
    assert error in (last_error or "")
    assert fake_wechat.calls("message/template/send") == []
    assert len(fake_wechat.calls("message/custom/send")) == 1


def test_a_payload_without_text_is_dead_lettered_before_any_channel(
    make_worker: Callable[..., Worker], clock: FakeClock, fake_wechat: FakeWeChatServer
) -> None:
    worker = make_worker()
    services = worker._services
    add_resident(services, "o-near", last_seen=clock())
    add_resident(services, "o-other", last_seen=clock())
    row = queue(services, "o-near", "k-near")
    queue(services, "o-other", "k-other")
    with services.session_factory() as db, db.begin():
        db.execute(
            update(OutboxMessage).where(OutboxMessage.id == row).values(payload={"fields": {}})
        )

    assert worker.run_once() == 2

    found = states(services)
    assert found["o-near"] == ("dead", "the need_status push carries no text to send")
    assert found["o-other"] == ("sent", None)
    [call] = fake_wechat.calls("message/custom/send")
    assert call["body"]["touser"] == "o-other"
