"""Who a broadcast reaches: audience specs (all, tag:T, signed-up:ID, attended:ID,
category-interest:C, village:ID), resolved against the residents as they are when it goes out.
A tag is named in either language (models/tags) and kept in the resolved spec as its key."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    func,
    select,
    union,
)
from sqlalchemy.orm import Session

from models.broadcasts.records import BroadcastError
from models.events.errors import EventError
from models.events.queries import get_event
from models.events.tables import LIVE_SIGNUP_STATUSES, Attendance, EventTag, Signup
from models.needs.tables import Need
from models.residents import Resident
from models.tags.errors import TagError
from models.tags.queries import find_tag
from models.tags.tables import Tag
from models.villages.errors import VillageError
from models.villages.queries import get_village, in_village


class AudienceKind(StrEnum):
    """The first part of an audience spec (``tag:women``): whom the argument selects."""

    ALL = "all"
    TAG = "tag"
    SIGNED_UP = "signed-up"
    ATTENDED = "attended"
    CATEGORY_INTEREST = "category-interest"
    # The residents of a village or of one of its groups (models/villages).
    VILLAGE = "village"
    # Residents who wrote to the account (or tapped its menu) within the last N days,
    # counted back from when the audience is resolved: the broadcast's send time.
    WROTE_WITHIN = "wrote-within"


AUDIENCE_HELP = (
    "all, tag:T, signed-up:ID, attended:ID, category-interest:C, village:ID or wrote-within:DAYS"
)
# Audience kinds whose argument is a record's number.
NUMBERED = (AudienceKind.SIGNED_UP, AudienceKind.ATTENDED, AudienceKind.VILLAGE)
# How far back ``wrote-within`` may look: a year of days.
MAX_DAYS = 366


@dataclass(frozen=True, slots=True)
class Recipient:
    resident_id: int
    openid: str
    language: str | None


@dataclass(frozen=True)
class Audience:
    spec: str
    recipients: list[Recipient]
    excluded_unsubscribed: int = 0
    excluded_opted_out: int = 0

    @property
    def size(self) -> int:
        return len(self.recipients)


def parse_audience(spec: str) -> tuple[str, str]:
    """(kind, argument) of an audience spec such as ``tag:women``; one-line error if bad."""
    cleaned = spec.strip()
    kind, colon, argument = cleaned.partition(":")
    kind, argument = kind.strip().lower(), argument.strip()
    if kind == AudienceKind.ALL and not colon:
        return AudienceKind.ALL, ""
    if kind not in tuple(AudienceKind) or kind == AudienceKind.ALL:
        raise BroadcastError(f"--audience {spec!r} is not one of {AUDIENCE_HELP}")
    if not argument:
        raise BroadcastError(f"--audience {spec!r}: say which after the colon, e.g. {kind}:...")
    if kind in NUMBERED and not argument.lstrip("#").isdecimal():
        what = "a village" if kind == AudienceKind.VILLAGE else "an event"
        raise BroadcastError(f"--audience {spec!r}: {argument!r} is not {what} id")
    if kind in NUMBERED:
        argument = str(int(argument.lstrip("#")))
    if kind == AudienceKind.WROTE_WITHIN:
        if not argument.isdecimal() or not 1 <= int(argument) <= MAX_DAYS:
            raise BroadcastError(
                f"--audience {spec!r}: {argument!r} is not a number of days from 1 to {MAX_DAYS}"
            )
        argument = str(int(argument))
    if kind == AudienceKind.CATEGORY_INTEREST:
        argument = argument.lower()
    return kind, argument


def normalize_audience(spec: str) -> str:
    kind, argument = parse_audience(spec)
    return kind if kind == AudienceKind.ALL else f"{kind}:{argument}"


def audience_conditions(
    db: Session, spec: str, now: datetime, categories: Collection[str] | None = None
) -> tuple[str, list[ColumnElement[bool]]]:
    """``spec`` as stored, and the conditions over ``resident`` that select whom it
    names at ``now``, followers or not (see :func:`resolve_audience` for
    ``categories``): what a preview counts and a fan-out writes set-based, without
    reading the residents one by one. A village and a recent message are conditions on
    the resident's own row, the rest a list of ids."""
    kind, argument = parse_audience(spec)
    if kind == AudienceKind.ALL:
        return kind, []
    if kind == AudienceKind.WROTE_WITHIN:
        since = now - timedelta(days=int(argument))
        return f"{kind}:{argument}", [Resident.last_interaction_at >= since]
    if kind == AudienceKind.TAG:
        # Named in either language; kept as its key, which a rename does not change.
        argument = _tag(db, argument).key
    candidates = _candidates(db, kind, argument, categories)
    if kind == AudienceKind.VILLAGE:
        return f"{kind}:{argument}", [candidates]
    return f"{kind}:{argument}", [Resident.id.in_(candidates)]


