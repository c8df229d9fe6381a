"""The kinds whose queued rows are checked once more for staleness just before sending,
each with its domain's check; one explicit list, imported only by the send-time policy
(models/push/policy.py).

A change that makes pushes stale marks them skipped when it happens (models/push/stale.py);
these checks are the safety net for anything that changed some other way. They live here,
not in the registry, because they are the domain's functions: the registry imports no
domain module, so that every domain module can name its kinds through it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType

from sqlalchemy.orm import Session

from models import reminders
from models.push.registry import PushKind

# Why each of a batch's rows is stale, by outbox id (one query for the whole batch).
StaleCheck = Callable[[Session, Sequence[int]], dict[int, str]]

STALE_CHECKS: Mapping[PushKind, StaleCheck] = MappingProxyType(
    {PushKind.REMINDER: reminders.stale_reminders}
)
