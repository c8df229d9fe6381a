"""queued mass-send rows store the intent, not WeChat's request JSON

Revision ID: 0013_mass_intent
Revises: 0012_push_vocabulary
Create Date: 2026-12-01

A mass row's payload held WeChat's request body (``request``: msgtype, text, clientmsgid,
and touser or filter) and, for a tag send, ``tag`` (name and openids). Only bot/wechat/
speaks WeChat's JSON now, so a row says what it asks for (models/broadcasts/mass.py
``mass_intent``): ``language`` of its one text, ``target`` ({"to": "all"}, {"to": "tag",
"tag": name, "openids": [...]} or {"to": "openids", "openids": [...]}) and ``send_id``
(what was the clientmsgid). ``text`` and ``fields`` stay as they were.

Rows that may still be sent (pending, failed, held, sending) are converted; sent, dead,
expired and skipped rows are history and keep the shape they were sent with. The
downgrade rebuilds the request the same way fan-out built it.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0013_mass_intent"
down_revision: str | None = "0012_push_vocabulary"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUEUED = ("pending", "failed", "held", "sending")
_OUTBOX = sa.table(
    "outbox",
    sa.column("id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("status", sa.String),
    sa.column("payload", sa.JSON),
)


def _language(request: dict[str, Any], texts: dict[str, str]) -> str:
    """Which text the request carried: both languages, or one of them."""
    content = request["text"]["content"]
    if content == f"{texts['zh']}\n\n{texts['en']}":
        return "both"
    return "en" if content == texts["en"] and content != texts["zh"] else "zh"


def _to_intent(payload: dict[str, Any]) -> dict[str, Any]:
    request = payload["request"]
    if "touser" in request:
        target: dict[str, Any] = {"to": "openids", "openids": list(request["touser"])}
    elif payload.get("tag"):
        tag = payload["tag"]
        target = {"to": "tag", "tag": tag["name"], "openids": list(tag["openids"])}
    else:
        target = {"to": "all"}
    kept = {key: value for key, value in payload.items() if key not in ("request", "tag")}
    return {
        **kept,
        "language": _language(request, payload["text"]),
        "target": target,
        "send_id": request["clientmsgid"],
    }


def _to_request(payload: dict[str, Any]) -> dict[str, Any]:
    texts, language, target = payload["text"], payload["language"], payload["target"]
    content = f"{texts['zh']}\n\n{texts['en']}" if language == "both" else texts[language]
    request: dict[str, Any] = {
        "msgtype": "text",
        "text": {"content": content},
        "clientmsgid": payload["send_id"],
    }
    kept = {
        key: value for key, value in payload.items() if key not in ("language", "target", "send_id")
    }
    if target["to"] == "openids":
        request["touser"] = list(target["openids"])
    elif target["to"] == "tag":
        request["filter"] = {"is_to_all": False}
        kept["tag"] = {"name": target["tag"], "openids": list(target["openids"])}
    else:
        request["filter"] = {"is_to_all": True}
    return {"request": request, **kept}


def _convert(marker: str, change: Any) -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(_OUTBOX.c.id, _OUTBOX.c.payload).where(
            _OUTBOX.c.kind == "mass", _OUTBOX.c.status.in_(QUEUED)
        )
    ).all()
    for row_id, payload in rows:
        if isinstance(payload, dict) and marker in payload:
            connection.execute(
                sa.update(_OUTBOX).where(_OUTBOX.c.id == row_id).values(payload=change(payload))
            )


def upgrade() -> None:
    _convert("request", _to_intent)


def downgrade() -> None:
    _convert("target", _to_request)