# Who of an audience a broadcast reaches: followers who have not opted out.
REACHABLE = (Resident.subscribed.is_(True), Resident.broadcast_opt_out.is_(False))


def resolve_audience(
    db: Session, spec: str, now: datetime, categories: Collection[str] | None = None
) -> Audience:
    """The residents ``spec`` reaches now, and how many it leaves out and why.

    ``categories`` (the configured need category keys) makes an unknown category an
    error; unsubscribed residents are counted before opted-out ones, so each excluded
    resident is counted once.
    """
    stored, conditions = audience_conditions(db, spec, now, categories)
    query = select(
        Resident.id,
        Resident.openid,
        Resident.language,
        Resident.subscribed,
        Resident.broadcast_opt_out,
    ).where(*conditions)
    recipients: list[Recipient] = []
    unsubscribed = opted_out = 0
    for resident_id, openid, language, subscribed, opt_out in db.execute(
        query.order_by(Resident.id)
    ):
        if not subscribed:
            unsubscribed += 1
        elif opt_out:
            opted_out += 1
        else:
            recipients.append(Recipient(resident_id, openid, language))
    return Audience(
        spec=stored,
        recipients=recipients,
        excluded_unsubscribed=unsubscribed,
        excluded_opted_out=opted_out,
    )


def _tag(db: Session, name: str) -> Tag:
    try:
        return find_tag(db, name)
    except TagError as error:
        raise BroadcastError(f"--audience tag:{name}: {error}") from None


@dataclass(frozen=True)
class AudienceCount:
    """How many an audience reaches and leaves out, counted by the database: what a
    broadcast records when its rows are written inside the database too."""

    spec: str
    size: int
    excluded_unsubscribed: int
    excluded_opted_out: int


def count_audience(
    db: Session, spec: str, now: datetime, categories: Collection[str] | None = None
) -> AudienceCount:
    """:func:`resolve_audience`'s counts, in one query and without a row per resident."""
    stored, conditions = audience_conditions(db, spec, now, categories)
    unsubscribed = Resident.subscribed.is_(False)
    opted_out = and_(Resident.subscribed.is_(True), Resident.broadcast_opt_out.is_(True))
    size, gone, quiet = db.execute(
        select(
            func.count(case((and_(*REACHABLE), 1))),
            func.count(case((unsubscribed, 1))),
            func.count(case((opted_out, 1))),
        ).where(*conditions)
    ).one()
    return AudienceCount(stored, int(size), int(gone), int(quiet))


def _candidates(db: Session, kind: str, argument: str, categories: Collection[str] | None) -> Any:
    if kind == AudienceKind.TAG:
        tagged = select(EventTag.event_id).where(EventTag.tag == argument)
        return union(
            select(Signup.resident_id).where(
                Signup.event_id.in_(tagged), Signup.status.in_(LIVE_SIGNUP_STATUSES)
            ),
            select(Attendance.resident_id).where(Attendance.event_id.in_(tagged)),
        )
    if kind == AudienceKind.VILLAGE:
        try:
            village = get_village(db, int(argument))
        except VillageError:
            raise BroadcastError(
                f"--audience village:{argument}: there is no village {argument}"
            ) from None
        return in_village(Resident.village_id, village.id)
    if kind in (AudienceKind.SIGNED_UP, AudienceKind.ATTENDED):
        event_id = int(argument)
        try:
            get_event(db, event_id)
        except EventError:
            raise BroadcastError(
                f"--audience {kind}:{event_id}: there is no event {event_id}"
            ) from None
        if kind == AudienceKind.SIGNED_UP:
            return select(Signup.resident_id).where(
                Signup.event_id == event_id, Signup.status.in_(LIVE_SIGNUP_STATUSES)
            )
        return select(Attendance.resident_id).where(Attendance.event_id == event_id)
    if categories is not None and argument not in categories:
        raise BroadcastError(
            f"--audience category-interest:{argument}: unknown category; "
            f"use one of {', '.join(sorted(categories))}"
        )
    return select(Need.resident_id).where(Need.category == argument, Need.resident_id.is_not(None))
