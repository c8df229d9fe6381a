"""A resident's need, as the chat submits it: stored with its first history row and the
photos still to fetch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from models.needs.errors import NeedError
from models.needs.tables import BY_RESIDENT, Need, NeedHistory, NeedPhoto, NeedStatus, PhotoStatus
from models.residents import Resident
from models.villages.queries import village_named_in


@dataclass(frozen=True)
class PhotoDraft:
    media_id: str
    pic_url: str


def create_need(
    db: Session,
    *,
    resident: Resident,
    category: str,
    description: str,
    now: datetime,
    photos: Sequence[PhotoDraft] = (),
    place: str | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
) -> Need:
    """Store a resident's need with its first history row and its photos to fetch.

    The need is in the village its place names, else in its resident's village.
    """
    description = description.strip()
    if not category:
        raise NeedError("a need needs a category")
    if not description:
        raise NeedError("a need needs a description")
    if resident.privacy_consent_at is None:
        raise NeedError("the resident has not agreed to the privacy notice")
    need = Need(
        resident_id=resident.id,
        category=category,
        description=description,
        status=NeedStatus.SUBMITTED,
        place=(place or "").strip()[:200] or None,
        latitude=latitude,
        longitude=longitude,
        village_id=_village_id(db, resident, place),
        created_at=now,
        updated_at=now,
    )
    db.add(need)
    db.flush()
    db.add(
        NeedHistory(
            need_id=need.id,
            by=BY_RESIDENT,
            from_status=None,
            to_status=NeedStatus.SUBMITTED,
            public=False,
            created_at=now,
        )
    )
    for position, photo in enumerate(photos, start=1):
        db.add(
            NeedPhoto(
                need_id=need.id,
                position=position,
                media_id=photo.media_id,
                pic_url=photo.pic_url,
                status=PhotoStatus.PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
    db.flush()
    return need


def _village_id(db: Session, resident: Resident, place: str | None) -> int | None:
    named = village_named_in(db, place)
    return named.id if named is not None else resident.village_id
