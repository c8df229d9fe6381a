"""Reading villages: the list residents choose from, a name as a resident or staff types
it, a village named in a need's place, and the filter lists narrow by.

Residents answer "which village?" loosely, so :func:`match_village` takes a number, the
exact name, or a unique start or part of one; staff name a village exactly
(:func:`find_village`), since a command or a form that guessed could change the wrong one.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, exists, or_, select
from sqlalchemy.orm import QueryableAttribute, Session, aliased

from models.base import ID_MAX
from models.villages.errors import VillageError
from models.villages.tables import GROUP_SEPARATOR, Village


@dataclass(frozen=True)
class VillageEntry:
    """A village, or a group with its village's name: one line of a list."""

    id: int
    village: str
    group: str | None = None
    retired: bool = False

    @property
    def label(self) -> str:
        """朝阳村, or 朝阳村·一组 for a group."""
        if self.group is None:
            return self.village
        return f"{self.village}{GROUP_SEPARATOR}{self.group}"

    @property
    def key(self) -> str:
        """The label as typed answers are compared with it."""
        return name_key(self.label)


def name_key(text: str) -> str:
    """A name as answers are compared: full-width forms folded, case, spaces and the
    group separator ignored, so 朝阳村 一组, 朝阳村一组 and 朝阳村·一组 are one name."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return "".join(folded.split()).replace(GROUP_SEPARATOR, "")


_PARENT = aliased(Village)


def _entries(db: Session, query: Select[Village, Village | None]) -> list[VillageEntry]:
    """Villages each followed by their groups, in the order they were added."""
    rows = []
    for row, parent in db.execute(query):
        if parent is None:
            entry = VillageEntry(row.id, row.name, None, row.retired_at is not None)
            rows.append(((row.id, 0), entry))
        else:
            retired = row.retired_at is not None or parent.retired_at is not None
            rows.append(((parent.id, row.id), VillageEntry(row.id, parent.name, row.name, retired)))
    return [entry for _, entry in sorted(rows, key=lambda pair: pair[0])]


def _with_parents() -> Select[Village, Village | None]:
    return select(Village, _PARENT).outerjoin(_PARENT, _PARENT.id == Village.parent_id)


def all_villages(db: Session) -> list[VillageEntry]:
    """Every village and group, retired ones included (marked): what staff list."""
    return _entries(db, _with_parents())


def active_villages(db: Session) -> list[VillageEntry]:
    """The villages and groups residents may choose, numbered in this order."""
    query = _with_parents().where(Village.retired_at.is_(None), _PARENT.retired_at.is_(None))
    return _entries(db, query)


def has_villages(db: Session) -> bool:
    """Whether there is any village to choose: with none, no resident is ever asked."""
    return bool(db.execute(select(exists().where(Village.retired_at.is_(None)))).scalar())


def village_entry(db: Session, village_id: int | None) -> VillageEntry | None:
    """The entry of one village or group (a retired one too), or None."""
    if village_id is None:
        return None
    query = _with_parents().where(Village.id == village_id)
    found = _entries(db, query)
    return found[0] if found else None


def match_village(entries: Sequence[VillageEntry], answer: str) -> list[VillageEntry]:
    """What a resident's answer names: its number in ``entries``, else the entries whose
    name is the answer, else starts with it, else holds it. One entry is a choice; none
    or several (each said back to the resident) are not.

    A village is broader than its groups: when it matches with some of them (朝阳 names
    朝阳村 and 朝阳村·一组), the village is meant.
    """
    typed = name_key(answer)
    if not typed:
        return []
    if typed.isdecimal():
        number = int(typed)
        return [entries[number - 1]] if 1 <= number <= len(entries) else []
    for test in (str.__eq__, str.startswith, str.__contains__):
        found = [entry for entry in entries if test(entry.key, typed)]
        if found:
            return _broadest(found)
    return []


def _broadest(found: list[VillageEntry]) -> list[VillageEntry]:
    """The matches without the groups of a village that matched too."""
    villages = {entry.village for entry in found if entry.group is None}
    return [entry for entry in found if entry.group is None or entry.village not in villages]


def village_named_in(db: Session, place: str | None) -> VillageEntry | None:
    """The one active village or group a need's place names (老街, 朝阳村一组), or None.

    A place that names a group names its village too; the group, more precise, is taken.
    """
    if not place:
        return None
    text = name_key(place)
    named = [entry for entry in active_villages(db) if entry.key in text]
    groups = {entry.village for entry in named if entry.group is not None}
    precise = [entry for entry in named if entry.group is not None or entry.village not in groups]
    return precise[0] if len(precise) == 1 else None


def find_village(db: Session, name: str) -> Village:
    """The village or group staff name exactly: 朝阳村, or 朝阳村·一组 for a group, or a
    group's name alone when no other village or group has it."""
    typed = name_key(name)
    entries = all_villages(db)
    found = [entry for entry in entries if entry.key == typed]
    if not found:
        found = [entry for entry in entries if entry.group and name_key(entry.group) == typed]
    if not found:
        raise VillageError("village_error_unknown", name=name.strip())
    if len(found) > 1:
        raise VillageError("village_error_ambiguous", name=name.strip())
    return db.get_one(Village, found[0].id)


def get_village(db: Session, village_id: int) -> Village:
    """A village by its number, as the console's forms give it."""
    village = db.get(Village, village_id) if 0 < village_id <= ID_MAX else None
    if village is None:
        raise VillageError("village_error_unknown", name=str(village_id))
    return village


def in_village(column: QueryableAttribute[int | None], village_id: int) -> ColumnElement[bool]:
    """A WHERE clause for a list narrowed to one village: ``column`` (a need's, an
    event's or a resident's ``village_id``) names the village or one of its groups.

    For the needs workbench, the inbox and any list or export:
    ``select(Need).where(in_village(Need.village_id, chosen))``.
    """
    groups = select(Village.id).where(Village.parent_id == village_id)
    return or_(column == village_id, column.in_(groups))
