"""A spent WeChat quota pauses the API that refused, for the kind that met it, until a
probe shows it back or staff resume the kind."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner

from bot.services import utcnow, write_clock_offset
from bot.wechat.fake_api.server import FakeWeChatServer
from tests.cli import fail, run
from tests.conftest import FakeClock
from tests.pushes import add_resident, outbox_row, queue, sent_to

TEMPLATE = {"template_id": "TPL-need", "fields": {"first": "{text}", "keyword1": "{ref}"}}
CUSTOM = "message/custom/send"


def _errcodes(fake: FakeWeChatServer, endpoint: str) -> list[int]:
    return [int((call["result"] or {}).get("errcode") or 0) for call in fake.calls(endpoint)]


def test_45009_on_custom_sends_pauses_them_only_until_staff_resume(
    make_worker, clock: FakeClock, fake_wechat, staff: CliRunner, tmp_path: Path
) -> None:
    # The command line reads the time from an offset file: put the test clock ahead of
    # real time, where an offset can point.
    clock.set(utcnow().replace(microsecond=0) + timedelta(days=1))
    offset_file = tmp_path / "clock.json"
    write_clock_offset(offset_file, clock.now - utcnow())
    staff.env["AIXIANG_BOT_CLOCK_OFFSET_FILE"] = str(offset_file)
    worker = make_worker(push={"templates": {"need_status": TEMPLATE}, "worker_threads": 1})
    services = worker._services
    openids = ["o-q1", "o-q2", "o-q3", "o-q4"]
    for openid in openids:
        add_resident(services, openid, last_seen=clock.now)
    fake_wechat.add_fault(CUSTOM, errcode=45009, times=3)
    rows = [
        queue(services, openid, f"quota:{openid}", fields={"ref": "N-1"}) for openid in openids[:3]
    ]
    worker.run_once()
    # Each of the three met the spent quota on its customer-service send, and went by
    # template message instead: template sends of the kind go on.
    assert _errcodes(fake_wechat, CUSTOM) == [45009, 45009, 45009]
    assert [outbox_row(services, row).channel for row in rows] == ["template"] * 3
    later = queue(services, "o-q4", "quota:later", fields={"ref": "N-2"})
    worker.run_once()
    assert len(fake_wechat.calls(CUSTOM)) == 3  # custom sends of the kind are paused
    assert outbox_row(services, later).channel == "template"
    promotion = queue(services, "o-q4", "quota:promotion", kind="promotion")
    worker.run_once()
    assert outbox_row(services, promotion).channel == "custom"  # other kinds go on

    stats = json.loads(run(staff, "outbox", "stats", "--json").output)
    [paused] = stats["paused"]
    assert paused["kind"] == "need_status" and paused["channel"] == "custom"
    assert "45009" in paused["reason"]
    assert paused["until"].startswith(
        (clock.now + timedelta(minutes=20)).astimezone(services.config.bot.tz).isoformat()[:16]
    )
    table = run(staff, "outbox", "stats").output
    assert "need_status" in table and "custom" in table and "45009" in table

    resumed = json.loads(run(staff, "outbox", "resume", "--kind", "need_status", "--json").output)
    assert resumed["kind"] == "need_status" and resumed["channels"] == ["custom"]
    assert json.loads(run(staff, "outbox", "stats", "--json").output)["paused"] == []
    again = queue(services, "o-q1", "quota:again")
    worker.run_once()
    assert outbox_row(services, again).channel == "custom"
    assert "unknown kind" in fail(staff, "outbox", "resume", "--kind", "nope")


def test_a_pause_is_probed_after_its_backoff(make_worker, clock: FakeClock, fake_wechat) -> None:
    """Rows with no other channel wait for the probe; one row probes, and the pause
    either ends (the rest follow) or runs another round."""
    worker = make_worker(push={"worker_threads": 1})
    services = worker._services
    openids = [f"o-p{i}" for i in range(3)]
    for openid in openids:
        add_resident(services, openid, last_seen=clock.now)
    fake_wechat.add_fault(CUSTOM, errcode=45009, times=2)
    first = queue(services, openids[0], "probe:0")
    worker.run_once()
    waiting = outbox_row(services, first)
    assert waiting.status == "failed" and waiting.attempts == 0
    assert waiting.last_error.startswith("paused: ")
    probe_at = clock.now + timedelta(minutes=20)
    assert waiting.next_attempt_at == probe_at  # a probe, not local midnight
    rest = [queue(services, openid, f"probe:{openid}") for openid in openids[1:]]
    worker.run_once()
    assert len(fake_wechat.calls(CUSTOM)) == 1  # nothing tried while paused
    assert {outbox_row(services, row).next_attempt_at for row in rest} == {probe_at}

    clock.set(probe_at)
    worker.run_once()
    # One probe went, and WeChat refused it again: another round for it, while the rows
    # behind it look again a minute later and then wait for the next probe.
    assert _errcodes(fake_wechat, CUSTOM) == [45009, 45009]
    second_probe = clock.now + timedelta(minutes=20)
    assert outbox_row(services, first).next_attempt_at == second_probe
    assert {outbox_row(services, row).next_attempt_at for row in rest} == {
        clock.now + timedelta(minutes=1)
    }
    clock.advance(minutes=1)
    worker.run_once()
    assert len(fake_wechat.calls(CUSTOM)) == 2
    assert {outbox_row(services, row).next_attempt_at for row in rest} == {second_probe}

    clock.set(second_probe)
    worker.run_once()  # the probe goes through: the pause ends
    assert outbox_row(services, first).status == "sent"
    assert len(sent_to(fake_wechat, CUSTOM)) == 1
    clock.advance(minutes=1)  # the rows that waited behind the probe
    worker.run_once()
    assert {outbox_row(services, row).status for row in rest} == {"sent"}
    assert len(sent_to(fake_wechat, CUSTOM)) == 3
