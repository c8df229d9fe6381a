"""The console benchmark's data: a club two years into its life, loaded set by set.

Every table is filled by one ``INSERT ... SELECT`` over ``generate_series`` inside the
server (no rows cross the wire), with the tables' indexes and constraints set aside during
the load and rebuilt afterwards (``bench.events.bare_tables``). Texts are Chinese, built
from a small vocabulary chosen by hashes of the row number, so that a word searched for
matches a realistic share of the rows (a place about one need in 15, an object one in
12, a place and an object together one in 60: the picks share a factor). Times spread
over the two years before :data:`NOW`, newest last.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, text

from bench.events import bare_tables
from bench.needs import STATUS_BY_HASH

# The bench's "now": what the in-process queries pass as the clock. The data ends here.
NOW = datetime(2026, 12, 2, tzinfo=UTC)
START = "2024-12-02"
SPAN_S = 730 * 24 * 3600
# Events run on three months past NOW (those are open for sign-ups).
EVENT_SPAN_S = SPAN_S + 90 * 24 * 3600
PARTNERS = 50
LOADED_TABLES = (
    "resident",
    "inbound_message",
    "partner",
    "need",
    "need_history",
    "need_photo",
    "event",
    "signup",
    "attendance",
    "outbox",
)

# The words needs and messages are made of. A need reads
# "<place>的<object><problem>，<wish>。", e.g. 村口的路灯不亮，晚上出行很危险。
PLACES = (
    "村口", "小学门口", "卫生室旁边", "文化广场", "老年活动中心", "河边", "菜市场",
    "祠堂前", "二组", "五组", "村委会门口", "公交站", "桥头", "后山", "晒谷场",
)  # fmt: skip
OBJECTS = (
    "路灯", "自来水管", "垃圾桶", "排水沟", "篮球架", "健身器材", "公共厕所", "水泥路",
    "护栏", "公交站牌", "网络信号", "井盖",
)  # fmt: skip
PROBLEMS = (
    "坏了好几天", "不亮", "漏水严重", "堆满了没人清理", "堵塞发臭", "年久失修",
    "有安全隐患", "被大雨冲坏",
)  # fmt: skip
WISHES = (
    "希望尽快维修", "请安排人来看看", "老人孩子出行不便", "希望村里统一处理",
    "麻烦志愿者帮忙", "晚上出行很危险",
)  # fmt: skip
MESSAGES = (
    "帮助", "活动", "报名 3", "我的活动", "我的需求", "需求", "谢谢", "你好",
    "什么时候来修", "村口的路灯又不亮了", "我想报名参加读书会", "取消报名 2",
    "请问义诊在哪里", "好的", "收到", "English", "孩子放学后没人辅导作业",
    "垃圾桶满了", "我也遇到了", "确认",
)  # fmt: skip
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN_NAMES = (
    "秀英", "桂英", "建国", "建华", "志强", "明", "丽", "芳", "军", "伟", "秀兰", "玉兰",
    "国强", "海燕", "小红", "春梅", "德胜", "金凤", "文杰", "子涵",
)  # fmt: skip
EVENT_TITLES = (
    "垃圾分类宣传", "老年人健康讲座", "儿童读书会", "电商培训", "义诊", "植树",
    "防诈骗讲座", "广场舞比赛", "留守儿童夏令营", "助老志愿服务",
)  # fmt: skip
CATEGORIES = ("education", "environment", "infrastructure", "jobs", "elderly_children", "other")
PARTNER_KINDS = ("government", "enterprise", "ngo", "school", "volunteer")


@dataclass(frozen=True)
class Sizes:
    """How many of each; the defaults are issue #15's figures."""

    residents: int = 100_000
    messages: int = 1_000_000
    needs: int = 200_000
    events: int = 10_000
    signups_per_event: int = 100

    @classmethod
    def scaled(cls, factor: float) -> Sizes:
        """Every figure times ``factor`` (at least a handful of each), for a quick run."""
        full = cls()
        return cls(
            **{
                name: max(10, round(value * factor)) if name != "signups_per_event" else value
                for name, value in asdict(full).items()
            }
        )

    @property
    def signups(self) -> int:
        return self.events * self.signups_per_event


