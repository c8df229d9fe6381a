"""Staff commands against a running demo: its config file, its clock, its WeChat account.

The demo runs as the real ``aixiang demo`` in its own process, with its data in a
temporary folder; the commands find it through the config file it writes there.
"""

from __future__ import annotations

import stat
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests

import bot.config.paths
from bot.config.loader import load_config
from bot.demo.runner import DEMO_RESIDENTS, DemoCredentials, demo_config
from bot.demo.simulator.clock import SimulatedClock
from bot.demo.state import DemoFiles, write_demo_config
from bot.services import clock_for
from models.base import utcnow
from tests.cli import fail, run
from tests.helpers import SHANGHAI, demo_process
from tests.test_simulator import say


def test_aixiang_demo_runs_until_terminated(tmp_path: Path) -> None:
    """The real command in its own process: it announces the page, answers through the
    webhook, and stops cleanly on SIGTERM."""
    with demo_process(tmp_path) as demo:
        reply = say(demo.url, "帮助", openid="o-demo-li", safe=True)
        residents = requests.get(f"{demo.url}/sim/api/residents", timeout=10)

    assert demo.output[0].startswith(f"Aixiang demo: open {demo.url}/ ")
    assert "活动" in reply
    assert {r["openid"] for r in residents.json()} >= {p.openid for p in DEMO_RESIDENTS}
    assert demo.output[-1].rstrip() == "Aixiang demo stopped."
    assert (demo.data / "aixiang.db").exists()


def local(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")


def test_staff_commands_keep_the_demo_clock(tmp_path: Path) -> None:
    """After the page moves the clock two days, "real time + 14 h" is in the demo's past,
    and an event for the demo's tomorrow is to come."""
    with demo_process(tmp_path) as demo:
        moved = requests.post(f"{demo.url}/sim/api/clock", json={"hours": 48}, timeout=10)
        assert moved.json()["ahead_hours"] == 48
        staff = demo.staff()
        real = utcnow()

        refused = fail(
            staff,
            "broadcast",
            "--text",
            "明早集合",
            "--audience",
            "all",
            "--at",
            local(real + timedelta(hours=14)),
        )
        assert "is not in the future" in refused
        too_early = fail(
            staff,
            "events",
            "create",
            "--title",
            "real tomorrow",
            "--capacity",
            "5",
            "--starts-at",
            local(real + timedelta(days=1)),
        )
        assert "in the past" in too_early
        created = run(
            staff,
            "events",
            "create",
            "--title",
            "demo tomorrow",
            "--capacity",
            "5",
            "--starts-at",
            local(real + timedelta(days=3)),
            "--publish",
            "--json",
        )
        upcoming = run(staff, "events", "list", "--upcoming", "--json").output
        assert '"demo tomorrow"' in upcoming and created.output

    assert not demo.config.exists()  # the demo's config goes with the demo


def test_events_qr_and_menu_push_reach_the_demo(tmp_path: Path) -> None:
    with demo_process(tmp_path) as demo:
        mode = stat.S_IMODE(demo.config.stat().st_mode)
        staff = demo.staff()
        out = tmp_path / "qr.png"
        run(staff, "events", "qr", "1", "--out", str(out))
        pushed = run(staff, "menu", "push").output
        calls = requests.get(f"{demo.fake_url}/_fake/calls", timeout=10)

    assert mode == 0o600
    assert out.read_bytes().startswith(b"\x89PNG")
    assert "menu with 3 buttons pushed" in pushed
    assert {"qrcode/create", "menu/create"} <= {c["endpoint"] for c in calls.json()}


def test_fresh_starts_from_nothing_and_a_restart_keeps_the_clock(tmp_path: Path) -> None:
    with demo_process(tmp_path) as demo:
        requests.post(f"{demo.url}/sim/api/clock", json={"hours": 30}, timeout=10)
        media = demo.data / "media" / "photo.jpg"
        media.parent.mkdir(parents=True, exist_ok=True)
        media.write_bytes(b"jpeg")
    with demo_process(tmp_path) as demo:
        kept = requests.get(f"{demo.url}/sim/api/clock", timeout=10).json()["ahead_hours"]
    with demo_process(tmp_path, "--fresh") as demo:
        fresh = requests.get(f"{demo.url}/sim/api/clock", timeout=10).json()["ahead_hours"]
        residents = requests.get(f"{demo.url}/sim/api/residents", timeout=10).json()

    assert kept == 30
    assert demo.output[0] == (
        f"Starting afresh: deleting the demo's database, media and state in {demo.data}\n"
    )
    assert fresh == 0 and not media.exists()
    assert len(residents) == 3  # seeded again


def test_the_loader_falls_back_to_the_running_demos_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    credentials = DemoCredentials.generate()
    written = tmp_path / "instance" / "demo.toml"
    written.parent.mkdir()
    monkeypatch.chdir(tmp_path)
    config = demo_config(credentials, "http://127.0.0.1:8001/cgi-bin/")
    write_demo_config(written, config)
    monkeypatch.setattr(bot.config.paths, "RUNNING_DEMO_CONFIG", written)
    monkeypatch.delenv("AIXIANG_CONFIG", raising=False)

    found = load_config()
    (tmp_path / "config.toml").write_text("")
    own = load_config()

    assert found.wechat == config.wechat and found.database == config.database
    assert found.bot == config.bot and found.needs == config.needs
    assert found.menu == config.menu and found.push.templates == config.push.templates
    assert own.wechat.token == ""  # a config.toml of one's own wins
    # The demo itself never reads a previous run's file.
    assert demo_config(DemoCredentials.generate(), "http://x/cgi-bin/").wechat != found.wechat


def test_the_clock_file_is_the_demo_clock_for_every_process(tmp_path: Path) -> None:
    assert DemoFiles.of(
        demo_config(DemoCredentials.generate(), "http://x/cgi-bin/")
    ).clock.name == ("demo-clock.json")
    path = tmp_path / "demo-clock.json"
    clock = SimulatedClock(path)
    clock.advance(timedelta(days=2))

    config = load_config(
        environ={}, read_file=False, overrides={"bot": {"clock_offset_file": str(path)}}
    )
    staff_now = clock_for(config)()

    assert abs(staff_now - clock()) < timedelta(seconds=5)
    assert SimulatedClock(path).offset == timedelta(days=2)
    assert clock_for(load_config(environ={}, read_file=False)) is utcnow
