"""The dashboard and fan-out bench's data: the console bench's club (bench/console_data.py)
plus what its figures are narrowed by and what a broadcast to everyone is written for.

On top of the console's data, each set by one statement inside the server:
- villages: 20 villages of 4 groups each; residents, needs and events named in one of
  them (a village's own row or one of its groups), chosen by a hash of the row number;
- event tags: each event tagged with one or two of 8 tags, so a tag holds about a
  quarter of the events;
- residents to 1,000,000 (issue #16's fan-out): those beyond the console's 100,000 as the
  console's are (1 in 17 unfollowed, 1 in 23 opted out of broadcasts), their last
  message spread over the past 10 days, so some are inside WeChat's 48-hour window.
"""

from __future__ import annotations

import time

from sqlalchemy import Engine, text

from bench.console_data import NOW, START, Sizes, _pick, expected_counts
from bench.events import bare_tables

VILLAGES = 20
GROUPS_PER_VILLAGE = 4
TAGS = ("elderly", "children", "women", "volunteers", "health", "farming", "culture", "youth")
# Residents in all, as many times the console's (1,000,000 at scale 1).
RESIDENT_FACTOR = 10
VILLAGE_NAMES = (
    "朝阳村", "红旗村", "新华村", "东风村", "光明村", "和平村", "团结村", "胜利村", "建设村",
    "幸福村", "永安村", "长青村", "太平村", "富民村", "兴隆村", "青山村", "白云村", "石桥村",
    "柳树村", "桃园村",
)  # fmt: skip


def _village_of(row: str) -> str:
    """SQL for the village (or group) a row numbered ``row`` lives in: one in five in the
    village's own row, the others in one of its groups."""
    village = f"1 + ({row}) % {VILLAGES}"
    group = f"{VILLAGES} + ({village} - 1) * {GROUPS_PER_VILLAGE} + 1 + (({row}) / 7) % 4"
    return f"CASE WHEN ({row}) % 5 = 0 THEN {village} ELSE {group} END"


def extra_statements(sizes: Sizes) -> list[tuple[str, str]]:
    r = sizes.residents
    groups = VILLAGES * GROUPS_PER_VILLAGE
    return [
        (
            "villages",
            f"""
            INSERT INTO village (id, name, parent_id, created_at)
            SELECT g, {_pick(VILLAGE_NAMES, "g - 1")}, NULL, timestamptz '{START}'
            FROM generate_series(1, {VILLAGES}) AS g
            UNION ALL
            SELECT {VILLAGES} + g, ((g - 1) % {GROUPS_PER_VILLAGE} + 1) || '组',
                   1 + (g - 1) / {GROUPS_PER_VILLAGE}, timestamptz '{START}'
            FROM generate_series(1, {groups}) AS g
            """,
        ),
        ("needs' villages", f"UPDATE need SET village_id = {_village_of('id * 13')}"),
        ("events' villages", f"UPDATE event SET village_id = {_village_of('id * 3')}"),
        ("residents' villages", f"UPDATE resident SET village_id = {_village_of('id')}"),
        (
            "event tags",
            f"""
            INSERT INTO event_tag (event_id, tag)
            SELECT id, {_pick(TAGS, "id")} FROM event
            UNION
            SELECT id, {_pick(TAGS, "id / 3 + 1")} FROM event WHERE id % 2 = 0
            """,
        ),
        (
            "residents to a million",
            f"""
            INSERT INTO resident (id, openid, subscribed, subscribed_at, language,
                                  last_interaction_at, last_interaction_kind,
                                  broadcast_opt_out, village_id, privacy_consent_at,
                                  created_at)
            SELECT g, 'o-console-bench-' || g, g % 17 <> 0, timestamptz '{START}',
                   CASE WHEN g % 10 = 0 THEN 'en' ELSE 'zh' END,
                   timestamptz '{NOW.isoformat()}' - (g % 14400) * interval '1 minute',
                   'message', g % 23 = 0, {_village_of("g")}, timestamptz '{START}',
                   timestamptz '{START}'
            FROM generate_series({r + 1}, {r * RESIDENT_FACTOR}) AS g
            """,
        ),
        (
            "id sequences",
            "SELECT "
            + ", ".join(
                f"setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                for table in ("resident", "village")
            ),
        ),
    ]


class DashboardData:
    """bench/console.py's ``Extra``: the villages, tags and residents above."""

    def counts(self, sizes: Sizes) -> dict[str, int]:
        return {**expected_counts(sizes), "resident": sizes.residents * RESIDENT_FACTOR}

    def load(self, engine: Engine, sizes: Sizes) -> float:
        total = time.perf_counter()
        with bare_tables(engine, ("resident", "need")):
            for name, statement in extra_statements(sizes):
                started = time.perf_counter()
                with engine.begin() as connection:
                    connection.execute(text(statement))
                print(f"  loaded {name:<22} {time.perf_counter() - started:6.1f} s")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
        return time.perf_counter() - total
