"""Response templates: canned public notes per need category, kept by admins (audited).

A template holds both languages; the console inserts the one the resident reads into a
need's note box, where staff edit it before sending, so what reaches the resident is
always the note as sent, not the template.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.audit import Actor, AuditAction, AuditObject, record
from models.needs.categories import CategoryName, category_names
from models.needs.errors import NeedRefusal
from models.needs.tables import RESPONSE_TEXT_MAX, RESPONSE_TITLE_MAX, ResponseTemplate


def response_templates(db: Session, category: str | None = None) -> list[ResponseTemplate]:
    """Every template (or one category's), by category then title."""
    query = select(ResponseTemplate).order_by(ResponseTemplate.category, ResponseTemplate.title)
    if category is not None:
        query = query.where(ResponseTemplate.category == category)
    return list(db.execute(query).scalars())


def save_template(
    db: Session,
    actor: Actor,
    *,
    category: str,
    title: str,
    text_zh: str,
    text_en: str,
    known: Iterable[CategoryName],
    now: datetime,
    template: ResponseTemplate | None = None,
) -> ResponseTemplate:
    """Add a template, or change ``template``: a known category, a title unique in it,
    and both texts."""
    title, text_zh, text_en = title.strip(), text_zh.strip(), text_en.strip()
    names = category_names(known)
    if category not in names:
        raise NeedRefusal("need_error_category", category=category)
    if not title or len(title) > RESPONSE_TITLE_MAX:
        raise NeedRefusal("need_error_template_title", max=RESPONSE_TITLE_MAX)
    if not text_zh or not text_en:
        raise NeedRefusal("need_error_template_texts")
    if max(len(text_zh), len(text_en)) > RESPONSE_TEXT_MAX:
        raise NeedRefusal("need_error_template_long", max=RESPONSE_TEXT_MAX)
    clash = db.execute(
        select(ResponseTemplate.id).where(
            ResponseTemplate.category == category, ResponseTemplate.title == title
        )
    ).scalar_one_or_none()
    if clash is not None and (template is None or clash != template.id):
        raise NeedRefusal("need_error_template_taken", category=names[category], title=title)
    before = None if template is None else _values(template)
    if template is None:
        template = ResponseTemplate(created_at=now)
        db.add(template)
    template.category = category
    template.title = title
    template.text_zh = text_zh
    template.text_en = text_en
    template.updated_at = now
    db.flush()
    record(
        db,
        actor,
        AuditAction.TEMPLATE_SAVE,
        AuditObject.TEMPLATE,
        template.id,
        now,
        before=before,
        after=_values(template),
    )
    return template


def delete_template(db: Session, actor: Actor, template: ResponseTemplate, now: datetime) -> None:
    record(
        db,
        actor,
        AuditAction.TEMPLATE_DELETE,
        AuditObject.TEMPLATE,
        template.id,
        now,
        before=_values(template),
    )
    db.delete(template)
    db.flush()


def _values(template: ResponseTemplate) -> dict[str, str]:
    return {
        "category": template.category,
        "title": template.title,
        "text_zh": template.text_zh,
        "text_en": template.text_en,
    }
