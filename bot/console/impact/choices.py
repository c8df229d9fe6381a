"""What a person narrowed the dashboard to, read from the query string: a period (this
month unless chosen), a village, an event tag (its key, from the tag list). Bad input is
one sentence on the page, never a guess."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from werkzeug.datastructures import MultiDict

from bot.console.context import services
from models.impact.period import Period, PeriodKind, current_value, period_bounds
from models.tags.tables import MAX_TAG


@dataclass(frozen=True)
class Choices:
    """The form as sent back to the page and to each download link."""

    kind: str
    value: str
    start: str
    end: str
    village: str
    tag: str

    def args(self) -> dict[str, str]:
        return {
            "period": self.kind,
            "value": self.value,
            "start": self.start,
            "end": self.end,
            "village": self.village,
            "tag": self.tag,
        }


def read_choices(args: MultiDict[str, str], now: datetime) -> Choices:
    tz = services().config.bot.tz
    kind = args.get("period", PeriodKind.MONTH).strip()
    value = args.get("value", "").strip()
    if not value and kind in tuple(PeriodKind) and kind != PeriodKind.CUSTOM:
        value = current_value(PeriodKind(kind), now.astimezone(tz).date())
    return Choices(
        kind,
        value,
        args.get("start", "").strip(),
        args.get("end", "").strip(),
        args.get("village", "").strip(),
        args.get("tag", "").strip()[:MAX_TAG],
    )


def chosen_period(choices: Choices, now: datetime) -> Period:
    """The period so far; :class:`PeriodError` when the form names none."""
    tz = services().config.bot.tz
    period = period_bounds(choices.kind, choices.value, tz, choices.start, choices.end)
    return period.until(now)
