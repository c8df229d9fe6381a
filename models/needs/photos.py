"""Need photos: fetched to local storage by the media sweep, and erased from it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.needs.tables import NeedPhoto, PhotoStatus


def claim_photos(db: Session, now: datetime, limit: int, lease: timedelta) -> list[NeedPhoto]:
    """Photos due for fetching, leased to this caller until ``now + lease``.

    The lease (moving ``next_attempt_at`` on) keeps a second sweeper, or the next run,
    off a photo while it downloads; one that dies mid-download is retried when it ends.
    """
    photos = list(
        db.execute(
            select(NeedPhoto)
            .where(NeedPhoto.status == PhotoStatus.PENDING, NeedPhoto.next_attempt_at <= now)
            .order_by(NeedPhoto.next_attempt_at, NeedPhoto.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    for photo in photos:
        photo.attempts += 1
        photo.next_attempt_at = now + lease
    db.flush()
    return photos


def photo_fetched(
    db: Session, photo_id: int, local_path: str, content_type: str, now: datetime
) -> bool:
    """Record a stored file; False if the photo was erased meanwhile (delete the file)."""
    photo = db.get(NeedPhoto, photo_id, with_for_update=True)
    if photo is None or photo.status != PhotoStatus.PENDING:
        return False
    photo.status = PhotoStatus.FETCHED
    photo.local_path = local_path
    photo.content_type = content_type
    photo.fetched_at = now
    photo.next_attempt_at = None
    photo.last_error = None
    return True


def photo_failed(db: Session, photo_id: int, error: str, retry_at: datetime | None) -> None:
    """Note a failed fetch: tried again at ``retry_at``, or given up when it is None."""
    photo = db.get(NeedPhoto, photo_id, with_for_update=True)
    if photo is None or photo.status != PhotoStatus.PENDING:
        return
    photo.last_error = error[:500]
    if retry_at is None:
        photo.status = PhotoStatus.FAILED
        photo.next_attempt_at = None
    else:
        photo.next_attempt_at = retry_at


def photos_to_erase(db: Session, limit: int) -> list[NeedPhoto]:
    return list(
        db.execute(
            select(NeedPhoto)
            .where(NeedPhoto.status == PhotoStatus.ERASING)
            .order_by(NeedPhoto.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )


def photo_erased(photo: NeedPhoto) -> None:
    photo.status = PhotoStatus.ERASED
    photo.local_path = None
    photo.content_type = None
