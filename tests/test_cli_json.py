"""Every staff command answers a script: `--json` exists on each one, and what it prints
is one whole JSON document (a change command prints the changed record)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from bot.services import Services
from bot.wechat.fake_api.server import FakeWeChatServer
from models.accounts.operations import create_account
from models.accounts.roles import Role
from models.audit import Actor
from models.broadcasts.fanout import create_broadcast
from models.broadcasts.messages import text_message
from models.events.signups import sign_up
from models.events.staff import create_event
from models.needs.submission import create_need
from models.partners import add_partner
from models.push.outbox import OutboxMessage
from models.residents import get_or_create_resident
from models.tags.operations import add_tag, set_tag_active
from models.villages.operations import add_village
from tests.cli import (
    ACCOUNT,
    LONG_TEXT,
    PASSWORD,
    STAFF_COMMANDS,
    TAGS,
    VILLAGE,
    command_args,
    command_input,
    fake_wechat_env,
    run,
)
from tests.pushes import queue


@pytest.mark.parametrize("path", sorted(STAFF_COMMANDS), ids=" ".join)
def test_every_staff_command_has_json(path: tuple[str, ...]) -> None:
    options = {opt for param in STAFF_COMMANDS[path].params for opt in param.opts}
    assert "--json" in options


class Scenario:
    """One of everything a staff command can act on, ids as the commands take them."""

    def __init__(self, services: Services, tmp_path: Path) -> None:
        now = datetime.now(UTC)
        with services.session_factory() as db, db.begin():
            resident = get_or_create_resident(db, "o-1", now)
            resident.last_seen_at = now
            resident.privacy_consent_at = now
            create_need(
                db, resident=resident, category="infrastructure", description=LONG_TEXT, now=now
            )
            event = create_event(
                db,
                title="社区花园共建",
                starts_at=now + timedelta(minutes=30),
                capacity=5,
                now=now,
                publish=True,
            )
            draft = create_event(
                db, title="清洁日", starts_at=now + timedelta(days=4), capacity=5, now=now
            )
            add_partner(
                db,
                Actor.os_user("test"),
                name="村委会",
                kind="government",
                contact_openid=None,
                now=now,
            )
            add_village(db, Actor.os_user("test"), VILLAGE, now)
            for name_zh, name_en in TAGS:
                tag = add_tag(db, Actor.os_user("test"), name_zh, name_en, now)
            set_tag_active(db, Actor.os_user("test"), tag, False, now)
            create_account(
                db,
                Actor.os_user("test"),
                login=ACCOUNT,
                role=Role.STAFF,
                password=PASSWORD,
                now=now,
            )
            signup = sign_up(db, event.id, resident, 1, now).signup
            assert signup is not None
            broadcast = create_broadcast(
                db,
                Actor.os_user("test"),
                texts=text_message(LONG_TEXT),
                audience="all",
                now=now,
                scheduled_at=now + timedelta(days=1),
            )
            self.event, self.draft = str(event.id), str(draft.id)
            self.code = signup.checkin_code
            self.broadcast = str(broadcast.id)
        self.push = str(queue(services, "o-1", "json-1"))
        with services.session_factory() as db, db.begin():
            db.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == int(self.push))
                .values(status="dead", last_error="errcode -1")
            )
        self.png = str(tmp_path / "qr.png")

    def args(self, path: tuple[str, ...]) -> tuple[str, ...]:
        """The arguments that make ``path`` succeed on this scenario."""
        return command_args(
            path, self.event, self.draft, self.code, self.broadcast, self.push, self.png
        )


@pytest.fixture
def scenario(
    staff: CliRunner, services: Services, fake_wechat: FakeWeChatServer, tmp_path: Path
) -> Scenario:
    assert staff.env is not None
    staff.env.update(fake_wechat_env(fake_wechat))
    return Scenario(services, tmp_path)


def texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from texts(item)


@pytest.mark.parametrize("path", sorted(STAFF_COMMANDS), ids=" ".join)
def test_every_staff_command_prints_whole_json(
    staff: CliRunner, scenario: Scenario, path: tuple[str, ...]
) -> None:
    """One JSON document on stdout, nothing cut ("…") however long the resident's text."""
    output = run(staff, *path, *scenario.args(path), "--json", input=command_input(path)).stdout
    document = json.loads(output)
    assert document not in (None, "", [], {})
    assert not any(text.endswith("…") for text in texts(document))


CREATE = ("events", "create", *command_args(("events", "create")))


def test_a_change_prints_the_changed_record(staff: CliRunner, scenario: Scenario) -> None:
    need = json.loads(
        run(staff, "needs", "update", "N-000001", "--status", "acknowledged", "--json").stdout
    )
    assert need["ref"] == "N-000001" and need["status"] == "acknowledged"
    assert need["change"] == {"from": "submitted", "to": "acknowledged"}
    assert need["pushes"] == [{"kind": "need_status", "to": "o-1"}]
    cancelled = json.loads(
        run(staff, "events", "cancel", scenario.event, "--reason", "下雨", "--json").stdout
    )
    assert cancelled["id"] == int(scenario.event) and cancelled["status"] == "cancelled"
    assert cancelled["told"] == 1 and cancelled["cancel_reason"] == "下雨"
    created = json.loads(run(staff, *CREATE, "--json").stdout)
    assert created["id"] == 3 and created["status"] == "draft" and created["confirmed"] == 0
    partner = json.loads(run(staff, "partners", "add", "P", "--kind", "ngo", "--json").stdout)
    assert partner == {"id": 2, "name": "P", "kind": "ngo", "contact_openid": None}
