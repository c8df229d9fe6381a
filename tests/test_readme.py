"""Every command README.md shows, run as written against the real demo, so the README
cannot drift from the code again.

The commands are read from README's ``sh`` blocks, not copied here: a new line there is
run (or must be named in :data:`COVERED_ELSEWHERE`), a changed option is checked at once.
Only the times staff type change: a fixed date in README would sooner or later be in the
past, so each ``YYYY-MM-DDTHH:MM`` becomes the same local time of day ten days ahead of
the demo's clock. Date-only values (``--since``) are kept, as they only filter.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from bot.cli.main import main
from bot.config.loader import load_config
from bot.config.paths import PROJECT_ROOT
from bot.services import clock_for
from models.db import make_engine, make_session_factory
from models.events.signups import sign_up
from models.events.tables import Event
from models.needs.submission import create_need
from models.residents import Resident
from tests.helpers import SHANGHAI, RunningDemo, demo_process

README = PROJECT_ROOT / "README.md"

# README commands that this test does not run, with the test that does: they install,
# set up a shell, start servers that run until stopped, or run the whole suite.
COVERED_ELSEWHERE: dict[str, str] = {
    "make demo": "tests/test_simulator_staff.py runs aixiang demo in its own process",
    "make demo-reset": "tests/test_simulator_staff.py runs aixiang demo --fresh",
    "make test": "CI runs it (.ci/run)",
    "pip install .": "CI installs the package the same way",
    "export AIXIANG_CONFIG=/etc/aixiang/config.toml": "tests/test_config.py reads AIXIANG_CONFIG",
    "aixiang serve --port 8000 --workers 2": "tests/test_serve.py",
    "AIXIANG_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres "
    "AIXIANG_TEST_REDIS_URL=redis://127.0.0.1:6379/15 make test": ".ci/run on CI",
}

# A console password, as a person types it at the prompt and again to confirm.
PASSWORD_TWICE = "Lamp-post-17-village\nLamp-post-17-village\n"
LOCAL_TIME = re.compile(r"\b\d{4}-\d{2}-\d{2}T(\d{2}):(\d{2})\b")
SH_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)


def readme_commands(text: str) -> list[list[str]]:
    """The commands of every ``sh`` block in order, as the shell would split them:
    ``\\`` continuations joined, comments (whole-line or trailing) dropped."""
    commands: list[list[str]] = []
    for block in SH_BLOCK.findall(text):
        joined = re.sub(r"\\\n", " ", block)
        for line in joined.splitlines():
            words = shlex.split(line, comments=True)
            if words:
                commands.append(words)
    return commands


def in_the_future(words: list[str], now: datetime) -> list[str]:
    """``words`` with each typed local time moved to ten days after ``now``, same HH:MM:
    far enough ahead of the demo's clock, well within the one-year limit."""
    day = (now + timedelta(days=10)).strftime("%Y-%m-%d")
    return [LOCAL_TIME.sub(lambda m: f"{day}T{m[1]}:{m[2]}", word) for word in words]


def demo_now(demo: RunningDemo) -> datetime:
    """The demo's local time, as the simulator's page shows it."""
    shown = requests.get(f"{demo.url}/sim/api/clock", timeout=10).json()["now"]
    return datetime.strptime(shown, "%Y-%m-%d %H:%M").replace(tzinfo=SHANGHAI)


def seed_what_residents_did(demo: RunningDemo) -> None:
    """What README's commands assume a demo user did first, on the demo's own database:
    李阿姨 and 王师傅 submit a need each about the same lamp (N-000001, N-000002), 李阿姨
    signs up for event 1 and Emma for event 3; then the page moves the clock to an hour
    before event 1, when its check-in opens."""
    config = load_config(demo.config)
    now = clock_for(config)()
    engine = make_engine(config.database.url)
    try:
        with make_session_factory(engine)() as db, db.begin():
            residents = {r.openid: r for r in db.execute(select(Resident)).scalars() if r.openid}
            for openid, text in (("o-demo-li", "老街路灯坏了"), ("o-demo-wang", "还是那盏路灯")):
                resident = residents[openid]
                resident.privacy_consent_at = now
                create_need(
                    db, resident=resident, category="infrastructure", description=text, now=now
                )
            li = residents["o-demo-li"]
            li.mobile = "13800138000"  # event 1 asks for a name and a mobile number
            sign_up(db, 1, li, 1, now)
            sign_up(db, 3, residents["o-demo-emma"], 1, now)
            starts_at = db.get_one(Event, 1).starts_at
    finally:
        engine.dispose()
    at = (starts_at - timedelta(hours=1)).astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")
    moved = requests.post(f"{demo.url}/sim/api/clock", json={"at": at}, timeout=10)
    assert moved.status_code == 200, moved.text


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningDemo]:
    """A fresh demo with its residents' first steps done; files the commands write
    (roster.csv, checkin-1.png) land in ``tmp_path``."""
    monkeypatch.chdir(tmp_path)
    with demo_process(tmp_path) as running:
        seed_what_residents_did(running)
        yield running


def test_every_readme_command_is_run_or_covered_elsewhere() -> None:
    commands = [" ".join(words) for words in readme_commands(README.read_text())]
    uncovered = [c for c in commands if c not in COVERED_ELSEWHERE and c.split()[0] != "aixiang"]

    assert not uncovered, f"README shows commands no test runs: {uncovered}"
    assert not set(COVERED_ELSEWHERE) - set(commands), "COVERED_ELSEWHERE names a gone command"
    assert "aixiang db upgrade" in commands and "aixiang menu push" in commands


def test_readme_commands_run_as_written_on_the_demo(demo: RunningDemo) -> None:
    staff = demo.staff()
    now = demo_now(demo)
    ran: list[str] = []
    for words in readme_commands(README.read_text()):
        if " ".join(words) in COVERED_ELSEWHERE:
            continue
        assert words[0] == "aixiang", words
        command = in_the_future(words, now)
        # The commands that ask for a password (twice at a prompt, or once on stdin).
        asks = words[1:3] in (["accounts", "add"], ["accounts", "passwd"])
        result = staff.invoke(main, command[1:], input=PASSWORD_TWICE if asks else None)
        assert result.exit_code == 0, f"{shlex.join(command)}:\n{result.output}"
        ran.append(" ".join(words[1:3]))

    assert Path("roster.csv").read_text(encoding="utf-8-sig")
    assert Path("checkin-1.png").read_bytes().startswith(b"\x89PNG")
    assert Path("needs.xlsx").read_bytes().startswith(b"PK")
    assert Path("roster-1.csv").read_text(encoding="utf-8-sig").count("\n") == 2
    assert {"needs update", "events checkin", "outbox show", "db upgrade"} <= set(ran)


def test_readme_keeps_its_demo_notes() -> None:
    """The notes a first-time user needs: querying the demo's database, the browser for
    the browser tests, and what becomes of a push outside WeChat's 48-hour window."""
    text = README.read_text()

    for needed in ("sqlite3 instance/aixiang.db", "apt-get install sqlite3"):
        assert needed in text
    assert "apt-get install chromium" in text
    assert "48-hour" in text and "template message" in text and "expires" in text
