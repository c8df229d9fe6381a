"""A broadcast's preview splits its audience by the channel that would carry it now:
customer-service message, template message, subscription notice, or held for the
resident's next message. The split is the worker's own choice on the same residents, and
the CLI's dry run prints it (and --json gives it)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.services import Services, broadcast_settings
from models.audit import Actor
from models.base import utcnow
from models.broadcasts.audience import resolve_audience
from models.broadcasts.fanout import create_broadcast, fan_out
from models.broadcasts.messages import text_message
from models.broadcasts.preview import audience_channels, split_counts
from models.push.outbox import OutboxMessage
from models.push.reach import channel_split
from models.push.vocabulary import Channel
from scheduler.worker import Worker
from tests.broadcasts import SUBSCRIBE_TEMPLATE, residents
from tests.cli import run
from tests.conftest import FakeClock
from tests.pushes import MakePushServices, add_resident

SUBSCRIBE = {"broadcast": {"template_id": SUBSCRIBE_TEMPLATE, "fields": {"thing1": "{text}"}}}
TEMPLATES = {"broadcast": {"template_id": "TPL-B", "fields": {"first": "{text}"}}}


@pytest.mark.parametrize(
    ("sections", "expected"),
    [
        (
            {
                "wechat": {"account_type": "subscription"},
                "push": {"subscribe_templates": SUBSCRIBE},
            },
            {"custom": 2, "template": 0, "subscribe": 1, "held": 2},
        ),
        (
            {"push": {"templates": TEMPLATES}},
            {"custom": 2, "template": 3, "subscribe": 0, "held": 0},
        ),
        ({}, {"custom": 2, "template": 0, "subscribe": 0, "held": 3}),
    ],
)
def test_the_split_is_what_the_worker_then_does(
    sections: dict[str, Any],
    expected: dict[str, int],
    make_push_services: MakePushServices,
    make_worker: Callable[..., Worker],
    clock: FakeClock,
) -> None:
    services = make_push_services(**sections)
    residents(services, clock.now)
    settings = broadcast_settings(services.config)
    with services.session_factory() as db, db.begin():
        found = resolve_audience(db, "all")
        assert (found.excluded_unsubscribed, found.excluded_opted_out) == (1, 1)
        split = audience_channels(db, found, settings, clock.now)
        broadcast = create_broadcast(
            db,
            Actor.os_user("test"),
            texts=text_message("停水通知", None),
            audience="all",
            now=clock.now,
        )
        fan_out(db, broadcast, clock.now, settings)
    assert split_counts(split) == expected
    make_worker(services).run_once()
    with services.session_factory() as db:
        chosen = {
            row.resident_id: None if row.status == "held" else Channel(row.channel)
            for row in db.execute(select(OutboxMessage)).scalars()
        }
        assert {row.status for row in db.execute(select(OutboxMessage)).scalars()} <= {
            "sent",
            "held",
        }
    assert chosen == split.channels


def test_residents_are_read_a_chunk_at_a_time(
    services: Services, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("models.push.reach.CHUNK", 2)
    ids = [add_resident(services, f"o-{n}", last_seen=clock.now) for n in range(5)]
    with services.session_factory() as db:
        split = channel_split(db, ids, clock.now, template=False, subscribe_template_id=None)
    assert split.channels == dict.fromkeys(ids, Channel.CUSTOM)


def test_the_dry_run_prints_the_same_split(staff: CliRunner, services: Services) -> None:
    # The command line runs on real time: the residents are placed around it.
    now_at = utcnow()
    residents(services, now_at)
    with services.session_factory() as db:
        found = resolve_audience(db, "all")
        split = audience_channels(db, found, broadcast_settings(services.config), now_at)
    shown = json.loads(
        run(staff, "broadcast", "--text", "停水", "--audience", "all", "--dry-run", "--json").stdout
    )
    # Whoever wrote within the hour, and the one tap seconds ago, are within their window.
    assert shown["channels"] == split_counts(split)
    assert split.custom >= 1 and split.held >= 3 and split.custom + split.held == 5
    out = run(staff, "broadcast", "--text", "停水", "--audience", "all", "--dry-run").stdout
    counts = shown["channels"]
    assert f"by customer-service message: {counts['custom']}," in out
    assert (
        f"held for their next message (never, if none comes before it expires): {counts['held']}"
        in out
    )
