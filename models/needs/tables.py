"""Need tables: needs, their history, their photos; the statuses a need moves through and
the transition table staff moves obey.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAtMixin, check_one_of


class NeedStatus(StrEnum):
    """Where a need is; :data:`TRANSITIONS` says where it may go next."""

    SUBMITTED = "submitted"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    DECLINED = "declined"
    DUPLICATE = "duplicate"


# The statuses of a need still waiting for an outcome.
OPEN_STATUSES = (NeedStatus.SUBMITTED, NeedStatus.ACKNOWLEDGED, NeedStatus.IN_PROGRESS)

# Where a need may go next. Resolved, declined and duplicate are final: a need that comes
# back is a new need (and staff can mark it a duplicate of the old one).
TRANSITIONS: dict[str, frozenset[str]] = {
    NeedStatus.SUBMITTED: frozenset(
        {NeedStatus.ACKNOWLEDGED, NeedStatus.DECLINED, NeedStatus.DUPLICATE}
    ),
    NeedStatus.ACKNOWLEDGED: frozenset(
        {NeedStatus.IN_PROGRESS, NeedStatus.RESOLVED, NeedStatus.DECLINED, NeedStatus.DUPLICATE}
    ),
    NeedStatus.IN_PROGRESS: frozenset(
        {NeedStatus.RESOLVED, NeedStatus.DECLINED, NeedStatus.DUPLICATE}
    ),
    NeedStatus.RESOLVED: frozenset(),
    NeedStatus.DECLINED: frozenset(),
    NeedStatus.DUPLICATE: frozenset(),
}
NEEDS_A_REASON = frozenset({NeedStatus.DECLINED, NeedStatus.DUPLICATE})


class PhotoStatus(StrEnum):
    """A photo waits for the media sweep, is stored, failed for good, or is (being) erased:
    ``erasing`` until the sweep has deleted its file."""

    PENDING = "pending"
    FETCHED = "fetched"
    FAILED = "failed"
    ERASING = "erasing"
    ERASED = "erased"


BY_RESIDENT = "resident"
RESPONSE_TITLE_MAX = 100
RESPONSE_TEXT_MAX = 1000


class Need(CreatedAtMixin, Base):
    __tablename__ = "need"
    __table_args__ = (
        check_one_of("status", NeedStatus),
        Index("ix_need_resident_id_created_at", "resident_id", "created_at"),
        Index("ix_need_status_created_at", "status", "created_at"),
        Index("ix_need_category_created_at", "category", "created_at"),
        Index("ix_need_partner_id_created_at", "partner_id", "created_at"),
        Index("ix_need_village_id_created_at", "village_id", "created_at"),
        Index("ix_need_created_at", "created_at"),
        # The console queue's counts, which leave erased needs out: from the index alone.
        Index(
            "ix_need_unerased_queue_filters",
            "status",
            "category",
            "partner_id",
            "created_at",
            postgresql_where=text("erased_at IS NULL"),
            sqlite_where=text("erased_at IS NULL"),
        ),
        # The console's text search (description ILIKE '%words%'): trigrams, which serve
        # Chinese as well as any language (migration 0021 says why not full-text search).
        Index(
            "ix_need_description_trgm",
            "description",
            postgresql_using="gin",
            postgresql_ops={"description": "gin_trgm_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"))
    category: Mapped[str] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=NeedStatus.SUBMITTED)
    place: Mapped[str | None] = mapped_column(String(200))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("need.id"), index=True)
    updated_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    erased_at: Mapped[datetime | None]
    # The village it is in: the one its place names, else its resident's at submission
    # (models/villages); kept when the resident moves or their data is erased.
    village_id: Mapped[int | None] = mapped_column(ForeignKey("village.id"))
    # How many residents raised it: its own, and those whose needs were merged into it
    # (models/needs/demand.py keeps it, in the transaction that changes who is linked), so
    # the queue sorts by it without counting every need's duplicates first.
    demand: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))

    @property
    def ref(self) -> str:
        return need_ref(self.id)


# The queue sorted by demand, for needs not erased: read in order, stopping at a page,
# whatever the status filter (migration 0024 says why status is not first).
Index(
    "ix_need_unerased_demand",
    Need.demand.desc(),
    Need.created_at,
    Need.id,
    postgresql_where=text("erased_at IS NULL"),
    sqlite_where=text("erased_at IS NULL"),
)


class NeedHistory(CreatedAtMixin, Base):
    __tablename__ = "need_history"
    __table_args__ = (
        check_one_of("from_status", NeedStatus),
        check_one_of("to_status", NeedStatus),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("need.id"), index=True)
    by: Mapped[str] = mapped_column(String(64))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("need.id"))


class NeedPhoto(CreatedAtMixin, Base):
    __tablename__ = "need_photo"
    __table_args__ = (
        check_one_of("status", PhotoStatus),
        UniqueConstraint("need_id", "position"),
        Index("ix_need_photo_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("need.id"))
    position: Mapped[int] = mapped_column(Integer)
    media_id: Mapped[str | None] = mapped_column(String(128))
    pic_url: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=PhotoStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    local_path: Mapped[str | None] = mapped_column(String(300))
    content_type: Mapped[str | None] = mapped_column(String(64))
    fetched_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


def need_ref(need_id: int) -> str:
    """What residents and staff call a need: ``N-000123`` (more digits past 999999)."""
    return f"N-{need_id:06d}"


class ResponseTemplate(CreatedAtMixin, Base):
    """A canned public note for needs of one category, in both languages: staff insert
    the resident's language into the note box and edit it before it is sent."""

    __tablename__ = "need_response_template"
    __table_args__ = (UniqueConstraint("category", "title"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(RESPONSE_TITLE_MAX))
    text_zh: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


SAVED_VIEW_NAME_MAX = 60


class SavedView(CreatedAtMixin, Base):
    """The queue's filters and sort saved by one account under a name it chose.

    ``filters`` holds them as the queue's address carries them (``{"status": "open",
    "sort": "demand"}``, models/needs/queue.py ``filter_values``), checked when saved and
    again when read: a category, a sort or a key a later version no longer knows is left
    out, never an error. A partner account's organisation is never stored: the scope is
    the account's, applied when the view is read, so no saved view can widen it.
    """

    __tablename__ = "saved_view"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    name: Mapped[str] = mapped_column(String(SAVED_VIEW_NAME_MAX))
    filters: Mapped[dict[str, str]] = mapped_column(JSON)
    updated_at: Mapped[datetime]
