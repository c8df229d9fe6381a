"""The tag table: one audience events are for, named in both languages.

``key`` is the tag's stable name in data: ``event_tag.tag`` holds it, so saved queries
that group by ``event_tag.tag`` keep working when an admin renames a tag, and a broadcast
scheduled to ``tag:<key>`` still reaches the same residents. People never type the key
(they name a tag in either language); it is made from the English name when the tag is
added, and tags carried over from the free-text days keep their old text as key.

Each name is unique in its own column here; that no name (or key) of one tag is a name
of another in either language, compared without case, is the operations' rule
(models/tags/operations.py), so a name always resolves to one tag. A tag no longer
offered is made inactive, not deleted: the events that carry it keep it.
"""

from __future__ import annotations

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAtMixin
from texts.catalog import Language

MAX_TAG = 32


class Tag(CreatedAtMixin, Base):
    __tablename__ = "tag"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(MAX_TAG), unique=True)
    name_zh: Mapped[str] = mapped_column(String(MAX_TAG), unique=True)
    name_en: Mapped[str] = mapped_column(String(MAX_TAG), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    def name(self, language: str) -> str:
        """The name a reader of ``language`` reads (English for any other language)."""
        return self.name_zh if language == Language.ZH else self.name_en

    @property
    def label(self) -> str:
        """Both names, as a list of tags for either reader says them: 长者/elderly."""
        if self.name_zh == self.name_en:
            return self.name_zh
        return f"{self.name_zh}/{self.name_en}"
