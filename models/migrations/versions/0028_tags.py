"""tags: the managed list of event tags, with a Chinese and an English name each

Revision ID: 0028_tags
Revises: 0027_walk_in_names
Create Date: 2026-12-02

Event tags were free text, so 长者 and elderly were two audiences. A new table, ``tag``,
holds each tag once: a stable ``key``, ``name_zh`` and ``name_en`` (each unique) and
``active``. ``event_tag.tag`` keeps its name and its values and now references
``tag.key``, so the documented "attendance rate by tag" query and saved queries that
group by ``event_tag.tag`` keep working; no view reads event_tag.

Every distinct tag already on an event is carried over as a tag whose key and both names
are its text, until an admin edits them; the four tags the chat used to translate from
the catalog (women, children, elderly, volunteers) keep the Chinese names residents read
before (女性, 儿童, 长者, 志愿者), unless that name is another tag's text already. Going
down drops the reference and the table; the events keep their tags' keys as text.
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028_tags"
down_revision: str | None = "0027_walk_in_names"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MAX_TAG = 32
# The Chinese names the chat's catalog gave these tags (event_tag_<tag>) before 0025.
CHINESE_NAMES = {"women": "女性", "children": "儿童", "elderly": "长者", "volunteers": "志愿者"}


def _compared(name: str) -> str:
    """A name as the tag rules compare names (models/villages/queries.py name_key, as it
    was at 0025): full-width forms folded, case and spaces ignored."""
    return "".join(unicodedata.normalize("NFKC", name).lower().split())


def _carried_over(texts: list[str]) -> list[dict[str, str]]:
    """One tag per distinct text: the key and English name its text, the Chinese name
    the catalog's where there was one and no other tag is called so. A text that only
    case or spaces tell from an earlier one gets a number after its names, so each name
    still leads to one tag."""
    compared_texts = {_compared(text) for text in texts}
    taken: set[str] = set()
    rows = []
    for text in texts:
        name_zh = name_en = text
        catalog_name = CHINESE_NAMES.get(text)
        if catalog_name is not None and _compared(catalog_name) not in compared_texts:
            name_zh = catalog_name
        number = 1
        while {_compared(name_zh), _compared(name_en)} & taken:
            number += 1
            suffix = f" ({number})"
            name_zh = name_en = text[: MAX_TAG - len(suffix)] + suffix
        taken |= {_compared(text), _compared(name_zh), _compared(name_en)}
        rows.append({"key": text, "name_zh": name_zh, "name_en": name_en})
    return rows


def upgrade() -> None:
    tag = op.create_table(
        "tag",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=MAX_TAG), nullable=False),
        sa.Column("name_zh", sa.String(length=MAX_TAG), nullable=False),
        sa.Column("name_en", sa.String(length=MAX_TAG), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tag")),
        sa.UniqueConstraint("key", name=op.f("uq_tag_key")),
        sa.UniqueConstraint("name_en", name=op.f("uq_tag_name_en")),
        sa.UniqueConstraint("name_zh", name=op.f("uq_tag_name_zh")),
    )
    connection = op.get_bind()
    texts = list(
        connection.execute(sa.text("SELECT DISTINCT tag FROM event_tag ORDER BY tag")).scalars()
    )
    rows = [{**row, "active": True} for row in _carried_over(texts)]
    if rows:
        op.bulk_insert(tag, rows)
    with op.batch_alter_table("event_tag", schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f("fk_event_tag_tag_tag"), "tag", ["tag"], ["key"])


def downgrade() -> None:
    with op.batch_alter_table("event_tag", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_event_tag_tag_tag"), type_="foreignkey")
    op.drop_table("tag")
