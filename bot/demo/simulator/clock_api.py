"""The demo's clock on the page: read it, or move it forward to when something falls due."""

from __future__ import annotations

from datetime import datetime

import click
from flask import Response, jsonify, request

from bot.cli.support import parse_local_time
from bot.demo.simulator.clock import SimulatedClock
from bot.demo.simulator.context import SimulatorError, current_services


def clock_now() -> Response:
    return _clock_json(_clock())


def clock_advance() -> Response:
    """Move the demo's clock forward, e.g. to the moment a reminder falls due: by
    ``hours``, or to the local time ``at`` ("2026-06-01T09:30") in one step."""
    clock = _clock()
    data = request.get_json(silent=True)
    hours = data.get("hours") if isinstance(data, dict) else None
    at = data.get("at") if isinstance(data, dict) else None
    try:
        if isinstance(at, str):
            clock.advance_to(_local_time(at))
        elif isinstance(hours, int | float) and not isinstance(hours, bool):
            clock.advance_hours(hours)
        else:
            raise SimulatorError(
                400, 'send a JSON object such as {"hours": 24} or {"at": "2026-06-01T09:30"}'
            )
    except ValueError as exc:
        raise SimulatorError(400, str(exc)) from None
    return _clock_json(clock)


def _local_time(text: str) -> datetime:
    """A time typed on the page, read in the club's time zone as staff commands read it."""
    try:
        return parse_local_time(text, current_services().config.bot.tz, "at")
    except click.UsageError as exc:
        raise SimulatorError(400, exc.format_message()) from None


def _clock() -> SimulatedClock:
    clock = current_services().clock
    if not isinstance(clock, SimulatedClock):
        raise SimulatorError(404, "this app's clock cannot be moved (only the demo's can)")
    return clock


def _clock_json(clock: SimulatedClock) -> Response:
    local = clock().astimezone(current_services().config.bot.tz)
    return jsonify(
        now=local.strftime("%Y-%m-%d %H:%M"),
        ahead_hours=round(clock.offset.total_seconds() / 3600, 2),
    )