def _array(words: tuple[str, ...] | str) -> str:
    """A PostgreSQL text array literal of ``words`` (they hold no quotes)."""
    return "ARRAY[" + ", ".join(f"'{word}'" for word in words) + "]"


def _pick(words: tuple[str, ...] | str, hashed: str) -> str:
    """The SQL for one of ``words``, chosen by the non-negative integer ``hashed``."""
    return f"({_array(words)})[1 + ({hashed}) % {len(words)}]"


def load_statements(sizes: Sizes) -> list[tuple[str, str]]:
    """What fills the database, in order, each as (name, SQL)."""
    r, n, e, per_event = sizes.residents, sizes.needs, sizes.events, sizes.signups_per_event
    at = f"timestamptz '{START}'"
    return [
        (
            "residents",
            f"""
            INSERT INTO resident (id, openid, subscribed, subscribed_at, language,
                                  last_interaction_at, last_interaction_kind,
                                  broadcast_opt_out, name, mobile, privacy_consent_at,
                                  created_at)
            SELECT g, 'o-console-bench-' || g, g % 17 <> 0, t.at,
                   CASE WHEN g % 10 = 0 THEN 'en' ELSE 'zh' END,
                   t.at + ((g * 7919) % 300) * interval '1 day', 'message', g % 23 = 0,
                   CASE WHEN g % 5 <> 0
                        THEN {_pick(SURNAMES, "g * 31")} || {_pick(GIVEN_NAMES, "g / 7")} END,
                   CASE WHEN g % 3 = 0 THEN '13' || lpad(((g::bigint * 7919) % 1000000000)::text,
                                                         9, '0') END,
                   t.at, t.at
            FROM generate_series(1, {r}) AS g
            CROSS JOIN LATERAL (SELECT {at} + g * {SPAN_S // r} * interval '1 second' AS at) t
            """,
        ),
        (
            "messages",
            f"""
            INSERT INTO inbound_message (resident_id, dedupe_key, msg_id, msg_type, content,
                                         reply, received_at)
            SELECT 1 + (g::bigint * 7919) % {r}, 'msg:' || g, g, 'text',
                   {_pick(MESSAGES, "g * 13")}, '爱乡共建俱乐部 · 收到，谢谢您！',
                   {at} + g::bigint * {SPAN_S} / {sizes.messages} * interval '1 second'
            FROM generate_series(1, {sizes.messages}) AS g
            """,
        ),
        (
            "partners",
            f"""
            INSERT INTO partner (id, name, kind, created_at)
            SELECT g, '合作伙伴' || g || '号', {_pick(PARTNER_KINDS, "g")}, {at}
            FROM generate_series(1, {PARTNERS}) AS g
            """,
        ),
        (
            "needs",
            f"""
            INSERT INTO need (id, resident_id, category, description, status, place,
                              partner_id, created_at, updated_at, acknowledged_at,
                              resolved_at)
            SELECT g, 1 + (g::bigint * 104729) % {r}, {_pick(CATEGORIES, "g * 31")},
                   {_pick(PLACES, "g * 7")} || '的' || {_pick(OBJECTS, "g * 11")}
                   || {_pick(PROBLEMS, "g * 13")} || '，' || {_pick(WISHES, "g * 17")}
                   || '。（' || g || '）',
                   s.status,
                   CASE WHEN g % 3 = 0 THEN {_pick(PLACES, "g * 7")} END,
                   CASE WHEN s.status IN ('acknowledged', 'in_progress', 'resolved')
                        THEN 1 + g % {PARTNERS} END,
                   c.created, COALESCE(t.resolved, t.acknowledged, c.created),
                   t.acknowledged, t.resolved
            FROM generate_series(1, {n}) AS g
            {STATUS_BY_HASH}
            CROSS JOIN LATERAL (
                SELECT {at} + g::bigint * {SPAN_S} / {n} * interval '1 second' AS created
            ) AS c
            CROSS JOIN LATERAL (
                SELECT CASE WHEN s.status IN ('acknowledged', 'in_progress', 'resolved')
                            THEN c.created + (1 + (g * 37) % 72) * interval '1 hour' END
                           AS acknowledged,
                       CASE WHEN s.status = 'resolved'
                            THEN c.created + (2 + (g * 37) % 72 + g % 240)
                                 * interval '1 hour' END AS resolved
            ) AS t
            """,
        ),
        (
            "me too links",
            """
            WITH hot AS (
                SELECT row_number() OVER (ORDER BY id) AS rn, id FROM need
                WHERE status <> 'duplicate' AND id % 53 = 0
            ), counted AS (SELECT count(*) AS hot_needs FROM hot)
            UPDATE need AS d SET duplicate_of_id = hot.id
            FROM hot, counted
            WHERE d.status = 'duplicate' AND hot.rn = 1 + (d.id / 7) % counted.hot_needs
            """,
        ),
        (
            "need history",
            """
            INSERT INTO need_history (need_id, by, from_status, to_status, note, public,
                                      partner_id, duplicate_of_id, created_at)
            SELECT id, 'resident', NULL, 'submitted', NULL::text, false, NULL::integer,
                   NULL::integer, created_at
            FROM need
            UNION ALL
            SELECT id, '工作人员小王', 'submitted', 'acknowledged', '已转给合作伙伴', true,
                   partner_id, NULL, acknowledged_at
            FROM need WHERE acknowledged_at IS NOT NULL
            UNION ALL
            SELECT id, '工作人员小王', 'acknowledged', 'in_progress', NULL, false, NULL, NULL,
                   acknowledged_at + interval '1 hour'
            FROM need WHERE status IN ('in_progress', 'resolved')
            UNION ALL
            SELECT id, '工作人员小李', 'in_progress', 'resolved', '已经修好了，谢谢反映', true,
                   NULL, NULL, resolved_at
            FROM need WHERE status = 'resolved'
            UNION ALL
            SELECT id, '工作人员小李', 'submitted', status, '同一个问题，已合并', true, NULL,
                   duplicate_of_id, created_at + interval '1 day'
            FROM need WHERE status IN ('declined', 'duplicate')
            """,
        ),
        (
            "photos",
            """
            INSERT INTO need_photo (need_id, position, media_id, status, attempts,
                                    local_path, content_type, fetched_at, created_at)
            SELECT id, p, 'media-' || id || '-' || p, 'fetched', 1,
                   'needs/' || id || '/' || p || '.jpg', 'image/jpeg',
                   created_at + interval '1 minute', created_at
            FROM need CROSS JOIN generate_series(1, 2) AS p
            WHERE id % 8 = 0 AND (p = 1 OR id % 24 = 0)
            """,
        ),
        (
            "events",
            f"""
            INSERT INTO event (id, title, description, place, starts_at, ends_at, capacity,
                               max_party_size, contact_required, status, published_at,
                               cancelled_at, cancel_reason, created_at)
            SELECT g, {_pick(EVENT_TITLES, "g")} || ' 第' || g || '期', '欢迎村民参加。',
                   {_pick(PLACES, "g * 3")}, t.starts,
                   t.starts + interval '2 hours', 60 + (g * 37) % 100, 2, false,
                   CASE WHEN g % 50 = 0 THEN 'cancelled'
                        WHEN t.starts < timestamptz '{NOW.isoformat()}' THEN 'finished'
                        ELSE 'published' END,
                   t.starts - interval '14 days',
                   CASE WHEN g % 50 = 0 THEN t.starts - interval '2 days' END,
                   CASE WHEN g % 50 = 0 THEN '天气原因' END,
                   t.starts - interval '15 days'
            FROM generate_series(1, {e}) AS g
            CROSS JOIN LATERAL (
                SELECT {at} + g::bigint * {EVENT_SPAN_S} / {e} * interval '1 second' AS starts
            ) t
            """,
        ),
        (
            "sign-ups",
            # Each event's sign-ups come from distinct residents (4729 is prime to 100,000),
            # in order: places first, then the waitlist; one in 13 cancelled.
            f"""
            INSERT INTO signup (id, event_id, resident_id, party_size, status,
                                waitlist_position, checkin_code, created_at, confirmed_at,
                                cancelled_at)
            SELECT (ev.id - 1) * {per_event} + k + 1, ev.id,
                   1 + (ev.id::bigint * 7919 + k * 4729) % {r}, 1 + (k % 7 = 0)::int,
                   s.status,
                   CASE WHEN s.status = 'waitlisted' THEN k - ev.capacity + 1 END,
                   lpad(((k * 9973 + ev.id * 31) % 1000000)::text, 6, '0'),
                   ev.published_at + k * interval '10 minutes',
                   CASE WHEN s.status = 'confirmed'
                        THEN ev.published_at + k * interval '10 minutes' END,
                   CASE WHEN s.status = 'cancelled'
                        THEN ev.published_at + (k + 30) * interval '10 minutes' END
            FROM event AS ev
            CROSS JOIN generate_series(0, {per_event - 1}) AS k
            CROSS JOIN LATERAL (
                SELECT CASE WHEN k % 13 = 12 THEN 'cancelled'
                            WHEN k < ev.capacity THEN 'confirmed'
                            ELSE 'waitlisted' END AS status
            ) AS s
            """,
        ),
        (
            "attendance",
            """
            INSERT INTO attendance (event_id, resident_id, signup_id, checked_in_at, method,
                                    walk_in, party_size)
            SELECT s.event_id, s.resident_id, s.id, ev.starts_at + interval '5 minutes',
                   (ARRAY['qr', 'code', 'staff'])[1 + s.id % 3], false, s.party_size
            FROM signup AS s JOIN event AS ev ON ev.id = s.event_id
            WHERE ev.status = 'finished' AND s.status = 'confirmed' AND s.id % 10 < 7
            """,
        ),
        (
            "pushes about needs",
            """
            INSERT INTO outbox (resident_id, recipient_openid, kind, payload, idempotency_key,
                                status, channel, attempts, next_attempt_at, sent_at, created_at)
            SELECT n.resident_id, 'o-console-bench-' || n.resident_id, 'need_status',
                   json_build_object('fields', json_build_object('ref', n.id)),
                   'need_status:' || h.need_id || ':' || h.id, 'sent', 'template', 1,
                   h.created_at, h.created_at + interval '1 minute', h.created_at
            FROM need_history AS h JOIN need AS n ON n.id = h.need_id
            WHERE h.from_status IS NOT NULL
            """,
        ),
        (
            "event reminders",
            """
            INSERT INTO outbox (resident_id, recipient_openid, kind, payload, idempotency_key,
                                status, channel, attempts, next_attempt_at, sent_at, created_at)
            SELECT s.resident_id, 'o-console-bench-' || s.resident_id, 'reminder',
                   json_build_object('fields', json_build_object('event_id', s.event_id)),
                   'reminder:' || s.id, 'sent', 'custom', 1, ev.starts_at - interval '1 day',
                   ev.starts_at - interval '1 day', s.created_at
            FROM signup AS s JOIN event AS ev ON ev.id = s.event_id
            WHERE s.status = 'confirmed' AND s.id % 4 = 0
            """,
        ),
        (
            "id sequences",
            "SELECT "
            + ", ".join(
                f"setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                for table in ("resident", "partner", "need", "event", "signup")
            ),
        ),
    ]


