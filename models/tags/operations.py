"""Changing the tag list: admins add, rename, deactivate, reactivate and merge tags, each
change audited with its actor in the caller's transaction."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from models.audit import Actor, AuditAction, AuditObject, record
from models.base import rowcount
from models.events.tables import EventTag
from models.tags.errors import TagError
from models.tags.queries import all_tags, tag_names
from models.tags.tables import MAX_TAG, Tag
from models.villages.queries import name_key


def add_tag(db: Session, actor: Actor, name_zh: str, name_en: str, now: datetime) -> Tag:
    """A new tag with both names; its key is made from the English name."""
    zh, en = _valid_names(db, name_zh, name_en, None)
    tag = Tag(key=_new_key(db, en), name_zh=zh, name_en=en, active=True, created_at=now)
    db.add(tag)
    db.flush()
    after = {"key": tag.key, "name_zh": zh, "name_en": en}
    record(db, actor, AuditAction.TAG_ADD, AuditObject.TAG, tag.id, now, after=after)
    return tag


def rename_tag(
    db: Session,
    actor: Actor,
    tag: Tag,
    now: datetime,
    *,
    name_zh: str | None = None,
    name_en: str | None = None,
) -> None:
    """New names for a tag, in either language or both; its key and its events stay."""
    zh, en = _valid_names(
        db,
        tag.name_zh if name_zh is None else name_zh,
        tag.name_en if name_en is None else name_en,
        tag,
    )
    before = {"name_zh": tag.name_zh, "name_en": tag.name_en}
    tag.name_zh, tag.name_en = zh, en
    db.flush()
    after = {"name_zh": zh, "name_en": en}
    record(
        db, actor, AuditAction.TAG_RENAME, AuditObject.TAG, tag.id, now, before=before, after=after
    )


def set_tag_active(db: Session, actor: Actor, tag: Tag, active: bool, now: datetime) -> None:
    """Stop offering a tag for events (its events keep it, a broadcast may still reach
    them), or offer it again."""
    if tag.active == active:
        raise TagError("tag_error_active" if active else "tag_error_inactive", name=tag.label)
    tag.active = active
    action = AuditAction.TAG_ACTIVATE if active else AuditAction.TAG_DEACTIVATE
    record(
        db,
        actor,
        action,
        AuditObject.TAG,
        tag.id,
        now,
        before={"active": not active},
        after={"active": active},
    )


def merge_tag(db: Session, actor: Actor, tag: Tag, into: Tag, now: datetime) -> int:
    """Fold ``tag`` into ``into``: its events carry ``into`` instead, and ``tag`` is
    gone, so its names are free to give ``into``. Returns how many events were re-tagged
    (those that carried both keep one)."""
    if tag.id == into.id:
        raise TagError("tag_error_merge_self", name=tag.label)
    both = select(EventTag.event_id).where(EventTag.tag == into.key)
    db.execute(delete(EventTag).where(EventTag.tag == tag.key, EventTag.event_id.in_(both)))
    moved = rowcount(
        db.execute(update(EventTag).where(EventTag.tag == tag.key).values(tag=into.key))
    )
    tag_id = tag.id
    before = {"key": tag.key, "name_zh": tag.name_zh, "name_en": tag.name_en}
    after = {"into": into.key, "events": moved}
    db.delete(tag)
    db.flush()
    # Events loaded in this session still hold the old rows.
    db.expire_all()
    record(
        db, actor, AuditAction.TAG_MERGE, AuditObject.TAG, tag_id, now, before=before, after=after
    )
    return moved


def _valid_names(db: Session, name_zh: str, name_en: str, own: Tag | None) -> tuple[str, str]:
    """Both names trimmed, if each is a name and neither is a name (or the key) of
    another tag in either language: a name must lead to one tag."""
    names = {"name_zh": " ".join(name_zh.split()), "name_en": " ".join(name_en.split())}
    for field, name in names.items():
        if not name or len(name) > MAX_TAG:
            raise TagError("tag_error_name", field=field, max=MAX_TAG)
    others = [tag for tag in all_tags(db) if own is None or tag.id != own.id]
    for field, name in names.items():
        for other in others:
            if name_key(name) in tag_names(other):
                raise TagError("tag_error_taken", field=field, name=name, tag=other.label)
    return names["name_zh"], names["name_en"]


def _new_key(db: Session, name_en: str) -> str:
    """A key from the English name (lower case, words joined by ``-``), made unique among
    the tags' keys and names with a number when it must be."""
    ascii_name = unicodedata.normalize("NFKD", name_en).encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[: MAX_TAG - 4] or "tag"
    taken = set().union(*(tag_names(tag) for tag in all_tags(db)))
    key, number = base, 1
    while name_key(key) in taken:
        number += 1
        key = f"{base}-{number}"
    return key
