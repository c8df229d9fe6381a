"""The console's needs queue: filters, sorts and pages over needs, for staff and for a
partner's own organisation.

One :class:`QueueFilter` holds what a person narrowed the queue to, read from the
queue's address or a saved view by :func:`read_filter` (which checks each value, so an
edited address or an old saved view shows a page, never an error); :func:`queue_page`
turns it into one page of rows and the count of all that match, through the same
conditions, so the count and the rows never disagree. A partner account's queue is
scoped here (``QueueFilter.scope_partner_id``), not in the view, so no page can forget it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, func, or_, select, true
from sqlalchemy.orm import Session

from models.base import ID_MAX, SelectT, is_id, page_count
from models.needs.queries import parse_ref
from models.needs.tables import OPEN_STATUSES, Need, NeedStatus
from models.partners import Partner
from models.villages.queries import in_village

PAGE_SIZE = 25
# The status filter's value for every need still waiting for an outcome.
OPEN = "open"
# The partner filter's value for needs no partner has yet.
UNASSIGNED = "none"
SEARCH_MAX = 100
MAX_AGE_DAYS = 3650


class QueueSort(StrEnum):
    """How the queue is ordered."""

    WAITING = "waiting"  # waiting longest first
    NEWEST = "newest"
    DEMAND = "demand"  # most residents affected ("me too") first, then waiting longest


@dataclass(frozen=True)
class QueueFilter:
    """What the queue shows; an empty field narrows nothing.

    ``partner`` is a partner's id as text, or :data:`UNASSIGNED`; ``scope_partner_id``
    is set for a partner account and cannot be widened by the other fields; ``village_id``
    takes the village's groups along.
    """

    status: str = OPEN
    category: str = ""
    village_id: int | None = None
    partner: str = ""
    text: str = ""
    min_age_days: int | None = None
    over_time: bool = False
    sort: QueueSort = QueueSort.WAITING
    scope_partner_id: int | None = None

    def scoped(self, partner_id: int | None) -> QueueFilter:
        return replace(self, scope_partner_id=partner_id)


class FilterKey(StrEnum):
    """The filters' names in the queue's address and in a saved view."""

    STATUS = "status"
    CATEGORY = "category"
    VILLAGE = "village"
    PARTNER = "partner"
    TEXT = "q"
    AGE = "age"
    OVER_TIME = "over"
    SORT = "sort"


@dataclass(frozen=True)
class ReadFilter:
    """A filter as read, and the keys whose values were left out as not (or no longer)
    one of the choices."""

    wanted: QueueFilter
    dropped: tuple[FilterKey, ...]


def read_filter(
    values: Mapping[str, object], categories: Collection[str], scope_partner_id: int | None
) -> ReadFilter:
    """The filter ``values`` give (the address's or a saved view's): a value that is not
    one of the choices narrows nothing and is named in ``dropped``; without a status the
    queue shows open needs. A partner account's queue is its own organisation's, so a
    partner filter means nothing to it (and is dropped)."""
    dropped: list[FilterKey] = []

    def chosen(key: FilterKey, choices: Collection[str], default: str = "") -> str:
        value = values.get(key, default)
        if value == "" or (isinstance(value, str) and value in choices):
            return value
        dropped.append(key)
        return default

    def number(key: FilterKey, most: int) -> int | None:
        value = values.get(key, "")
        if isinstance(value, str) and not value.strip():
            return None
        if isinstance(value, str) and value.strip().isdecimal() and int(value) <= most:
            return int(value)
        dropped.append(key)
        return None

    text = values.get(FilterKey.TEXT, "")
    if not isinstance(text, str):
        dropped.append(FilterKey.TEXT)
        text = ""
    partner = values.get(FilterKey.PARTNER, "")
    if partner and (scope_partner_id is not None or not (partner == UNASSIGNED or is_id(partner))):
        dropped.append(FilterKey.PARTNER)
        partner = ""
    sort = chosen(FilterKey.SORT, tuple(QueueSort))
    wanted = QueueFilter(
        status=chosen(FilterKey.STATUS, (OPEN, *NeedStatus), OPEN),
        category=chosen(FilterKey.CATEGORY, categories),
        village_id=number(FilterKey.VILLAGE, ID_MAX),
        partner=str(partner),
        text=text[:SEARCH_MAX],
        min_age_days=number(FilterKey.AGE, MAX_AGE_DAYS),
        over_time=chosen(FilterKey.OVER_TIME, ("1",)) == "1",
        sort=QueueSort(sort) if sort else QueueSort.WAITING,
        scope_partner_id=scope_partner_id,
    )
    return ReadFilter(wanted, tuple(key for key in FilterKey if key in dropped))


def filter_values(wanted: QueueFilter) -> dict[str, str]:
    """The filter as the address carries it and a saved view keeps it (only what
    narrows, and the status always: without it the queue shows open needs)."""
    values = {
        FilterKey.STATUS: wanted.status,
        FilterKey.CATEGORY: wanted.category,
        FilterKey.VILLAGE: "" if wanted.village_id is None else str(wanted.village_id),
        FilterKey.PARTNER: wanted.partner,
        FilterKey.TEXT: wanted.text,
        FilterKey.AGE: "" if wanted.min_age_days is None else str(wanted.min_age_days),
        FilterKey.OVER_TIME: "1" if wanted.over_time else "",
        FilterKey.SORT: wanted.sort if wanted.sort != QueueSort.WAITING else "",
    }
    return {str(key): value for key, value in values.items() if value or key == FilterKey.STATUS}


@dataclass(frozen=True)
class AckDeadlines:
    """Days a need of each category may wait for acknowledgement; ``default`` for a
    category the config no longer lists (a need keeps the category it was filed under)."""

    by_category: Mapping[str, int]
    default: int

    def days(self, category: str) -> int:
        return self.by_category.get(category, self.default)


@dataclass(frozen=True)
class QueueRow:
    need: Need
    partner: str | None
    demand_count: int
    over_time: bool


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return page_count(self.total, self.page_size)


def waiting_too_long(deadlines: AckDeadlines, now: datetime) -> ColumnElement[bool]:
    """Needs still unacknowledged past their category's deadline: one condition per
    configured category, and the default for the rest."""
    known = list(deadlines.by_category)
    per_category = [
        and_(Need.category == key, Need.created_at < now - timedelta(days=days))
        for key, days in deadlines.by_category.items()
    ]
    others = and_(
        Need.category.not_in(known) if known else true(),
        Need.created_at < now - timedelta(days=deadlines.default),
    )
    return and_(
        Need.status == NeedStatus.SUBMITTED,
        Need.acknowledged_at.is_(None),
        or_(*per_category, others),
    )


def is_over_time(need: Need, deadlines: AckDeadlines, now: datetime) -> bool:
    """The same rule as :func:`waiting_too_long`, for one need already loaded."""
    return (
        need.status == NeedStatus.SUBMITTED
        and need.acknowledged_at is None
        and need.created_at < now - timedelta(days=deadlines.days(need.category))
    )


def description_holds(text: str) -> ColumnElement[bool]:
    """Needs whose description contains ``text``, in any letter case.

    On PostgreSQL this is ``ILIKE`` for words with letters that have a case and ``LIKE``
    for the rest (Chinese, digits): both use the trigram index for 3 characters and more
    (migration 0021), but a shorter text reads the table, where ``ILIKE`` costs 3 to 4
    times ``LIKE`` per row (bench/README.md, Console). On SQLite ``icontains`` compares
    lower() of both sides.
    """
    if text.lower() == text.upper():
        return Need.description.contains(text, autoescape=True)
    return Need.description.icontains(text, autoescape=True)


def narrowed(
    query: SelectT, wanted: QueueFilter, deadlines: AckDeadlines, now: datetime
) -> SelectT:
    """The filter's conditions, once for the page and its count. Needs whose resident
    erased their data are not work any more and stay out."""
    query = query.where(Need.erased_at.is_(None))
    if wanted.scope_partner_id is not None:
        query = query.where(Need.partner_id == wanted.scope_partner_id)
    if wanted.status == OPEN:
        query = query.where(Need.status.in_(OPEN_STATUSES))
    elif wanted.status:
        query = query.where(Need.status == wanted.status)
    if wanted.category:
        query = query.where(Need.category == wanted.category)
    if wanted.village_id is not None:
        query = query.where(in_village(Need.village_id, wanted.village_id))
    if wanted.partner == UNASSIGNED:
        query = query.where(Need.partner_id.is_(None))
    elif wanted.partner.isdecimal():
        query = query.where(Need.partner_id == int(wanted.partner))
    text = wanted.text.strip()[:SEARCH_MAX]
    if text:
        query = query.where(description_holds(text))
    if wanted.min_age_days is not None:
        query = query.where(Need.created_at <= now - timedelta(days=wanted.min_age_days))
    if wanted.over_time:
        query = query.where(waiting_too_long(deadlines, now))
    return query


def queue_order(query: SelectT, sort: QueueSort) -> SelectT:
    """The queue's order, for its pages and its export alike."""
    if sort == QueueSort.DEMAND:
        # ix_need_unerased_demand holds this order: the page is read, not sorted.
        return query.order_by(Need.demand.desc(), Need.created_at, Need.id)
    if sort == QueueSort.NEWEST:
        return query.order_by(Need.created_at.desc(), Need.id.desc())
    return query.order_by(Need.created_at, Need.id)