def loaded_counts(engine: Engine) -> dict[str, int]:
    """How many residents, messages, needs, events and sign-ups the database holds."""
    counts = {}
    with engine.connect() as connection:
        for table in ("resident", "inbound_message", "need", "event", "signup"):
            found = connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            counts[table] = int(found)
    return counts


def expected_counts(sizes: Sizes) -> dict[str, int]:
    return {
        "resident": sizes.residents,
        "inbound_message": sizes.messages,
        "need": sizes.needs,
        "event": sizes.events,
        "signup": sizes.signups,
    }


def load(engine: Engine, sizes: Sizes) -> float:
    """Fill the (migrated, empty) database; returns the seconds it took, all told."""
    total = time.perf_counter()
    with bare_tables(engine, LOADED_TABLES):
        for name, statement in load_statements(sizes):
            started = time.perf_counter()
            with engine.begin() as connection:
                connection.execute(text(statement))
                # Statistics for the next statements' plans: without them the planner
                # takes the new tables for nearly empty and joins them by nested loops.
                connection.execute(text("ANALYZE"))
            print(f"  loaded {name:<22} {time.perf_counter() - started:6.1f} s")
    # What autovacuum would soon do: statistics, and the visibility map for index-only scans.
    started = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
    print(f"  vacuum analyze {time.perf_counter() - started:6.1f} s")
    return time.perf_counter() - total
