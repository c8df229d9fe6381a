"""Reading tags: the list, and a tag as people name it.

Staff name a tag by either language's name (长者 or elderly, English without regard to
case), and the console's pickers by its key; :func:`find_tag` takes all three, so the
CLI, the console and a broadcast's ``tag:T`` reach the same tag whichever name is typed.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.tags.errors import TagError
from models.tags.tables import MAX_TAG, Tag
from models.villages.queries import name_key


def tag_names(tag: Tag) -> set[str]:
    """The names a tag answers to, as typed names are compared with them."""
    return {name_key(tag.key), name_key(tag.name_zh), name_key(tag.name_en)}


def all_tags(db: Session) -> list[Tag]:
    """Every tag, inactive ones too, in the order they were added: what admins list and
    what lists of events filter by."""
    return list(db.execute(select(Tag).order_by(Tag.id)).scalars())


def active_tags(db: Session) -> list[Tag]:
    """The tags an event may be given."""
    return [tag for tag in all_tags(db) if tag.active]


def find_tag(db: Session, name: str) -> Tag:
    """The tag ``name`` names in either language (or its key); an unknown name is
    refused with the names of every tag there is."""
    typed = name_key(name)
    if not typed:
        raise TagError("tag_error_name", max=MAX_TAG)
    tags = all_tags(db)
    for tag in tags:
        if typed in tag_names(tag):
            return tag
    known = ", ".join(tag.label for tag in tags)
    raise TagError("tag_error_unknown", name=name.strip(), known=known or "—")


def find_tags(db: Session, names: Iterable[str]) -> list[Tag]:
    """The tags of several names, each once, in the order first named."""
    found: list[Tag] = []
    for name in names:
        tag = find_tag(db, name)
        if tag not in found:
            found.append(tag)
    return found