def queue_page(
    db: Session,
    wanted: QueueFilter,
    deadlines: AckDeadlines,
    now: datetime,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> QueuePage:
    """One page of the queue in the filter's order, and how many needs match in all."""
    page = max(1, page)
    query = queue_order(
        narrowed(
            select(Need, Partner.name).outerjoin(Partner, Partner.id == Need.partner_id),
            wanted,
            deadlines,
            now,
        ),
        wanted.sort,
    )
    rows = db.execute(query.offset((page - 1) * page_size).limit(page_size)).all()
    total = db.execute(
        narrowed(select(func.count()).select_from(Need), wanted, deadlines, now)
    ).scalar_one()
    return QueuePage(
        [
            QueueRow(need, partner, need.demand, is_over_time(need, deadlines, now))
            for need, partner in rows
        ],
        int(total),
        page,
        page_size,
    )


def matching_needs(
    db: Session, text: str, exclude: Need, scope_partner_id: int | None, limit: int = 10
) -> list[Need]:
    """Needs whose words contain ``text`` (or whose ref it is), for picking the original
    of a duplicate: never ``exclude`` itself, nor a need already marked a duplicate."""
    text = text.strip()[:SEARCH_MAX]
    if not text:
        return []
    query = select(Need).where(
        Need.id != exclude.id,
        Need.erased_at.is_(None),
        Need.status != NeedStatus.DUPLICATE,
    )
    if scope_partner_id is not None:
        query = query.where(Need.partner_id == scope_partner_id)
    words = description_holds(text)
    need_id = parse_ref(text)
    if need_id is not None:
        words = or_(words, Need.id == need_id)
    return list(
        db.execute(
            query.where(words).order_by(Need.created_at.desc(), Need.id.desc()).limit(limit)
        ).scalars()
    )
