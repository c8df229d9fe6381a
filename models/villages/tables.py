"""The village table: a village or community, or a group (组) within one.

A group is a village row with a ``parent_id``; there is one level of groups, no deeper.
A name is unique among the villages, and among the groups of one village (each village
may have its 一组). A village no longer worked in is retired, not deleted: the needs,
events and residents that name it keep it, and residents are no longer offered it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAtMixin

MAX_VILLAGE_NAME = 50
# How a group is shown after its village's name: 朝阳村·一组.
GROUP_SEPARATOR = "·"
TOP_LEVEL = text("parent_id IS NULL")


class Village(CreatedAtMixin, Base):
    __tablename__ = "village"
    __table_args__ = (
        UniqueConstraint("parent_id", "name"),
        # Groups are kept apart by the constraint above; villages (no parent) by this one,
        # since NULL parents never collide in a unique constraint.
        Index(
            "uq_village_name_top_level",
            "name",
            unique=True,
            sqlite_where=TOP_LEVEL,
            postgresql_where=TOP_LEVEL,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(MAX_VILLAGE_NAME))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("village.id"), index=True)
    retired_at: Mapped[datetime | None]
