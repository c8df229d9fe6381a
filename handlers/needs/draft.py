"""A need as the resident tells it, kept in the flow state until they confirm."""

from __future__ import annotations

from dataclasses import dataclass, field

from handlers.context import Context
from handlers.flows import Draft, ttl_minutes


@dataclass
class NeedDraft(Draft):
    """A need as the resident tells it; the keys are those need drafts were stored with."""

    category: str = ""
    text: str = ""
    # [media_id, pic_url] pairs, as JSON gives them back.
    photos: list[list[str]] = field(default_factory=list)
    place: str | None = None
    lat: float | None = None
    lng: float | None = None


def draft_expired(ctx: Context, draft: Draft) -> str:
    """Why a need draft (or an erasure question) older than the flow TTL was dropped."""
    return ctx.t("need_expired", minutes=ttl_minutes(ctx))


def draft_kept(ctx: Context, draft: Draft) -> str:
    """The line added when the resident goes elsewhere mid-draft: it waits for 需求."""
    return ctx.t("need_kept", minutes=ttl_minutes(ctx))
