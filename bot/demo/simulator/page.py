"""What the page shows besides the thread: the account's menu and villages, the residents."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from sqlalchemy import select

from bot.config.sections import MenuButton
from bot.demo.simulator.context import current_services, current_simulator
from bot.demo.simulator.deliveries import VILLAGES
from models.residents import Resident

MAX_RESIDENTS_LISTED = 200


def page_config() -> Response:
    simulator = current_simulator()
    return jsonify(
        account="爱乡共建俱乐部",
        menu=[_button_json(button) for button in current_services().config.menu.buttons],
        villages=[{"index": i, "name": v.name, "label": v.label} for i, v in enumerate(VILLAGES)],
        safe_mode_available=bool(simulator.payloads.encoding_aes_key),
    )


def _button_json(button: MenuButton) -> dict[str, Any]:
    return {
        "name": button.name,
        "key": button.key,
        "url": button.url,
        "sub_buttons": [_button_json(sub) for sub in button.sub_buttons],
    }


def residents() -> Response:
    """The newest residents, oldest first, and the one the page has ``selected`` however
    old: a reload that did not find it would silently switch the page to another."""
    selected = request.args.get("selected", "")
    with current_services().session_factory() as db:
        rows = list(
            db.execute(
                select(Resident).order_by(Resident.id.desc()).limit(MAX_RESIDENTS_LISTED)
            ).scalars()
        )
        if selected and all(r.openid != selected for r in rows):
            rows.extend(db.execute(select(Resident).where(Resident.openid == selected)).scalars())
        rows.sort(key=lambda r: r.id)
        return jsonify(
            [
                {
                    "openid": r.openid,
                    "name": r.name or "",
                    "subscribed": r.subscribed,
                    "language": r.language or "",
                }
                for r in rows
            ]
        )
